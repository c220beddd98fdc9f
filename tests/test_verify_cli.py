"""The ``verify`` command line: folders, whole models, text and JSON, exit codes, --help, and
``check-update FILE`` being ``verify FILE``."""
import json
import math

import numpy as np
import pytest

from rigl_np import cli
from rigl_np.rigl import rigl_update
from rigl_np.verify import save_update
from rigl_np.verify.conventions import CAUSES, SWITCHES
from rigl_np.verify.schema import tables

SHAPES = {"features.0.weight": (8, 3, 3, 3), "classifier.weight": (10, 72)}


def model_update(seed=0, f=0.3, ceil=False):
    """A whole model's update, rigl_np's own (or with k = ceil(f * n))."""
    rng = np.random.default_rng(seed)
    layers = {}
    for name, shape in SHAPES.items():
        m = rng.random(shape) < 0.3
        w = (rng.standard_normal(shape) * m).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        n = int(m.sum())
        k = math.ceil(f * n) if ceil else math.floor(f * n)
        r = rigl_update(w, m, g, (k + 0.5) / n)
        layers[name] = {"weight": w, "mask": m, "grad": g, "new_mask": r.mask,
                        "new_weight": np.where(r.new, 0, w) * r.mask,
                        "state": {"momentum": w * 0.1},
                        "new_state": {"momentum": np.where(r.new, 0, w * 0.1) * r.mask}}
    return layers


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folder(tmp_path):
    save_update(tmp_path / "run" / "b" / "step_0200.npz", drop_fraction=0.3, step=200,
                **model_update(1))
    save_update(tmp_path / "run" / "a" / "step_0100.npz", drop_fraction=0.3, step=100,
                **model_update(0))
    return tmp_path / "run"


def test_a_folder_of_whole_model_dumps_gives_one_line_per_layer_update(folder, capsys):
    code, out, err = run(capsys, "verify", str(folder))
    lines = out.strip().splitlines()
    assert code == 0 and not err
    assert len(lines) == 5 and lines[-1].startswith("verify: 4 results from 2 files: 4 identical")
    assert [line.split(":")[0] for line in lines[:4]] == [
        f"{folder}/a/step_0100.npz features.0.weight step 100",
        f"{folder}/a/step_0100.npz classifier.weight step 100",
        f"{folder}/b/step_0200.npz features.0.weight step 200",
        f"{folder}/b/step_0200.npz classifier.weight step 200"]


def test_json_has_the_documented_fields_and_the_same_exit_code(tmp_path, capsys):
    save_update(tmp_path / "ceil.npz", drop_fraction=0.302, **model_update(0, 0.302, ceil=True))
    code_text, out_text, _ = run(capsys, "verify", str(tmp_path))
    code, out, _ = run(capsys, "verify", str(tmp_path), "--json")
    report = json.loads(out)
    assert code == code_text == 1 and "explained only with --k-rounding" in out_text
    for r in report["results"]:
        assert {"path", "layer", "verdict", "causes", "n_differ", "detail"} <= set(r)
        assert r["path"].endswith("ceil.npz") and r["layer"] in SHAPES
    explained = [r for r in report["results"] if r["verdict"] == "explained"]
    assert explained and all(r["causes"] == ["k_rounding"] and not r["accepted"]
                             for r in explained)
    assert report["summary"]["exit_code"] == 1
    code, out, _ = run(capsys, "verify", str(tmp_path), "--json", "--k-rounding", "ceil")
    assert code == 0 and json.loads(out)["summary"]["exit_code"] == 0


def test_a_single_layer_file_has_layer_null(tmp_path, capsys):
    layer = model_update()["classifier.weight"]
    save_update(tmp_path / "one.npz", drop_fraction=0.3, **layer)
    code, out, _ = run(capsys, "verify", str(tmp_path / "one.npz"), "--json")
    [r] = json.loads(out)["results"]
    assert code == 0 and r["layer"] is None and r["verdict"] == "identical"


def test_a_broken_update_exits_1(tmp_path, capsys):
    layers = model_update()
    layers["classifier.weight"]["new_weight"] = layers["classifier.weight"]["weight"] + 1
    save_update(tmp_path / "u.npz", drop_fraction=0.3, **layers)
    code, out, _ = run(capsys, "verify", str(tmp_path / "u.npz"))
    assert code == 1 and "classifier.weight: differs [" in out and "off_mask_nonzero" in out


def test_check_update_is_verify(tmp_path, capsys):
    layer = model_update()["classifier.weight"]
    layer["new_mask"] = layer["mask"]                            # no update at all
    save_update(tmp_path / "u.npz", drop_fraction=0.3, **layer)
    assert run(capsys, "check-update", str(tmp_path / "u.npz")) == \
        run(capsys, "verify", str(tmp_path / "u.npz"))


def test_help_lists_every_key_switch_and_cause(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["verify", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    for _, keys in tables():
        assert all(k.name in out for k in keys)
    for s in SWITCHES:
        assert s.option in out and all(c in out for c in s.choices)
    assert all(code in out for code in CAUSES)
