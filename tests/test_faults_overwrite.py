"""Nothing lost by ``--overwrite`` or by the clean-up of leftovers (rigl_np.setaside,
rigl_np.atomic, runfolder.claim, compare).

- A run replaced with ``--overwrite`` stays until the new run has written its first checkpoint:
  any failure before that (bad data, masks the method cannot build, divergence, a full disk,
  Ctrl-C, a kill) gives it back byte for byte; the replaced run's figures do not stay beside the
  new run's.
- Leftovers are removed only when they are recognisably rigl_np's temporary files, and only once
  the command has been accepted: a refused command removes nothing.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from test_faults_common import (FAST, RUN, assert_clean, assert_unchanged, copy_run,  # noqa: F401
                                fail_on_call, finished, outcome, snapshot)

OURS = ".checkpoint.npz.rigl_np-k3x9_q2z.tmp"          # what a killed checkpoint write leaves


@pytest.fixture
def no_figures(monkeypatch):
    """Train and compare without drawing their figures (seconds each; not what is tested)."""
    import rigl_np.viz
    import rigl_np.viz.report

    monkeypatch.setattr(rigl_np.viz, "plot_runs", lambda *args, **kwargs: [])
    monkeypatch.setattr(rigl_np.viz.report, "comparison_figures", lambda *args, **kwargs: [])


def _failing(monkeypatch, module, name, error):
    def fail(*args, **kwargs):
        raise error
    monkeypatch.setattr(module, name, fail)


def _bad_data(monkeypatch, tmp_path):
    return ["--dataset", "mnist", "--data-dir", tmp_path / "nowhere", "--epochs", "1"]


def _srigl_too_sparse(monkeypatch, tmp_path):
    return [*FAST, "--method", "srigl", "--sparsity", "0.9999"]


def _diverges(monkeypatch, tmp_path):
    return [*FAST, "--method", "dense", "--lr", "1e6"]


def _full_disk_config(monkeypatch, tmp_path):
    import errno
    from rigl_np import experiment
    fail_on_call(monkeypatch, experiment, "write_json", 1,
                 OSError(errno.ENOSPC, "No space left on device", "config.json"))
    return FAST


def _ctrl_c_loading(monkeypatch, tmp_path):
    from rigl_np import experiment
    _failing(monkeypatch, experiment, "prepare_data", KeyboardInterrupt())
    return FAST


def _model_fails(monkeypatch, tmp_path):
    from rigl_np import experiment
    _failing(monkeypatch, experiment, "make_optimizer", MemoryError())
    return FAST


REPLACEMENTS = {
    "a --data-dir without the data": (_bad_data, 2, "--data-dir"),
    "masks srigl cannot build": (_srigl_too_sparse, 2, "srigl cannot build its masks at "
                                 "--sparsity 0.9999"),
    "a divergence before the first checkpoint": (_diverges, 1, "the run diverged"),
    "a full disk writing config.json": (_full_disk_config, 1, "No space left on device"),
    "Ctrl-C while loading the data": (_ctrl_c_loading, 130, "interrupted"),
    "out of memory building the optimizer": (_model_fails, 1, "out of memory"),
}


@pytest.mark.parametrize("case", REPLACEMENTS)
def test_a_replacement_that_fails_gives_the_old_run_back(tmp_path, capsys, finished,
                                                         monkeypatch, case):
    run = copy_run(finished, tmp_path / "run")
    (run / "masks.png").write_bytes(b"the old run's figure")
    before = snapshot(run)
    make_args, expected, phrase = REPLACEMENTS[case]
    args = make_args(monkeypatch, tmp_path)
    code, _, err = outcome(["train", *args, "--out", run, "--overwrite"], capsys)
    assert_clean(code, err, expected, phrase)
    assert_unchanged(before, run)
    assert sorted(os.listdir(run)) == sorted(before)


def test_the_replaced_runs_figures_do_not_stay_beside_the_new_runs(tmp_path, capsys, finished):
    run = copy_run(finished, tmp_path / "run")
    old = {name: b"old figure" for name in ("masks.png", "in_degree.gif", "drop_schedule.png",
                                           "training_curves.png")}
    for name, data in old.items():
        (run / name).write_bytes(data)
    (run / "my_notes.txt").write_text("mine")
    (run / "my_plot.png").write_bytes(b"mine too")
    code, _, err = outcome(["train", *FAST, "--method", "dense", "--out", run, "--overwrite"],
                           capsys)
    assert code == 0, err
    names = set(os.listdir(run))
    assert not names & {"masks.png", "in_degree.gif", "drop_schedule.png", "masks.npz"}
    assert (run / "training_curves.png").read_bytes() != old["training_curves.png"]
    assert (run / "my_notes.txt").read_text() == "mine" and "my_plot.png" in names
    assert not [n for n in names if n.startswith(".")]


def test_figures_list_names_every_figure_plot_writes_into_a_run_folder(tmp_path, finished):
    from rigl_np.runfolder import FIGURES
    from rigl_np.viz import plot_runs

    runs = [copy_run(finished, tmp_path / "a"), copy_run(finished, tmp_path / "b")]
    written = plot_runs(runs)
    assert {p.name for p in written} <= set(FIGURES)
    assert len({p.name for p in written}) >= 10


KILLED = """
import sys, time
from pathlib import Path
from rigl_np import experiment
from rigl_np.cli import main

def stuck(cfg):
    Path(sys.argv[1]).write_text("loading")
    time.sleep(600)

experiment.prepare_data = stuck
main(sys.argv[2:])
"""


@pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL")
@pytest.mark.parametrize("then", ["train --out", "train --resume"])
def test_a_kill_during_a_replacement_leaves_the_old_run_to_come_back(tmp_path, capsys, finished,
                                                                    then, no_figures):
    run = copy_run(finished, tmp_path / "run", stopped=then == "train --resume")
    before = snapshot(run)
    flag = tmp_path / "flag"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(flag), "train", *map(str, FAST),
                             "--seed", "9", "--out", str(run), "--overwrite"],
                            stderr=subprocess.PIPE, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    deadline = time.time() + 120
    while not flag.exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert (run / ".rigl_np-replaced").is_dir()            # what the kill left
    if then == "train --out":
        code, _, err = outcome(["train", *RUN, "--out", run], capsys)
        assert_clean(code, err, 2, "already holds a finished run")
        assert_unchanged(before, run)
        assert sorted(os.listdir(run)) == sorted(before)
    else:
        code, _, err = outcome(["train", "--resume", run], capsys)
        assert code == 0, err
        assert json.loads((run / "config.json").read_text())["optim"]["seed"] == 0
        assert (run / "metrics.json").is_file()
    assert "the run it was replacing is back" in err


# --- leftovers: only ours, only once the command is accepted ------------------------------------

NOT_OURS = [".notes.20240101.tmp", ".checkpoint.npz.abcd1234.tmp", ".data.gz.x1y2z3w4.part",
            ".a.rigl_np-ABCDEFGH.tmp", ".a.rigl_np-abc.tmp", "notes.rigl_np-abcdefgh.tmp"]


@pytest.mark.parametrize("name", NOT_OURS)
def test_a_users_file_that_looks_temporary_is_never_removed(tmp_path, capsys, finished, name,
                                                          no_figures):
    run = copy_run(finished, tmp_path / "run", stopped=True)
    (run / name).write_text("the user's own")
    (run / OURS).write_bytes(b"half a checkpoint")
    code, _, err = outcome(["train", "--resume", run], capsys)
    assert code == 0, err
    assert (run / name).read_text() == "the user's own" and not (run / OURS).exists()


@pytest.mark.parametrize("name", NOT_OURS[:3])
def test_compare_never_removes_a_users_file_that_looks_temporary(tmp_path, capsys, name,
                                                              no_figures):
    out = tmp_path / "grid"
    out.mkdir()
    (out / name).write_text("the user's own")
    (out / ".results.md.rigl_np-a1b2c3d4.tmp").write_text("half a table")
    code, _, err = outcome(["compare", *FAST, "--methods", "dense", "--out", out], capsys)
    assert code == 0, err
    assert (out / name).read_text() == "the user's own"
    assert not (out / ".results.md.rigl_np-a1b2c3d4.tmp").exists()


def _refused_finished(run):
    return ["train", *RUN, "--out", run]


def _refused_other_settings(run):
    for name in ("checkpoint.npz", "metrics.json", "history.csv", "masks.npz"):
        (run / name).unlink()
    return ["train", *RUN, "--seed", "4", "--out", run]


def _refused_busy(run):
    return ["train", "--resume", run]


@pytest.mark.parametrize("refusal", [_refused_finished, _refused_other_settings])
def test_a_refused_train_removes_nothing(tmp_path, capsys, finished, refusal):
    run = copy_run(finished, tmp_path / "run")
    argv = refusal(run)
    (run / OURS).write_bytes(b"half a checkpoint")
    (run / NOT_OURS[1]).write_bytes(b"the user's, named as rigl_np once named its own")
    before = snapshot(run)
    code, _, err = outcome(argv, capsys)
    assert_clean(code, err, 2, "already holds")
    assert_unchanged(before, run)


def test_a_refused_compare_removes_nothing(tmp_path, capsys, no_figures):
    out = tmp_path / "grid"
    code, _, err = outcome(["compare", *FAST, "--methods", "dense", "--out", out], capsys)
    assert code == 0, err
    (out / ".results.csv.rigl_np-q9w8e7r6.tmp").write_text("half a table")
    (out / NOT_OURS[0]).write_text("the user's own")
    before = snapshot(out)
    code, _, err = outcome(["compare", *FAST, "--methods", "dense", "--lr", "0.01",
                            "--out", out], capsys)
    assert_clean(code, err, 2, "holds a run with other settings (optim.lr)")
    assert_unchanged(before, out)


def test_a_stale_temporary_folder_is_removed_but_one_in_use_stays(tmp_path, capsys, finished,
                                                                  no_figures):
    from rigl_np.atomic import lock_folder

    run = copy_run(finished, tmp_path / "run", stopped=True)
    stale, busy = run / ".vectors.rigl_np-aaaa1111.tmp", run / ".vectors.rigl_np-bbbb2222.tmp"
    for folder in (stale, busy):
        folder.mkdir()
        (folder / "00_case.npz").write_bytes(b"half")
    with lock_folder(busy):
        code, _, err = outcome(["train", "--resume", run], capsys)
    assert code == 0, err
    assert not stale.exists() and (busy / "00_case.npz").exists()
