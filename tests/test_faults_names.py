"""Any file name, any terminal; names that never collide; data where it was said to be
(rigl_np.errors.safe_output, config.run_name, data.sources).

A file or folder name that is not valid UTF-8, or not ASCII, reaches the user escaped whatever
the stream's encoding (it made train, plot, verify and vectors fail after their work); two
different sparsities never share a compare run name; ``RIGL_NP_DATA`` at a file is an error, not
a reason to look elsewhere.
"""
import io
import os
import subprocess
import sys

import pytest

from rigl_np.verify.vectors import cases
from test_faults_common import FAST, assert_clean, copy_run, finished, outcome  # noqa: F401

NOT_UTF8 = os.fsdecode(b"run-\xff\xfe")          # bytes no UTF-8 decoder accepts
NOT_ASCII = "r\u00e9sultats-\u65e5\u672c"


def _run(*args, encoding, timeout=240):
    """``python -m rigl_np *args`` with stdout and stderr in ``encoding`` (strict, as a terminal
    set to it is); the bytes read back as UTF-8, escaped where they are not."""
    proc = subprocess.run([sys.executable, "-m", "rigl_np", *map(str, args)], capture_output=True,
                          timeout=timeout, env=dict(os.environ, PYTHONIOENCODING=encoding,
                                                    OPENBLAS_NUM_THREADS="1"))
    return (proc.returncode, proc.stdout.decode("utf-8", "backslashreplace"),
            proc.stderr.decode("utf-8", "backslashreplace"))


def _update_file(folder):
    import numpy as np
    from rigl_np.rigl import rigl_update

    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 8)).astype(np.float32)
    m = rng.random((8, 8)) < 0.5
    folder.mkdir()
    np.savez(folder / "u.npz", weight=w, mask=m, grad=w, drop_fraction=0.3,
             new_mask=rigl_update(w, m, w, 0.3).mask)
    return folder / "u.npz"


@pytest.mark.parametrize("name,encoding", [(NOT_UTF8, "utf-8"), (NOT_UTF8, "ascii"),
                                           (NOT_UTF8, "latin-1"), (NOT_ASCII, "ascii"),
                                           (NOT_ASCII, "latin-1")])
def test_verify_prints_its_result_for_any_file_name(tmp_path, name, encoding):
    path = _update_file(tmp_path / name)
    code, out, err = _run("verify", path, encoding=encoding, timeout=60)
    assert code == 0 and "Traceback" not in err and "internal error" not in err, err
    assert ": identical" in out and "u.npz" in out


def test_an_undecodable_name_is_shown_as_its_bytes(tmp_path):
    path = _update_file(tmp_path / NOT_UTF8)
    code, out, err = _run("verify", path, encoding="ascii", timeout=60)
    assert code == 0 and "run-\\xff\\xfe" in out, err


def test_vectors_into_a_folder_of_any_name(tmp_path):
    code, out, err = _run("vectors", tmp_path / NOT_UTF8, encoding="utf-8", timeout=120)
    assert code == 0 and f"{len(cases())} conformance vectors" in out, err


def test_train_reports_a_run_folder_of_any_name(tmp_path):
    code, out, err = _run("train", *FAST, "--method", "dense", "--out", tmp_path / NOT_UTF8,
                          encoding="utf-8")
    assert code == 0 and "run folder: " in out and "internal error" not in err, err
    assert (tmp_path / NOT_UTF8 / "metrics.json").is_file()


def test_plot_lists_figures_in_a_folder_of_any_name(tmp_path, finished):
    run = copy_run(finished, tmp_path / NOT_ASCII)
    code, out, err = _run("plot", run, encoding="ascii")
    assert code == 0 and "training_curves.png" in out and "internal error" not in err, err


def test_compare_reports_a_folder_of_any_name(tmp_path):
    code, out, err = _run("compare", *FAST, "--methods", "dense", "--out",
                          tmp_path / NOT_ASCII, encoding="ascii")
    assert code == 0 and "results.md" in out and "internal error" not in err, err


def test_safe_output_escapes_what_a_strict_stream_cannot_encode(monkeypatch):
    from rigl_np import errors

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setenv("PYTHONIOENCODING", "")
    errors.safe_output()
    print(f"{NOT_UTF8} {NOT_ASCII}")
    stream.flush()
    assert raw.getvalue() == b"run-\\xff\\xfe r\\xe9sultats-\\u65e5\\u672c\n"
    assert os.environ["PYTHONIOENCODING"] == "ascii:backslashreplace"   # child processes too


# --- names that never collide --------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [(0.9, 0.90000001), (0.5, 0.5000001), (0.99, 0.9899999)])
def test_two_sparsities_never_share_a_run_name(a, b):
    from rigl_np import config
    from rigl_np.cli import build_parser

    names = []
    for sparsity in (a, b):
        args = build_parser().parse_args(["train", "--sparsity", str(sparsity)])
        names.append(config.run_name(config.from_namespace(args)))
    assert names[0] != names[1] and f"-{a:g}-" in names[0]


def test_compare_runs_two_close_sparsities_as_two_cells(tmp_path, capsys):
    out = tmp_path / "grid"
    code, _, err = outcome(["compare", *FAST, "--methods", "static", "--sparsities",
                            "0.9,0.90000001", "--out", out], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        "lenet300-static-erk-0.9-seed0", "lenet300-static-erk-0.90000001-seed0"]
    assert len((out / "results.csv").read_text().splitlines()) == 3


# --- data where it was said to be ----------------------------------------------------------------

@pytest.mark.parametrize("where", ["RIGL_NP_DATA", "RIGL_NP_DATA/mnist"])
def test_rigl_np_data_at_a_file_is_an_error_not_a_fallback(tmp_path, capsys, monkeypatch, where):
    from rigl_np.data import sources

    def no_network(url, out):
        raise OSError("no network in tests")

    monkeypatch.setattr(sources, "fetch_url", no_network)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "data"
    if where == "RIGL_NP_DATA":
        root.write_text("not a folder")
    else:
        root.mkdir()
        (root / "mnist").write_text("not a folder")
    monkeypatch.setenv("RIGL_NP_DATA", str(root))
    code, _, err = outcome(["train", "--dataset", "mnist", "--epochs", "1",
                            "--out", tmp_path / "run"], capsys)
    assert_clean(code, err, 2, f"RIGL_NP_DATA={root}", "is not a folder")
    assert not (tmp_path / "cache").exists()
