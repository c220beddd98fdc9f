"""Fault injection for ``train``, continued: file-system errors, divergence, leftovers and
``--data-dir``. Each case: exit code, one message naming the problem, no traceback, every file
that existed before unchanged (test_faults_common)."""
import errno
import json
import os

import numpy as np
import pytest

from test_faults_common import (FAST, RUN, assert_clean, assert_unchanged, copy_run,  # noqa: F401
                                fail_on_call, finished, outcome, python_m, snapshot)

# --- file-system errors ----------------------------------------------------------------------

def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, capsys, monkeypatch):
    from rigl_np import checkpoint

    fail_on_call(monkeypatch, checkpoint, "atomic_write_bytes", 3,
                  OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run")))
    code, _, err = outcome(["train", *RUN, "--out", tmp_path / "run"], capsys)
    assert_clean(code, err, 1, "No space left on device",
                 f"the last checkpoint, {tmp_path / 'run' / 'checkpoint.npz'} (batch 6), is kept")
    with np.load(tmp_path / "run" / "checkpoint.npz", allow_pickle=False) as f:
        assert json.loads(str(f["json"]))["state"]["step"] == 6
    monkeypatch.undo()
    code, _, err = outcome(["train", "--resume", tmp_path / "run"], capsys)
    assert code == 0, err


def test_a_full_disk_while_writing_the_figures_still_exits_0(tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure

    fail_on_call(monkeypatch, Figure, "savefig", 2, OSError(errno.ENOSPC, "No space left on device"))
    code, out, err = outcome(["train", *RUN, "--out", tmp_path / "run"], capsys)
    assert code == 0 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("warning: the run is complete, but its "
                                                   "figures were not written")
    assert (tmp_path / "run" / "metrics.json").exists()


def test_a_full_disk_while_writing_the_results(tmp_path, capsys, monkeypatch):
    from rigl_np import experiment

    fail_on_call(monkeypatch, experiment, "write_json", 2,
                  OSError(errno.ENOSPC, "No space left on device", "metrics.json"))
    code, _, err = outcome(["train", *RUN, "--out", tmp_path / "run"], capsys)
    assert_clean(code, err, 1, "No space left on device", "is kept: continue with")
    assert not (tmp_path / "run" / "metrics.json").exists()
    monkeypatch.undo()
    code, _, err = outcome(["train", "--resume", tmp_path / "run"], capsys)
    assert code == 0 and (tmp_path / "run" / "metrics.json").exists(), err


def test_a_read_only_file_system(tmp_path, capsys, monkeypatch):
    from pathlib import Path

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    code, _, err = outcome(["train", *FAST, "--out", tmp_path / "run"], capsys)
    assert_clean(code, err, 2, "Read-only file system", "choose a writable folder")


# --- divergence ------------------------------------------------------------------------------

def test_a_diverging_run_keeps_its_last_finite_checkpoint_and_resumes_with_a_new_lr(
        tmp_path, capsys, monkeypatch):
    """Weights turn inf after the checkpoint at batch 6: the run stops at the next checkpoint
    (batch 9) keeping batch 6's, and resumes from it with a new peak learning rate, recorded."""
    from rigl_np import train

    real_step = train.train_step

    def diverging_step(model, optimizer, xb, yb, step, method=None):
        out = real_step(model, optimizer, xb, yb, step, method)
        if step == 7:
            model.params()["fc1.bias"][:] = np.nan
        return out

    monkeypatch.setattr(train, "train_step", diverging_step)
    run = tmp_path / "run"
    code, _, err = outcome(["train", *RUN, "--out", run], capsys)
    assert_clean(code, err, 1, "the run diverged", "the last finite checkpoint",
                 f"{run / 'checkpoint.npz'} (batch 6)", f"--resume {run} --lr 0.005")
    monkeypatch.undo()
    code, _, err = outcome(["train", "--resume", run, "--lr", "0.005"], capsys)
    assert code == 0, err
    change = {"step": 6, "option": "lr", "from": 0.05, "to": 0.005}
    saved = json.loads((run / "config.json").read_text())
    assert saved["optim"]["lr"] == 0.005 and saved["changes"] == [change]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["changes"] == [change] and metrics["history"][-1]["lr"] < 0.005


def test_a_run_diverging_before_its_first_checkpoint_says_none_was_written(tmp_path, capsys):
    code, _, err = outcome(["train", *FAST, "--method", "dense", "--lr", "1e6",
                            "--out", tmp_path / "run"], capsys)
    assert_clean(code, err, 1, "the run diverged", "no checkpoint was written before that",
                 f"--out {tmp_path / 'run'} --overwrite")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json"]
    code, _, err = outcome(["train", *FAST, "--method", "dense", "--out", tmp_path / "run",
                            "--overwrite"], capsys)
    assert code == 0, err


def test_a_run_stopped_before_its_first_checkpoint_starts_again_with_the_same_command(
        tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    args = ["train", *RUN, "--out", run]
    from rigl_np import config
    from rigl_np.cli import build_parser

    cfgs = config.from_namespace(build_parser().parse_args([str(a) for a in args]))
    (run / "config.json").write_text(json.dumps(config.to_dict(cfgs)))   # all a kill left
    code, _, err = outcome([*args, "--seed", "1"], capsys)
    assert_clean(code, err, 2, "a run with other settings, stopped before its first checkpoint")
    code, _, err = outcome(args, capsys)
    assert code == 0, err


# --- leftovers and data folders --------------------------------------------------------------

def test_stale_temporary_files_are_removed_when_a_run_resumes(tmp_path, capsys, finished):
    run = copy_run(finished, tmp_path / "run", stopped=True)
    stale = run / ".checkpoint.npz.rigl_np-k3x9_q2z.tmp"
    stale.write_bytes(b"half a checkpoint")
    mine = run / "notes.tmp"
    mine.write_text("not ours")
    code, _, err = outcome(["train", "--resume", run], capsys)
    assert code == 0, err
    assert not stale.exists() and mine.exists()


def _idx_folder(folder, count):
    from rigl_np.data import idx, mnist

    folder.mkdir()
    for base in list(mnist.FILES.values())[:count]:
        idx.write_idx(folder / base, np.zeros(3 if "labels" in base else (3, 28, 28), np.uint8))
    return folder


DATA_DIRS = {
    "missing": (lambda tmp: tmp / "nowhere", "does not exist"),
    "a file": (lambda tmp: tmp / "file", "is a file"),
    "empty": (lambda tmp: _idx_folder(tmp / "empty", 0), "has none of"),
    "incomplete": (lambda tmp: _idx_folder(tmp / "half", 2), "has only 2 of the 4 files"),
}


@pytest.mark.parametrize("case", DATA_DIRS)
def test_a_data_dir_without_the_data_is_refused(tmp_path, capsys, case):
    (tmp_path / "file").write_text("x")
    make, phrase = DATA_DIRS[case]
    data_dir = make(tmp_path)
    before = snapshot(tmp_path)
    code, _, err = outcome(["train", "--data-dir", data_dir, "--epochs", "1",
                            "--out", tmp_path / "run"], capsys)
    assert_clean(code, err, 2, f"--data-dir {data_dir}", phrase)
    assert_unchanged(before, tmp_path)


def test_a_download_removes_the_part_file_a_killed_download_left(tmp_path, monkeypatch):
    from rigl_np.data import sources

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / ".file.gz.rigl_np-abcd1234.part").write_bytes(b"half a download")

    def fetch(url, out):
        out.write(b"payload")

    monkeypatch.setattr(sources, "fetch_url", fetch)
    assert sources.download(["http://x/file.gz"], cache / "file.gz", lambda path, name: None) == []
    assert sorted(p.name for p in cache.iterdir()) == ["file.gz"]
    assert os.stat(cache / "file.gz").st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("value,phrase", [("cupy", "needs CuPy and a CUDA device"),
                                          ("bogus", "unknown backend 'bogus'")])
def test_an_unusable_rigl_np_backend_variable(tmp_path, value, phrase):
    from rigl_np.backend import cupy_available

    if value == "cupy" and cupy_available():
        pytest.skip("a GPU is present")
    proc = python_m("train", *FAST, "--out", tmp_path / "run", env={"RIGL_NP_BACKEND": value})
    _, err = proc.communicate(timeout=60)
    assert_clean(proc.returncode, err, 2, f"(RIGL_NP_BACKEND={value})", phrase)
    assert not (tmp_path / "run").exists()
