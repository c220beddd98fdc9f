"""Fault injection for ``compare`` and ``plot``: grid values, options train would refuse, stale,
damaged and busy folders, a diverging cell; damaged run and compare folders for the figures.
Each case: exit code, one message naming the problem, no traceback, files unchanged."""
import errno
import shutil

import numpy as np
import pytest

from test_faults_common import (assert_clean, assert_unchanged, copy_run, edit_json,  # noqa: F401
                                edit_npz, finished, outcome, snapshot)

GRID = ["compare", "--dataset", "synthetic", "--epochs", "1", "--batch-size", "500",
        "--delta-t", "4"]

COMPARE = [
    (["--methods", ""], "--methods is empty"),
    (["--methods", ","], "--methods is empty"),
    (["--seeds", ""], "--seeds is empty"),
    (["--sparsities", ""], "--sparsities is empty"),
    (["--seeds", "0,0"], "--seeds repeats 0"),
    (["--methods", "dense,dense"], "--methods repeats dense:erk"),
    (["--sparsities", "0.9,0.9"], "--sparsities repeats 0.9"),
    (["--seeds", "a,b"], "--seeds must be a comma-separated list of ints, got 'a,b'"),
    (["--sparsities", "0.9,x"], "--sparsities must be a comma-separated list of floats"),
    (["--sparsities", "1.5"], "--sparsity must lie in [0, 1), got 1.5"),
    (["--sparsities", "nan"], "--sparsity must be a finite number, got nan"),
    (["--methods", "lottery"], "--methods: unknown method 'lottery'"),
    (["--methods", "rigl:gaussian"], "--methods: unknown distribution 'gaussian'"),
    (["--models", "resnet"], "--models: unknown model(s) ['resnet']"),
    (["--models", "cnn"], "--model cnn expects 3x32x32 images (cifar10), not synthetic"),
    (["--seeds", "-1"], "--seed must be at least 0"),
    (["--momentum", "-0.5"], "--momentum must lie in [0, 1), got -0.5"),
    (["--lr", "inf"], "--lr must be a finite number, got inf"),
    (["--methods", "rigl", "--delta-t", "1"], "rigl skips the optimizer step on those"),
    (["--jobs", "0"], "--jobs must be at least 1, got 0"),
    (["--resume", "somewhere"], "--resume is for train"),
    (["--method", "set"], "use --methods instead"),
    (["--seed", "3"], "use --seeds instead"),
    (["--sparsity", "0.5"], "use --sparsities instead"),
]


@pytest.mark.parametrize("args,phrase", COMPARE, ids=[" ".join(a) or "''" for a, _ in COMPARE])
def test_bad_grid_is_refused_before_any_run(tmp_path, capsys, args, phrase):
    code, _, err = outcome([*GRID, *args, "--out", tmp_path / "grid"], capsys)
    assert_clean(code, err, 2, phrase)
    assert not (tmp_path / "grid").exists()


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A finished grid (dense and static, one seed) and its arguments."""
    out = tmp_path_factory.mktemp("grid") / "grid"
    args = [*GRID, "--methods", "dense,static", "--out", out]
    from rigl_np.cli import main
    assert main([str(a) for a in args]) == 0
    return out, args


def _busy(out):
    from rigl_np.atomic import lock_folder
    return lock_folder(out)


FOLDERS = {
    "a cell made with other settings": (
        lambda out: None, ["--delta-t", "8"], 2, "holds a run with other settings (sparse.delta_t)"),
    "a cell with a damaged config.json": (
        lambda out: (out / "runs" / "lenet300-static-erk-0.9-seed0" / "config.json").write_text("{"),
        [], 2, "lenet300-static-erk-0.9-seed0/config.json is not valid JSON"),
    "a cell with a damaged metrics.json": (
        lambda out: (out / "runs" / "lenet300-dense-seed0" / "metrics.json").write_text("[]"),
        [], 2, "lenet300-dense-seed0/metrics.json: expected a JSON object"),
    "--out is a file": (lambda out: None, "file", 2, "is a file, not a compare folder"),
    "--out is a run folder": (lambda out: None, "run", 2, "holds a run, not a compare grid"),
}


@pytest.mark.parametrize("case", FOLDERS)
def test_a_compare_folder_that_cannot_be_reused(tmp_path, capsys, grid, case):
    source, args = grid
    out = tmp_path / "grid"
    shutil.copytree(source, out)
    damage, extra, expected, phrase = FOLDERS[case]
    damage(out)
    if extra == "file":
        out, extra = tmp_path / "file", []
        out.write_text("x")
    elif extra == "run":
        out, extra = out / "runs" / "lenet300-dense-seed0", []
    before = snapshot(tmp_path)
    code, _, err = outcome([*args[:-1], out, *extra], capsys)
    assert_clean(code, err, expected, phrase)
    assert_unchanged(before, tmp_path)


def test_a_compare_folder_in_use_is_refused(tmp_path, capsys, grid):
    source, args = grid
    out = tmp_path / "grid"
    shutil.copytree(source, out)
    before = snapshot(out)
    with _busy(out):
        code, _, err = outcome([*args[:-1], out], capsys)
    assert_clean(code, err, 2, "is in use by another rigl_np process")
    assert_unchanged(before, out)


def test_a_diverging_cell_is_named_and_no_table_is_written(tmp_path, capsys):
    out = tmp_path / "grid"
    code, _, err = outcome([*GRID, "--methods", "dense,static", "--lr", "1e6",
                            "--checkpoint-every", "1", "--out", out], capsys)
    assert_clean(code, err, 1, "2 of 2 runs diverged (above), so no table was written")
    assert "lenet300-dense-seed0 diverged: the training loss became nan" in err
    assert not (out / "results.md").exists() and not (out / "results.csv").exists()


def test_a_full_disk_while_writing_the_comparison_figures_still_exits_0(tmp_path, capsys,
                                                                      monkeypatch):
    from matplotlib.figure import Figure

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    code, _, err = outcome([*GRID, "--methods", "dense", "--out", tmp_path / "grid"], capsys)
    assert code == 0 and "Traceback" not in err
    assert "warning: the comparison is complete, but its figures were not written" in err
    assert (tmp_path / "grid" / "results.md").exists()


# --- plot --------------------------------------------------------------------------------------

def _masks(edit):
    return edit_npz("masks.npz", edit)


PLOTS = {
    "no such folder": (None, "no finished run (metrics.json) or compare results"),
    "a stopped run": (lambda run: (run / "metrics.json").unlink(), "no finished run"),
    "metrics truncated": (lambda run: (run / "metrics.json").write_text('{"test_acc'),
                          "metrics.json is not valid JSON"),
    "metrics a list": (lambda run: (run / "metrics.json").write_text("[]"),
                       "metrics.json: expected a JSON object, found list"),
    "metrics without history": (edit_json("metrics.json", lambda m: m.pop("history")),
                                "metrics.json lacks or has damaged history"),
    "metrics with a garbled history": (edit_json("metrics.json", lambda m: m.update(history="x")),
                                       "metrics.json lacks or has damaged history"),
    "metrics with a string accuracy": (edit_json("metrics.json", lambda m: m.update(
        test_accuracy="high")), "lacks or has damaged test_accuracy"),
    "config missing": (lambda run: (run / "config.json").unlink(), "config.json is missing"),
    "config truncated": (lambda run: (run / "config.json").write_text('{"data": '),
                         "config.json is not valid JSON"),
    "masks truncated": (lambda run: (run / "masks.npz").write_bytes(b"PK\x03\x04"),
                        "masks.npz is damaged"),
    "masks garbage": (lambda run: (run / "masks.npz").write_bytes(b"garbage" * 10),
                      "masks.npz is damaged"),
    "masks of the wrong length": (_masks(lambda a: a.update(
        {"fc1.weight@0": a["fc1.weight@0"][:10]})), "fc1.weight@0 holds uint8 (10,)"),
    "masks with a stray key": (_masks(lambda a: a.update(junk=np.zeros(3))),
                               "unexpected key 'junk'"),
}


@pytest.mark.parametrize("case", PLOTS)
def test_plot_of_a_damaged_run_folder_names_the_file(tmp_path, capsys, finished, case):
    run = copy_run(finished, tmp_path / "run")
    damage, phrase = PLOTS[case]
    if damage is None:
        run = tmp_path / "nowhere"
    else:
        damage(run)
    before = snapshot(tmp_path)
    code, _, err = outcome(["plot", run], capsys)
    assert_clean(code, err, 2, phrase)
    assert_unchanged(before, tmp_path)


def test_plot_of_a_compare_folder_with_a_garbled_table(tmp_path, capsys, grid):
    out = tmp_path / "grid"
    shutil.copytree(grid[0], out)
    (out / "results.csv").write_text("model,method\nlenet300\n")
    before = snapshot(out)
    code, _, err = outcome(["plot", out], capsys)
    assert_clean(code, err, 2, "results.csv is damaged")
    assert_unchanged(before, out)


def test_plot_into_a_read_only_folder(tmp_path, capsys, finished, monkeypatch):
    from matplotlib.figure import Figure

    run = copy_run(finished, tmp_path / "run")

    def read_only(self, path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(Figure, "savefig", read_only)
    code, _, err = outcome(["plot", run], capsys)
    assert_clean(code, err, 2, "Read-only file system", "choose a writable folder")
