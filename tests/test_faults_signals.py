"""Ctrl-C at any moment: during start-up, training (once, or twice quickly), the figures, a
download, a serial or a parallel compare. Always exit 130 with one line, never a traceback,
nothing half-written (no temporary file left, every checkpoint loadable), and the same command
(or ``--resume``) carries on. Each case runs ``python -m rigl_np`` in its own process group and
sends SIGINT to the group, as a terminal does."""
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from test_faults_common import RUN, assert_clean, python_m

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to time the signal")


def _wait_for(proc, ready, timeout=120):
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline, "the process never got there"
        time.sleep(0.005)


def _interrupt(proc, times=1, gap=0.01):
    for _ in range(times):
        try:
            os.killpg(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            break
        time.sleep(gap)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def _no_leftovers(folder):
    leftovers = [p for p in Path(folder).rglob(".*") if p.suffix in (".tmp", ".part")]
    assert not leftovers, leftovers
    for checkpoint in Path(folder).rglob("checkpoint.npz"):
        with np.load(checkpoint, allow_pickle=False) as f:
            assert "json" in f.files and json.loads(str(f["json"]))["state"]


def _loaded(proc, library):
    maps = Path(f"/proc/{proc.pid}/maps")
    return maps.exists() and library in maps.read_text()


@pytest.mark.parametrize("library", ["numpy", "_multiarray_umath", "openblas"])
def test_ctrl_c_during_start_up(tmp_path, library):
    """While the command's imports load ``library`` (NumPy turns a Ctrl-C inside its own import
    into an ImportError, which still counts as an interrupt)."""
    proc = python_m("train", *RUN, "--out", tmp_path / "run")
    _wait_for(proc, lambda: _loaded(proc, library))
    code, out, err = _interrupt(proc)
    assert_clean(code, err, 130)
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("times", [1, 2])
def test_ctrl_c_during_training_once_or_twice(tmp_path, times):
    run = tmp_path / "run"
    proc = python_m("train", *RUN[:-2], "--checkpoint-every", "1", "--epochs", "6", "--out", run)
    _wait_for(proc, lambda: (run / "checkpoint.npz").exists())
    code, out, err = _interrupt(proc, times)
    assert_clean(code, err, 130)
    _no_leftovers(tmp_path)
    if times == 1:
        assert "checkpoint saved" in err and f"--resume {run}" in err
    resumed = python_m("train", "--resume", run)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err


def test_ctrl_c_while_the_figures_are_written(tmp_path):
    run = tmp_path / "run"
    proc = python_m("train", *RUN, "--out", run)
    _wait_for(proc, lambda: (run / "metrics.json").exists())
    code, out, err = _interrupt(proc)
    if code == 0:                        # the figures were done before the signal arrived
        pytest.skip("too late: the figures were already written")
    assert_clean(code, err, 130, "the run is complete", f"python -m rigl_np plot {run}")
    assert json.loads((run / "metrics.json").read_text())["test_accuracy"] > 0
    _no_leftovers(tmp_path)


DOWNLOAD = """
import runpy, sys, time
from rigl_np.data import sources
def slow(url, out):
    out.write(b"x" * 1000)
    out.flush()
    time.sleep(60)
sources.fetch_url = slow
sys.argv = ["rigl_np", *sys.argv[1:]]
runpy.run_module("rigl_np", run_name="__main__")
"""


def test_ctrl_c_during_a_download_leaves_no_part_file(tmp_path):
    import subprocess

    cache = tmp_path / "cache"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache), OPENBLAS_NUM_THREADS="1")
    env.pop("RIGL_NP_DATA", None)
    proc = subprocess.Popen([sys.executable, "-c", DOWNLOAD, "train", "--dataset", "mnist",
                             "--out", str(tmp_path / "run")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
    _wait_for(proc, lambda: any(cache.rglob("*.part")))
    code, out, err = _interrupt(proc)
    assert_clean(code, err, 130)
    assert not any(cache.rglob("*.part")) and not any(cache.rglob("*.gz"))


GRID = ["compare", "--dataset", "synthetic", "--epochs", "4", "--batch-size", "250",
        "--checkpoint-every", "1", "--methods", "dense,static,rigl", "--seeds", "0"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_during_a_compare_then_the_same_command_finishes(tmp_path, jobs):
    out = tmp_path / "grid"
    proc = python_m(*GRID, "--jobs", jobs, "--out", out)
    _wait_for(proc, lambda: len(list(out.glob("runs/*/checkpoint.npz"))) >= jobs)
    code, _, err = _interrupt(proc)
    assert_clean(code, err, 130, "Continue the grid with the same compare command")
    assert not (out / "results.md").exists()
    _no_leftovers(tmp_path)
    again = python_m(*GRID, "--jobs", jobs, "--out", out)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert "| lenet300 | rigl | erk | 0.9 |" in (out / "results.md").read_text()
