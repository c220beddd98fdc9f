"""Fault injection for ``train``: bad options, claimed and damaged run folders. Each case: exit
code, one message naming the problem, no traceback, every file that existed before unchanged
(test_faults_common). File-system errors, divergence, leftovers and ``--data-dir`` are in
test_faults_train_disk.py."""
import json
from dataclasses import asdict

import numpy as np
import pytest

from rigl_np.methods import get
from test_faults_common import (FAST, RUN, assert_clean, assert_unchanged, copy_run,  # noqa: F401
                                edit_checkpoint, edit_json, edit_meta, finished, make_run,
                                outcome, snapshot, truncate)

# --- options: refused with the real reason before anything is created -----------------------

OPTIONS = [
    (["--lr", "nan"], "--lr must be a finite number, got nan"),
    (["--lr", "inf"], "--lr must be a finite number, got inf"),
    (["--lr", "-0.1"], "--lr must be positive, got -0.1"),
    (["--lr", "0"], "--lr must be positive, got 0.0"),
    (["--momentum", "-0.1"], "--momentum must lie in [0, 1), got -0.1"),
    (["--momentum", "1"], "--momentum must lie in [0, 1), got 1.0"),
    (["--momentum", "nan"], "--momentum must be a finite number, got nan"),
    (["--weight-decay=-1e-4"], "--weight-decay must be at least 0"),
    (["--weight-decay", "inf"], "--weight-decay must be a finite number"),
    (["--warmup-epochs", "-1"], "--warmup-epochs must lie in [0, --epochs = 1], got -1.0"),
    (["--warmup-epochs", "5"], "--warmup-epochs must lie in [0, --epochs = 1], got 5.0"),
    (["--seed", "-1"], "--seed must be at least 0"),
    (["--method", "srigl", "--gamma-sal", "-0.5"], "--gamma-sal must lie in [0, 1], got -0.5"),
    (["--method", "srigl", "--gamma-sal", "nan"], "--gamma-sal must be a finite number"),
    (["--snapshot-every", "-1"], "--snapshot-every must be at least 0, got -1"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be at least 1, got 0"),
    (["--delta-t", "1"], "rigl skips the optimizer step on those"),
    (["--method", "srigl", "--delta-t", "1"], "srigl skips the optimizer step on those"),
    (["--delta-t", "0"], "--delta-t must be at least 1, got 0"),
    (["--sparsity", "nan"], "--sparsity must be a finite number, got nan"),
    (["--sparsity", "1"], "--sparsity must lie in [0, 1), got 1.0"),
    (["--alpha", "1.5"], "--alpha must lie in [0, 1], got 1.5"),
    (["--t-end-fraction", "0"], "--t-end-fraction must lie in (0, 1], got 0.0"),
    (["--epochs", "0"], "--epochs must lie in [1, 100000], got 0"),
    (["--epochs", "1000000000"], "--epochs must lie in [1, 100000], got 1000000000"),
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--grad-accumulation", "0"], "--grad-accumulation must be at least 1, got 0"),
    (["--grad-accumulation", "5", "--delta-t", "5"], "--grad-accumulation 5 must be below --delta-t 5"),
    (["--nesterov", "--momentum", "0"], "--nesterov needs --optimizer sgd and --momentum above 0"),
    (["--optimizer", "adam", "--nesterov"], "--nesterov needs --optimizer sgd"),
    (["--model", "cnn"], "--model cnn expects 3x32x32 images (cifar10), not synthetic"),
    (["--data-dir", "/tmp"], "--data-dir is not used by --dataset synthetic"),
    (["--method", "lottery"], "invalid choice: 'lottery'"),
    (["--epochs", "1.5"], "invalid int value: '1.5'"),
]


@pytest.mark.parametrize("args,phrase", OPTIONS, ids=[" ".join(a) for a, _ in OPTIONS])
def test_bad_option_is_refused_before_anything_is_written(tmp_path, capsys, args, phrase):
    code, out, err = outcome(["train", *FAST, *args, "--out", tmp_path / "run"], capsys)
    assert_clean(code, err, 2, phrase)
    assert not (tmp_path / "run").exists()


# --- a run folder is claimed ----------------------------------------------------------------

CLAIMS = {
    "finished run, no --resume": (lambda run: ["--out", run], "already holds a finished run"),
    "stopped run, no --resume": (lambda run: ["--out", run], "already holds a stopped run"),
    "--resume with --epochs": (lambda run: ["--resume", run, "--epochs", "5"],
                               "--epochs cannot be given with it (only --lr can)"),
    "--resume with --out": (lambda run: ["--resume", run, "--out", run],
                            "--out cannot be given with it"),
    "--resume with --overwrite": (lambda run: ["--resume", run, "--overwrite"],
                                  "--overwrite cannot be given with it"),
    "--resume with --method": (lambda run: ["--resume", run, "--method", "set"],
                               "--method cannot be given with it"),
    "--resume of a finished run with --lr": (lambda run: ["--resume", run, "--lr", "0.01"],
                                             "has finished training; --lr can only change"),
}


@pytest.mark.parametrize("case", CLAIMS)
def test_an_existing_run_is_never_replaced_silently(tmp_path, capsys, finished, case):
    run = copy_run(finished, tmp_path / "run", stopped="stopped" in case)
    before = snapshot(run)
    make_args, phrase = CLAIMS[case]
    args = make_args(run)
    code, _, err = outcome(["train", *(FAST if "--resume" not in args else []), *args], capsys)
    assert_clean(code, err, 2, phrase)
    assert_unchanged(before, run)


def test_a_folder_being_written_by_another_process_is_refused(tmp_path, capsys, finished):
    from rigl_np.atomic import lock_folder

    run = copy_run(finished, tmp_path / "run", stopped=True)
    before = snapshot(run)
    with lock_folder(run):                    # what a running train holds
        code, _, err = outcome(["train", "--resume", run], capsys)
    assert_clean(code, err, 2, f"{run} is in use by another rigl_np process")
    assert_unchanged(before, run)


def test_overwrite_replaces_a_finished_run(tmp_path, capsys, finished):
    run = copy_run(finished, tmp_path / "run")
    old = json.loads((run / "config.json").read_text())
    code, _, err = outcome(["train", *RUN, "--seed", "3", "--out", run, "--overwrite"], capsys)
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["optim"]["seed"] == 3 != old["optim"]["seed"]


@pytest.mark.parametrize("make,phrase", [
    (lambda tmp: tmp / "file", "is a file, not a run folder"),
    (lambda tmp: tmp / "grid", "is a compare folder, not a run folder"),
    (lambda tmp: tmp / "file" / "run", "Not a directory"),
    (lambda tmp: tmp / ("x" * 300), "File name too long"),
    (lambda tmp: tmp / "nowhere", "no run there (no config.json)"),
])
def test_an_out_or_resume_path_that_cannot_be_used(tmp_path, capsys, make, phrase):
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "grid" / "runs").mkdir(parents=True)
    (tmp_path / "grid" / "results.csv").write_text("model\n")
    before = snapshot(tmp_path)
    path = make(tmp_path)
    args = ["--resume", path] if path.name == "nowhere" else [*FAST, "--out", path]
    code, _, err = outcome(["train", *args], capsys)
    assert_clean(code, err, 2, phrase)
    assert_unchanged(before, tmp_path)


# --- a damaged run folder: every file checked before any array is used ----------------------

def _flip_byte(run):
    data = bytearray((run / "checkpoint.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (run / "checkpoint.npz").write_bytes(bytes(data))


def _other_runs_checkpoint(run):
    other = make_run(run.parent / "other", "--seed", "7")
    (run / "checkpoint.npz").write_bytes((other / "checkpoint.npz").read_bytes())


DAMAGE = {
    "checkpoint truncated": (truncate("checkpoint.npz", 1000), "checkpoint.npz is damaged"),
    "checkpoint empty": (truncate("checkpoint.npz", 0), "checkpoint.npz is damaged"),
    "checkpoint bit-flipped": (_flip_byte, "Bad CRC-32"),
    "checkpoint of another run": (_other_runs_checkpoint, "belongs to another run (it differs "
                                  "from config.json in optim.seed)"),
    "checkpoint: a (1, 784) fc1": (edit_checkpoint(lambda a: a.update(
        {"param/fc1.weight": a["param/fc1.weight"][:1]})),
        "param/fc1.weight is float32 (1, 784), expected float32 (300, 784)"),
    "checkpoint: int8 weights": (edit_checkpoint(lambda a: a.update(
        {"param/fc2.weight": a["param/fc2.weight"].astype(np.int8)})), "param/fc2.weight is int8"),
    "checkpoint: a missing key": (edit_checkpoint(lambda a: a.pop("opt/fc1.weight/momentum")),
                                  "missing opt/fc1.weight/momentum"),
    "checkpoint: an unknown key": (edit_checkpoint(lambda a: a.update(extra=np.zeros(3))),
                                   "unexpected key extra"),
    "checkpoint: a mask of another shape": (edit_checkpoint(lambda a: a.update(
        {"method/mask/fc2.weight": np.ones((3, 3), bool)})), "method/mask/fc2.weight is bool (3, 3)"),
    "checkpoint: a pickle": (edit_checkpoint(lambda a: a.update(
        json=np.asarray([{"a": 1}], dtype=object))), "holds Python objects (a pickle)"),
    "checkpoint: garbled JSON": (edit_checkpoint(lambda a: a.update(json=np.asarray("{bad"))),
                                 "JSONDecodeError"),
    "checkpoint: inf weights": (edit_checkpoint(lambda a: a["param/fc2.weight"].__setitem__(
        (0, 0), np.inf)), "param/fc2.weight hold inf or NaN"),
    "checkpoint: a position off the run": (edit_checkpoint(edit_meta(lambda m: m["state"].update(
        step=m["state"]["step"] + 1))), "training-state step is 21, not an integer in [0, 20]"),
    "checkpoint: a broken RNG state": (edit_checkpoint(edit_meta(lambda m: m["method"].update(
        rng={"bit_generator": "nonsense"}))), "checkpoint.npz is damaged"),
    "checkpoint renamed": (lambda run: (run / "checkpoint.npz").rename(run / "ck.npz"),
                           "has no checkpoint.npz to resume from (was it moved or deleted?)"),
    "config truncated": (truncate("config.json", 50), "config.json is not valid JSON"),
    "config a list": (lambda run: (run / "config.json").write_text("[1, 2]"),
                      "config.json: expected a JSON object of groups, found list"),
    "config: an unknown key": (edit_json("config.json", lambda c: c["optim"].update(foo=1)),
                               "'optim' has unknown key(s) ['foo']"),
    "config: a missing key": (edit_json("config.json", lambda c: c["optim"].pop("lr")),
                              "'optim' has missing key(s) ['lr']"),
    "config: a missing group": (edit_json("config.json", lambda c: c.pop("sparse")),
                                "missing the group(s) ['sparse']"),
    "config: an invalid value": (edit_json("config.json", lambda c: c["sparse"].update(
        sparsity=2.0)), "--sparsity must lie in [0, 1), got 2.0"),
    "config: a string epochs": (edit_json("config.json", lambda c: c["optim"].update(
        epochs="ten")), "--epochs must be an integer, got 'ten'"),
    "config: another method": (edit_json("config.json", lambda c: (c["sparse"].update(
        method="set"), c.update(options=asdict(get("set").Options())))),
        "differs from config.json in sparse.method"),
    "config: options of another method": (edit_json("config.json", lambda c: c["sparse"].update(
        method="set")), "'options' has unknown key(s) ['grad_accumulation']"),
    "config: another model": (edit_json("config.json", lambda c: c["model"].update(
        model="lenet5")), "differs from config.json in model.model"),
    "config: garbled changes": (edit_json("config.json", lambda c: c.update(changes=3)),
                                "'changes' must be a list"),
    "config missing": (lambda run: (run / "config.json").unlink(), "no run there (no config.json)"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_resuming_a_damaged_run_folder_names_the_damaged_file(tmp_path, capsys, finished, case):
    run = copy_run(finished, tmp_path / "run", stopped=True)
    damage, phrase = DAMAGE[case]
    damage(run)
    before = snapshot(run)
    code, _, err = outcome(["train", "--resume", run], capsys)
    assert_clean(code, err, 2, phrase)
    assert_unchanged(before, run)


def test_a_cupy_run_resumed_without_a_gpu(tmp_path, capsys, finished):
    from rigl_np.backend import cupy_available

    if cupy_available():
        pytest.skip("a GPU is present: the run would resume")
    run = copy_run(finished, tmp_path / "run", stopped=True)
    edit_json("config.json", lambda c: c["run"].update(backend="cupy"))(run)
    before = snapshot(run)
    code, _, err = outcome(["train", "--resume", run], capsys)
    assert_clean(code, err, 2, "was trained with --backend cupy", "resume it on a machine")
    assert_unchanged(before, run)
