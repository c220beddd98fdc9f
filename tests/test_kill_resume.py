"""SIGKILL at random moments, then ``--resume``: the result is bit-identical to a run that never
stopped, for six methods.

Each trial kills one run four times, each resume carrying on from the last checkpoint (a run
killed before its first checkpoint has left only its config.json, and the same command starts it
again):
1. right after a random batch (its step drawn from a seeded RNG);
2. during the first epoch-end evaluation of the resumed process (the checkpoint every 5 batches
   falls on an epoch's last batch, so the run stops with that epoch trained but not recorded:
   the case where a resume used to record the wrong learning rate);
3. during a checkpoint write (after the temporary file is written, before it is renamed: the
   ``.tmp`` left behind must be removed by the next start);
4. from outside, after a random delay (wherever the process happens to be).
A last ``--resume`` finishes the run. Weights, masks, optimizer state, the method's arrays and
records, the RNG state and metrics.json (time fields aside) must equal the uninterrupted run's.
The kills happen inside the real ``python -m rigl_np`` process, set up by a small driver that
wraps the trainer's functions (figures are skipped: they are not what is tested here).
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from run_state import final_state

ARGS = ["--dataset", "synthetic", "--sparsity", "0.8", "--epochs", "3", "--batch-size", "250",
        "--delta-t", "4", "--checkpoint-every", "5"]            # 20 batches per epoch, 60 in all
METHODS = {"rigl": ["--grad-accumulation", "2"], "srigl": [], "set": [], "snfs": [],
           "pruning": [], "static": []}

DRIVER = r"""
import os, runpy, signal, sys

import rigl_np.viz
from rigl_np import train

kind, _, n = os.environ.get("KILL_AT", "none:0").partition(":")
n, calls = int(n), []


def die():
    os.kill(os.getpid(), signal.SIGKILL)


if kind == "step":                       # right after batch n
    real_step = train.train_step

    def train_step(model, optimizer, xb, yb, step, method=None):
        out = real_step(model, optimizer, xb, yb, step, method)
        if step == n:
            die()
        return out

    train.train_step = train_step
elif kind == "eval":                     # in the n-th evaluation of this process
    real_evaluate = train.evaluate

    def evaluate(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            die()
        return real_evaluate(*args, **kwargs)

    train.evaluate = evaluate
elif kind == "write":                    # in the n-th checkpoint write, before the rename
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("checkpoint.npz"):
            calls.append(1)
            if len(calls) == n:
                die()
        return real_replace(src, dst)

    os.replace = replace
rigl_np.viz.plot_runs = lambda *args, **kwargs: []
sys.argv = ["rigl_np", *sys.argv[1:]]
runpy.run_module("rigl_np", run_name="__main__")
"""


def _start(args, kill="none:0"):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", KILL_AT=kill)
    return subprocess.Popen([sys.executable, "-c", DRIVER, "train", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(proc, timeout=300):
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """The uninterrupted run of every method, two at a time."""
    root = tmp_path_factory.mktemp("references")
    done = {}
    names = list(METHODS)
    for pair in (names[i:i + 2] for i in range(0, len(names), 2)):
        procs = {m: _start([*ARGS, "--method", m, *METHODS[m], "--out", root / m]) for m in pair}
        for m, proc in procs.items():
            code, err = _finish(proc)
            assert code == 0, err
            done[m] = final_state(root / m)
    return done


@pytest.mark.parametrize("method", METHODS)
def test_killed_four_times_and_resumed_matches_the_uninterrupted_run(tmp_path, references,
                                                                     method):
    rng = np.random.default_rng([13, list(METHODS).index(method)])
    run = tmp_path / "run"
    fresh = [*ARGS, "--method", method, *METHODS[method], "--out", run]

    written = []                 # config.json as first written: no plain resume changes it

    def carry_on(kill="none:0"):
        """--resume; a run killed before its first checkpoint left only its config.json: the
        same command starts it again."""
        if (run / "config.json").exists():
            written.append((run / "config.json").read_bytes())
            assert written[-1] == written[0]
        if (run / "checkpoint.npz").exists():
            return _start(["--resume", run], kill)
        return _start(fresh, kill)

    # 1. after a random batch of the first two epochs (before the first checkpoint at times)
    code, err = _finish(carry_on(f"step:{rng.integers(1, 40)}"))
    assert code == -signal.SIGKILL, err
    # 2. during the next process's first evaluation
    code, err = _finish(carry_on("eval:1"))
    assert code == -signal.SIGKILL, err
    # 3. during a checkpoint write: a temporary file is left behind
    code, err = _finish(carry_on(f"write:{rng.integers(1, 4)}"))
    assert code == -signal.SIGKILL, err
    assert list(run.glob(".checkpoint.npz.*.tmp")), "the kill left no temporary file"
    # 4. from outside, at a random moment (it may also have finished by then)
    proc = carry_on()
    time.sleep(rng.uniform(0.3, 1.5))
    proc.send_signal(signal.SIGKILL)
    code, err = _finish(proc)
    assert code in (0, -signal.SIGKILL), err
    # 5. the last resume finishes the run, and the leftovers are gone
    code, err = _finish(carry_on())
    assert code == 0, err
    assert not list(run.glob(".*.tmp"))
    assert (run / "config.json").read_bytes() == written[0] and len(written) >= 3
    arrays, meta, metrics = final_state(run)
    ref_arrays, ref_meta, ref_metrics = references[method]
    assert arrays.keys() == ref_arrays.keys()
    for key in arrays:
        assert np.array_equal(arrays[key], ref_arrays[key]), key
    assert meta == ref_meta
    assert metrics == ref_metrics
