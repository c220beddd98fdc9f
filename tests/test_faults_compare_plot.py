"""Fault injection for ``compare`` and ``plot``: grid values, options train would refuse, stale,
damaged and busy folders, diverging cells and cells whose folder is busy (named in the table of
the others, run again by the same command, the same with --jobs 2); damaged run and compare
folders for the figures.
Each case: exit code, one message naming the problem, no traceback, files unchanged."""
import csv
import errno
import json
import shutil

import numpy as np
import pytest

from test_faults_common import (assert_clean, assert_unchanged, copy_run, edit_json,  # noqa: F401
                                edit_npz, finished, outcome, python_m, snapshot)

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


def _table(out) -> list:
    """results.csv's rows, each without its wall time."""
    with open(out / "results.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_when_every_cell_diverges_the_table_names_them_all(tmp_path, capsys):
    out = tmp_path / "grid"
    code, _, err = outcome([*GRID, "--methods", "dense,static", "--lr", "1e6",
                            "--checkpoint-every", "1", "--out", out], capsys)
    assert_clean(code, err, 1, "2 of 2 runs diverged (above); the table",
                 "with a lower --lr, compare into a new --out")
    assert "lenet300-dense-seed0 diverged: the training loss became nan" in err
    assert [(r["run"], r["status"].partition(":")[0], r["accuracy_mean"]) for r in _table(out)] \
        == [(f"lenet300-{name}-seed0", "diverged", "") for name in ("dense", "static-erk-0.9")]
    assert (out / "results.md").read_text().startswith("**Incomplete: 2 of 2 runs failed**")
    assert not list(out.glob("*.png"))                  # no run finished: nothing to draw


# static at 99 % diverges at this --lr, dense does not (its units die; its loss stays finite)
HALF = [*GRID, "--methods", "dense,static", "--sparsities", "0.99", "--lr", "200"]
DENSE, STATIC = "lenet300-dense-seed0", "lenet300-static-erk-0.99-seed0"


@pytest.fixture(scope="module")
def half_diverged(tmp_path_factory):
    """HALF run once, a cell at a time: (its folder, exit code, stdout, stderr)."""
    out = tmp_path_factory.mktemp("half") / "grid"
    proc = python_m(*HALF, "--out", out)
    stdout, err = proc.communicate(timeout=300)
    return out, proc.returncode, stdout, err


def test_a_diverging_cell_is_named_in_the_table_of_the_others(half_diverged, capsys):
    out, code, stdout, err = half_diverged
    assert_clean(code, err, 1, f"1 of 2 runs diverged (above); the table {out / 'results.md'} "
                 "names them beside the runs that finished; with a lower --lr, compare into a "
                 "new --out")
    assert f"{STATIC} diverged: the training loss became nan" in err
    accuracy = json.loads((out / "runs" / DENSE / "metrics.json").read_text())["test_accuracy"]
    dense, static = _table(out)
    assert (dense["status"], dense["seeds"], float(dense["accuracy_mean"])) == ("ok", "1", accuracy)
    assert static["status"].startswith("diverged: the training loss became nan")
    assert (static["run"], static["seeds"], static["accuracy_mean"]) == (STATIC, "0", "")
    text = (out / "results.md").read_text()
    assert text.startswith("**Incomplete: 1 of 2 runs failed**")
    assert f"| lenet300 | dense | - | 0 | {100 * accuracy:.2f} (n=1) |" in text
    assert (f"| lenet300 | static | erk | 0.99 | - | - | - | - | - | {STATIC} diverged: the "
            "training loss became nan") in text
    assert (out / "accuracy_vs_sparsity.png").exists() and "accuracy_vs_sparsity.png" in stdout
    assert outcome(["plot", out], capsys)[0] == 0       # the figures skip the failed row


def test_the_same_command_runs_only_the_failed_cell_again(half_diverged, tmp_path):
    out = tmp_path / "grid"
    shutil.copytree(half_diverged[0], out)
    dense = out / "runs" / DENSE / "metrics.json"
    before, table = (dense.stat().st_mtime_ns, dense.read_bytes()), _table(out)
    (out / "results.md").write_text("stale")
    proc = python_m(*HALF, "--out", out)
    stdout, err = proc.communicate(timeout=300)
    assert_clean(proc.returncode, err, 1, "1 of 2 runs diverged (above); the table")
    assert "2 runs in the grid, 1 done before, 1 to run" in stdout
    assert f"[1/1] {STATIC}" in stdout and f"{DENSE}:" not in stdout
    assert (dense.stat().st_mtime_ns, dense.read_bytes()) == before      # not run again
    assert _table(out) == table
    assert (out / "results.md").read_text().startswith("**Incomplete: 1 of 2 runs failed**")


def test_jobs_2_writes_the_same_table(half_diverged, tmp_path):
    from rigl_np.results import NUMBERS

    def numbers(rows):
        return [{k: float(v) if k in NUMBERS and v else v for k, v in r.items()} for r in rows]

    proc = python_m(*HALF, "--jobs", "2", "--out", tmp_path / "grid")
    _, err = proc.communicate(timeout=300)
    assert_clean(proc.returncode, err, 1, "1 of 2 runs diverged (above); the table")
    assert f"{STATIC} diverged: the training loss became nan" in err
    serial, parallel = numbers(_table(half_diverged[0])), numbers(_table(tmp_path / "grid"))
    assert len(serial) == len(parallel) == 2
    assert all(p == pytest.approx(s) for p, s in zip(parallel, serial))


@pytest.mark.parametrize("jobs", [[], ["--jobs", "2"]], ids=["serial", "jobs 2"])
def test_a_cell_whose_folder_is_busy_fails_alone_here_too(tmp_path, jobs):
    """Not only divergence: any error of a cell's own is named in the table, as on a cluster."""
    from rigl_np.atomic import lock_folder

    out = tmp_path / "grid"
    static = "lenet300-static-erk-0.9-seed0"
    with lock_folder(out / "runs" / static):             # another process holds this cell
        proc = python_m(*GRID, "--methods", "dense,static", *jobs, "--out", out)
        _, err = proc.communicate(timeout=300)
    assert_clean(proc.returncode, err, 1, "1 of 2 runs failed (above); the table",
                 "the same command runs them again")
    assert f"{static} failed: " in err and "in use by another" in err
    dense, failed = _table(out)
    assert (dense["status"], dense["seeds"]) == ("ok", "1")
    assert failed["run"] == static and "in use by another" in failed["status"]
    proc = python_m(*GRID, "--methods", "dense,static", *jobs, "--out", out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert [row["status"] for row in _table(out)] == ["ok", "ok"]


@pytest.mark.parametrize("kinds,phrase", [
    (["diverged"], "1 of 4 runs diverged (above); the table out/results.md names them beside "
                   "the runs that finished; with a lower --lr, compare into a new --out"),
    (["failed"], "1 of 4 runs failed (above); the table out/results.md names them beside the "
                 "runs that finished; the same command runs them again"),
    (["failed", "diverged"], "2 of 4 runs failed (above); the table out/results.md names them "
     "beside the runs that finished; the same command runs them again (a diverged one needs a "
     "lower --lr, in a new --out)")])
def test_the_last_line_says_what_to_do_for_what_failed(kinds, phrase):
    from pathlib import Path

    from rigl_np.compare import _failed_cells

    statuses = {f"run{i}": f"{kind}: why" for i, kind in enumerate(kinds)}
    lines = str(_failed_cells(statuses, 4, Path("out"))).splitlines()
    assert lines == [f"run{i} {kind}: why" for i, kind in enumerate(kinds)] + [phrase]


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
