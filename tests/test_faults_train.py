"""Fault injection for ``train``: bad options, claimed and damaged run folders, file-system
errors, divergence, leftovers and ``--data-dir``. Each case: exit code, one message naming the
problem, no traceback, every file that existed before unchanged (test_faults_common)."""
import errno
import json
import os

import numpy as np
import pytest

from test_faults_common import (RUN, assert_clean, assert_unchanged, copy_run, finished,  # noqa: F401
                                make_run, outcome, python_m, snapshot)

FAST = ["--dataset", "synthetic", "--epochs", "1", "--batch-size", "500"]

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

def _edit_json(name, edit):
    def damage(run):
        data = json.loads((run / name).read_text())
        edit(data)
        (run / name).write_text(json.dumps(data))
    return damage


def _edit_checkpoint(edit):
    def damage(run):
        with np.load(run / "checkpoint.npz", allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        edit(arrays)
        np.savez(run / "checkpoint.npz", **arrays)
    return damage


def _flip_byte(run):
    data = bytearray((run / "checkpoint.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (run / "checkpoint.npz").write_bytes(bytes(data))


def _truncate(name, size):
    def damage(run):
        with open(run / name, "r+b") as f:
            f.truncate(size)
    return damage


def _meta(edit):
    def change(arrays):
        meta = json.loads(str(arrays["json"]))
        edit(meta)
        arrays["json"] = np.asarray(json.dumps(meta))
    return change


def _other_runs_checkpoint(run):
    other = make_run(run.parent / "other", "--seed", "7")
    (run / "checkpoint.npz").write_bytes((other / "checkpoint.npz").read_bytes())


DAMAGE = {
    "checkpoint truncated": (_truncate("checkpoint.npz", 1000), "checkpoint.npz is damaged"),
    "checkpoint empty": (_truncate("checkpoint.npz", 0), "checkpoint.npz is damaged"),
    "checkpoint bit-flipped": (_flip_byte, "Bad CRC-32"),
    "checkpoint of another run": (_other_runs_checkpoint, "belongs to another run (it differs "
                                  "from config.json in optim.seed)"),
    "checkpoint: a (1, 784) fc1": (_edit_checkpoint(lambda a: a.update(
        {"param/fc1.weight": a["param/fc1.weight"][:1]})),
        "param/fc1.weight is float32 (1, 784), expected float32 (300, 784)"),
    "checkpoint: int8 weights": (_edit_checkpoint(lambda a: a.update(
        {"param/fc2.weight": a["param/fc2.weight"].astype(np.int8)})), "param/fc2.weight is int8"),
    "checkpoint: a missing key": (_edit_checkpoint(lambda a: a.pop("opt/fc1.weight/momentum")),
                                  "missing opt/fc1.weight/momentum"),
    "checkpoint: an unknown key": (_edit_checkpoint(lambda a: a.update(extra=np.zeros(3))),
                                   "unexpected key extra"),
    "checkpoint: a mask of another shape": (_edit_checkpoint(lambda a: a.update(
        {"method/mask/fc2.weight": np.ones((3, 3), bool)})), "method/mask/fc2.weight is bool (3, 3)"),
    "checkpoint: a pickle": (_edit_checkpoint(lambda a: a.update(
        json=np.asarray([{"a": 1}], dtype=object))), "holds Python objects (a pickle)"),
    "checkpoint: garbled JSON": (_edit_checkpoint(lambda a: a.update(json=np.asarray("{bad"))),
                                 "JSONDecodeError"),
    "checkpoint: inf weights": (_edit_checkpoint(lambda a: a["param/fc2.weight"].__setitem__(
        (0, 0), np.inf)), "param/fc2.weight hold inf or NaN"),
    "checkpoint: a position off the run": (_edit_checkpoint(_meta(lambda m: m["state"].update(
        step=m["state"]["step"] + 1))), "does not fit a run of 2 epochs of 10 batches"),
    "checkpoint: a broken RNG state": (_edit_checkpoint(_meta(lambda m: m["method"].update(
        rng={"bit_generator": "nonsense"}))), "checkpoint.npz is damaged"),
    "checkpoint renamed": (lambda run: (run / "checkpoint.npz").rename(run / "ck.npz"),
                           "has no checkpoint.npz to resume from (was it moved or deleted?)"),
    "config truncated": (_truncate("config.json", 50), "config.json is not valid JSON"),
    "config a list": (lambda run: (run / "config.json").write_text("[1, 2]"),
                      "config.json: expected a JSON object of groups, found list"),
    "config: an unknown key": (_edit_json("config.json", lambda c: c["optim"].update(foo=1)),
                               "'optim' has unknown key(s) ['foo']"),
    "config: a missing key": (_edit_json("config.json", lambda c: c["optim"].pop("lr")),
                              "'optim' has missing key(s) ['lr']"),
    "config: a missing group": (_edit_json("config.json", lambda c: c.pop("sparse")),
                                "missing the group(s) ['sparse']"),
    "config: an invalid value": (_edit_json("config.json", lambda c: c["sparse"].update(
        sparsity=2.0)), "--sparsity must lie in [0, 1), got 2.0"),
    "config: a string epochs": (_edit_json("config.json", lambda c: c["optim"].update(
        epochs="ten")), "--epochs must be an integer, got 'ten'"),
    "config: another method": (_edit_json("config.json", lambda c: c["sparse"].update(
        method="set")), "differs from config.json in sparse.method"),
    "config: another model": (_edit_json("config.json", lambda c: c["model"].update(
        model="lenet5")), "differs from config.json in model.model"),
    "config: garbled changes": (_edit_json("config.json", lambda c: c.update(changes=3)),
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
    _edit_json("config.json", lambda c: c["run"].update(backend="cupy"))(run)
    before = snapshot(run)
    code, _, err = outcome(["train", "--resume", run], capsys)
    assert_clean(code, err, 2, "was trained with --backend cupy", "resume it on a machine")
    assert_unchanged(before, run)


# --- file-system errors ----------------------------------------------------------------------

def _fail_on_call(monkeypatch, module, name, n, error):
    """Make ``module.name`` raise ``error`` from its ``n``-th call on."""
    real, calls = getattr(module, name), []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) >= n:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, capsys, monkeypatch):
    from rigl_np import checkpoint

    _fail_on_call(monkeypatch, checkpoint, "atomic_write_bytes", 3,
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

    _fail_on_call(monkeypatch, Figure, "savefig", 2, OSError(errno.ENOSPC, "No space left on device"))
    code, out, err = outcome(["train", *RUN, "--out", tmp_path / "run"], capsys)
    assert code == 0 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("warning: the run is complete, but its "
                                                   "figures were not written")
    assert (tmp_path / "run" / "metrics.json").exists()


def test_a_full_disk_while_writing_the_results(tmp_path, capsys, monkeypatch):
    from rigl_np import experiment

    _fail_on_call(monkeypatch, experiment, "write_json", 2,
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
    stale = run / ".checkpoint.npz.k3x9_q2z.tmp"
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
    (cache / ".file.gz.abcd1234.part").write_bytes(b"half a download")

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
