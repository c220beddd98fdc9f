"""``python -m rigl_np vectors OUT_DIR``: the conformance vectors pass as written, and each
answer under another convention is what verify explains by that convention (or, where it is
also one of rigl_np's tie choices, calls equivalent)."""
import json

import numpy as np
import pytest

from rigl_np import cli
from rigl_np.verify import fileformat, verify_paths
from rigl_np.verify.conventions import SWITCH
from rigl_np.verify.layers import split_key
from rigl_np.verify.save import save_update


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    out = tmp_path_factory.mktemp("vectors")
    assert cli.main(["vectors", str(out)]) == 0
    return out


def read(path):
    with fileformat.Archive(path) as a:
        return {k: a.array(k) for k in a.keys()}


def test_the_vectors_cover_the_hard_cases_and_pass_as_written(vectors):
    index = json.loads((vectors / "vectors.json").read_text())["vectors"]
    cases = {v["case"] for v in index}
    assert {"ties_at_threshold", "all_zero_gradient", "zero_valued_active_weights", "k_zero",
            "f_one", "density_one", "conv_kernel_4d", "dropped_must_return",
            "srigl_ablation", "srigl_output_layer"} <= cases
    results, errors, n = verify_paths([vectors])
    assert not errors and n == len(index) == len(results)
    assert {r.verdict for r in results} == {"identical"}


def test_each_answer_is_explained_by_its_convention(vectors, tmp_path):
    checked = 0
    for path in sorted(vectors.glob("*.npz")):
        data = read(path)
        labels = {k.split("/")[1] for k in data if k.startswith("answer/")}
        inputs = {k: v for k, v in data.items() if split_key(k) is not None
                  and k not in ("new_mask", "new_weight")}
        for label in labels:
            switch, choice = label.split("=")
            theirs = {"new_mask": data[f"answer/{label}/new_mask"],
                      "new_weight": data[f"answer/{label}/new_weight"]}
            layout = str(inputs.pop("layout"))
            inputs.pop("format_version", None)
            file = save_update(tmp_path / f"{path.stem}_{label}.npz", layout=layout, **inputs,
                               **theirs)
            inputs["layout"] = layout
            cause = "regrown_reset" if switch == "regrown" else SWITCH[switch].cause
            [r], _, _ = verify_paths([file])
            # (where every choice is a tie, as with an all-zero gradient, the answer under the
            # convention is also one of rigl_np's tie choices: equivalent)
            assert (r.verdict == "explained" and cause in r.causes) or \
                r.verdict == "equivalent", (path.name, label, r.detail)
            [r], _, _ = verify_paths([file], {switch: choice})
            assert r.accepted, (path.name, label, r.detail)
            checked += 1
    assert checked >= 20


def test_the_vectors_are_the_same_every_time(vectors, tmp_path):
    assert cli.main(["vectors", str(tmp_path)]) == 0
    for path in sorted(vectors.glob("*.npz")):
        ours, again = read(path), read(tmp_path / path.name)
        assert ours.keys() == again.keys()
        assert all(np.array_equal(ours[k], again[k]) for k in ours)


def test_vectors_into_a_file_is_exit_2(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert cli.main(["vectors", str(tmp_path / "f")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_vectors_never_write_over_a_folder_that_holds_files(vectors, tmp_path, capsys):
    answer = tmp_path / "00_ties_at_threshold.npz"
    answer.write_bytes(b"a project's answer")                    # what must not be lost
    assert cli.main(["vectors", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert answer.read_bytes() == b"a project's answer"
    assert cli.main(["vectors", "--overwrite", str(tmp_path)]) == 0
    assert answer.read_bytes() != b"a project's answer"
