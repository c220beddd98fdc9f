"""Runs people can trust: a run killed mid-epoch (SIGKILL or Ctrl-C) and resumed ends bit for bit
where a run that never stopped ends; a non-finite loss stops with a clear message."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from run_state import final_state, without_timing

ARGS = ["--dataset", "synthetic", "--method", "rigl", "--sparsity", "0.8", "--epochs", "3",
        "--delta-t", "6", "--checkpoint-every", "7"]


def _train(*args):
    return subprocess.Popen([sys.executable, "-m", "rigl_np", "train", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))


def _stop_mid_run(run_dir, sig):
    """Start a run, wait for its first checkpoint, send ``sig``; return (returncode, stderr)."""
    proc = _train(*ARGS, "--out", str(run_dir))
    deadline = time.time() + 120
    while not (run_dir / "checkpoint.npz").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    with np.load(run_dir / "checkpoint.npz", allow_pickle=False) as f:
        state = json.loads(str(f["json"]))["state"]
    assert state["epoch"] < 3 and not (run_dir / "metrics.json").exists(), "stopped too late"
    return proc.returncode, err


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    proc = _train(*ARGS, "--out", str(run_dir))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return final_state(run_dir)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_and_resumed_run_matches_uninterrupted_run_bit_for_bit(tmp_path, reference, sig):
    run_dir = tmp_path / "run"
    code, err = _stop_mid_run(run_dir, sig)
    if sig == signal.SIGINT:
        assert code == 130 and "Resume with: python -m rigl_np train --resume" in err
        assert "Traceback" not in err
    else:
        assert code == -signal.SIGKILL
    proc = _train("--resume", str(run_dir))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    arrays, _, metrics = final_state(run_dir)
    ref_arrays, _, ref_metrics = reference
    assert arrays.keys() == ref_arrays.keys()
    for key in arrays:
        assert np.array_equal(arrays[key], ref_arrays[key]), key
    assert metrics == ref_metrics


def test_resume_of_a_folder_without_a_run_is_a_clear_error(tmp_path):
    proc = _train("--resume", str(tmp_path))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "no run there (no config.json)" in err
    assert list(tmp_path.iterdir()) == []


def test_non_finite_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(tmp_path):
    proc = _train("--dataset", "synthetic", "--method", "dense", "--epochs", "2", "--lr", "1e6",
                  "--checkpoint-every", "1", "--out", str(tmp_path / "run"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "the training loss became" in err and "Traceback" not in err
    with np.load(tmp_path / "run" / "checkpoint.npz", allow_pickle=False) as f:
        step = json.loads(str(f["json"]))["state"]["step"]
        assert all(np.isfinite(f[k]).all() for k in f.files if k != "json")
    assert f"the last finite checkpoint, {tmp_path / 'run' / 'checkpoint.npz'} (batch {step})" in err


def test_weights_that_overflow_before_the_loss_does_are_never_checkpointed(tmp_path, monkeypatch,
                                                                         capsys):
    """The finite check runs before every checkpoint, not only on the loss: weights made inf
    by a step whose loss was still finite stop the run, and the message says that no
    checkpoint was written (none was due yet)."""
    from rigl_np import cli, train

    real_step = train.train_step

    def overflowing_step(model, optimizer, xb, yb, step, method=None):
        out = real_step(model, optimizer, xb, yb, step, method)
        if step == 3:
            model.params()["fc2.weight"][0, 0] = np.inf
        return out

    monkeypatch.setattr(train, "train_step", overflowing_step)
    code = cli.main(["train", "--dataset", "synthetic", "--epochs", "1", "--batch-size", "500",
                     "--checkpoint-every", "3", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1 and not (tmp_path / "run" / "checkpoint.npz").exists()
    assert "fc2.weight became inf or NaN by batch 3" in err
    assert "no checkpoint was written before that" in err and "Traceback" not in err


def test_non_finite_check_finds_inf_and_nan_and_accepts_large_finite_values():
    from rigl_np.train import non_finite

    big = np.full(1000, 3e38, np.float32)                  # x . x overflows, every x is finite
    nan, inf = np.zeros((4, 5), np.float32), np.ones(3, np.float32)
    nan[2, 3], inf[1] = np.nan, -np.inf
    arrays = {"big": big, "nan": nan, "inf": inf, "ok": np.ones(7, np.float32),
              "mask": np.ones(3, bool), "empty": np.zeros(0, np.float32)}
    assert non_finite(arrays) == ["nan", "inf"]


@pytest.mark.parametrize("method_name,extra", [("snfs", {}), ("rigl", {"grad_accumulation": 3}),
                                               ("srigl", {}), ("pruning", {}),
                                               ("rigl", {"selection": "global"}), ("granet", {}),
                                               ("gmp-star", {}), ("topkast", {}),
                                               ("set", {"nm": "2:4"}), ("pruning", {"nm": "1:4"})])
def test_checkpoint_round_trip_keeps_every_method_state(tmp_path, method_name, extra):
    """Save mid-way (inside RigL's gradient-accumulation window), load into fresh objects, continue:
    both copies end identical, so the method's own arrays (EMA, accumulated gradients) travel."""
    from rigl_np import backend
    from rigl_np.checkpoint import load_checkpoint, save_checkpoint
    from rigl_np.config import SparseConfig
    from rigl_np.methods import get, make_method
    from rigl_np.models import build_model
    from rigl_np.optim import SGD
    from rigl_np.train import TrainState, train_step

    rng = np.random.default_rng(0)
    batches = [(rng.random((16, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 16))
               for _ in range(12)]
    cfg = SparseConfig(method=method_name, sparsity=0.7, delta_t=4)
    options = get(method_name).Options(**extra)

    def fresh():
        model = build_model("lenet300", (1, 28, 28), 10, backend.host_rng(0), width=0.1)
        shapes = {n: model.params()[n].shape for n in model.sparsifiable()}
        opt = SGD(model.params(), 0.05, momentum=0.9)
        method = make_method(cfg, shapes, 16, backend.host_rng(1), options=options)
        method.attach(model, opt)
        return model, opt, method

    model, opt, method = fresh()
    for step in range(1, 7):                                   # steps 6..8 accumulate for 8
        train_step(model, opt, *batches[step], step, method)
    save_checkpoint(tmp_path / "c.npz", model, opt, method, TrainState(step=6))
    copy = fresh()
    assert load_checkpoint(tmp_path / "c.npz", *copy).step == 6
    for step in range(7, 12):
        train_step(model, opt, *batches[step], step, method)
        train_step(copy[0], copy[1], *batches[step], step, copy[2])
    for name, p in model.params().items():
        assert np.array_equal(p, copy[0].params()[name]), name
    for name, m in method.masks.items():
        assert np.array_equal(m, copy[2].masks[name]), name
    assert method.records.updates == copy[2].records.updates


def test_ctrl_c_in_the_last_batch_of_an_epoch_resumes_with_the_right_history(tmp_path, monkeypatch,
                                                                           capsys):
    """Ctrl-C during an epoch's last batch stops with that epoch trained but not recorded; the
    resumed run records it with the learning rate it was trained at (it used to record the
    optimizer's initial rate), so metrics.json equals an uninterrupted run's."""
    from rigl_np import cli, train

    args = ["train", "--dataset", "synthetic", "--method", "set", "--epochs", "2",
            "--batch-size", "500", "--delta-t", "3", "--checkpoint-every", "100"]
    assert cli.main([*args, "--out", str(tmp_path / "ref")]) == 0
    real_step = train.train_step

    def ctrl_c_in_batch_10(model, optimizer, xb, yb, step, method=None):
        if step == 10:                                   # the last of the first epoch's 10
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(model, optimizer, xb, yb, step, method)

    monkeypatch.setattr(train, "train_step", ctrl_c_in_batch_10)
    assert cli.main([*args, "--out", str(tmp_path / "run")]) == 130
    assert "checkpoint saved at batch 10" in capsys.readouterr().err
    monkeypatch.undo()
    assert cli.main(["train", "--resume", str(tmp_path / "run")]) == 0
    ref, run = (without_timing(json.loads((tmp_path / d / "metrics.json").read_text()))
                for d in ("ref", "run"))
    assert run["history"][0]["lr"] == ref["history"][0]["lr"] < 0.05
    assert run == ref
