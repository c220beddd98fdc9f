"""What every fault-injection test checks, and the run folders they damage.

A fault (a bad option, a damaged file, a full disk, Ctrl-C) must end the command with its exit
code (2 bad input, 1 runtime failure, 130 interrupted), a short message on stderr whose last line
names the problem, no traceback, nothing on stdout that looks like an error, and every file that
existed before byte-identical afterwards. ``outcome`` runs one command in this process (through
``rigl_np.cli.main``, the error boundary included); ``assert_clean`` and ``assert_unchanged``
are the checks; ``edit_json``, ``edit_checkpoint``, ``edit_meta``, ``truncate`` damage a run
folder, ``fail_on_call`` makes a function fail (a full disk) and ``within`` turns a hang into
a failure. The suites are the
``test_faults_*.py`` files beside this one.
"""
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from rigl_np.cli import main

MAX_LINES = 12            # a long message (a data set not found) lists its places first
FAST = ["--dataset", "synthetic", "--epochs", "1", "--batch-size", "500"]
RUN = ["--dataset", "synthetic", "--method", "rigl", "--sparsity", "0.8", "--epochs", "2",
       "--batch-size", "500", "--delta-t", "4", "--checkpoint-every", "3"]


def outcome(argv, capsys) -> tuple:
    """(exit code, stdout, stderr) of ``python -m rigl_np *argv``, run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:                      # argparse's own usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean(code, err, expected: int, *phrases) -> str:
    """Exit ``expected``, no traceback, a few lines whose last names the problem (``phrases``)."""
    assert code == expected, err
    assert "Traceback" not in err and 'File "' not in err, err
    lines = err.strip().splitlines()
    assert lines, "no message on stderr"
    if code == 2 and lines[-1].startswith("python -m rigl_np"):     # argparse: usage, then error
        assert ": error: " in lines[-1]
    else:
        assert len(lines) <= MAX_LINES, err
        assert lines[-1].startswith(("error: ", "interrupted")), err
    for phrase in phrases:
        assert phrase in lines[-1], f"{phrase!r} not in the last line: {lines[-1]!r}"
    return lines[-1]


def snapshot(folder) -> dict:
    """``{relative path: sha256}`` of every file under ``folder``."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_unchanged(before: dict, folder) -> None:
    """Every file of ``before`` is still there, byte for byte (new files are the caller's)."""
    after = snapshot(folder)
    changed = sorted(k for k, digest in before.items() if after.get(k) != digest)
    assert not changed, f"changed or removed: {changed}"


def make_run(folder: Path, *extra) -> Path:
    """A finished run (rigl on the synthetic data, 2 epochs of 10 batches) in ``folder``,
    trained through the CLI without its figures."""
    from rigl_np import config
    from rigl_np.cli import build_parser
    from rigl_np.experiment import run

    cfgs = config.from_namespace(build_parser().parse_args(["train", *RUN, *extra,
                                                           "--out", str(folder)]))
    run(cfgs, log=lambda line: None)
    return folder


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> Path:
    """A finished run folder; copy it before damaging it (``copy_run``)."""
    return make_run(tmp_path_factory.mktemp("faults") / "finished")


def copy_run(source: Path, dest: Path, stopped: bool = False) -> Path:
    """A copy of run folder ``source``; ``stopped``: without the files a finished run adds, so
    that ``--resume`` has work to do (its checkpoint is the final one)."""
    shutil.copytree(source, dest)
    if stopped:
        for name in ("metrics.json", "history.csv", "masks.npz"):
            (dest / name).unlink()
    return dest


# --- damage: what the fault suites do to a run folder ----------------------------------------

def edit_json(name, edit):
    """A damage that edits JSON file ``name`` of a run folder with ``edit(data)``."""
    def damage(run):
        data = json.loads((run / name).read_text())
        edit(data)
        (run / name).write_text(json.dumps(data))
    return damage


def edit_npz(name, edit):
    """A damage that edits the arrays (a dict) of .npz file ``name`` of a run folder with
    ``edit(arrays)``."""
    def damage(run):
        with np.load(run / name, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        edit(arrays)
        np.savez(run / name, **arrays)
    return damage


def edit_checkpoint(edit):
    """A damage that edits the checkpoint's arrays (a dict) with ``edit(arrays)``."""
    return edit_npz("checkpoint.npz", edit)


def truncate(name, size):
    """A damage that cuts file ``name`` to ``size`` bytes."""
    def damage(run):
        with open(run / name, "r+b") as f:
            f.truncate(size)
    return damage


def edit_meta(edit):
    """An ``edit_checkpoint`` edit of the checkpoint's JSON (``edit(meta)``)."""
    def change(arrays):
        meta = json.loads(str(arrays["json"]))
        edit(meta)
        arrays["json"] = np.asarray(json.dumps(meta))
    return change


def fail_on_call(monkeypatch, module, name, n, error):
    """Make ``module.name`` raise ``error`` from its ``n``-th call on."""
    real, calls = getattr(module, name), []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) >= n:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


ZIP_FIELDS = {"method": (8, 10), "flags": (6, 8), "version": (4, 6)}   # local, central offsets
TOKENIZER = b"{'descr': '<f4', 'fortran_order': False, 'shape': (8, 8), 'x\n"  # an open string


def patch_zip(path, field: str, value: int) -> None:
    """Set ``field`` (compression ``method``, ``flags``, ``version`` needed) of every member of
    zip ``path``, in its local and its central header: a zip feature a reader may not support."""
    data = bytearray(Path(path).read_bytes())
    for signature, offset in ((b"PK\x03\x04", ZIP_FIELDS[field][0]),
                              (b"PK\x01\x02", ZIP_FIELDS[field][1])):
        i = data.find(signature)
        while i >= 0:
            struct.pack_into("<H", data, i + offset, value)
            i = data.find(signature, i + 4)
    Path(path).write_bytes(bytes(data))


def bad_npy_header(path, key: str, header: bytes) -> None:
    """Replace member ``key`` of ``.npz`` ``path`` by an ``.npy`` whose header is ``header``."""
    with zipfile.ZipFile(path) as z:
        members = {info.filename: z.read(info) for info in z.infolist()}
    members[f"{key}.npy"] = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


@contextmanager
def within(seconds: int):
    """Fail the test (``TimeoutError``) if the body runs longer than ``seconds``: a hang is a
    failure, not a stuck suite (SIGALRM also interrupts a blocking ``open`` of a FIFO)."""
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def python_m(*args, env=None, **kw) -> subprocess.Popen:
    """``python -m rigl_np *args`` in its own process group (so a Ctrl-C reaches all of it)."""
    return subprocess.Popen([sys.executable, "-m", "rigl_np", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            env=dict(os.environ, OPENBLAS_NUM_THREADS="1", **(env or {})), **kw)


def test_the_checks_catch_what_they_should(tmp_path, capsys):
    """The helpers themselves: a traceback, a wrong code and a changed file are all caught."""
    with pytest.raises(AssertionError):
        assert_clean(1, 'Traceback (most recent call last):\n  File "x"\nerror: boom\n', 1)
    with pytest.raises(AssertionError):
        assert_clean(1, "error: boom\n", 2)
    with pytest.raises(AssertionError):
        assert_clean(2, "error: boom\n", 2, "bang")
    (tmp_path / "a").write_text("1")
    before = snapshot(tmp_path)
    (tmp_path / "a").write_text("2")
    with pytest.raises(AssertionError):
        assert_unchanged(before, tmp_path)
    code, out, err = outcome(["train", "--epochs", "0"], capsys)
    assert_clean(code, err, 2, "--epochs must lie in [1, 100000], got 0")


def test_debug_shows_the_traceback_of_a_handled_failure(tmp_path):
    """RIGL_NP_DEBUG=1: the traceback first, the same one-line message last."""
    (tmp_path / "config.json").write_text("{")
    plain = python_m("train", "--resume", tmp_path)
    debug = python_m("train", "--resume", tmp_path, env={"RIGL_NP_DEBUG": "1"})
    (_, plain_err), (_, debug_err) = plain.communicate(timeout=60), debug.communicate(timeout=60)
    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain_err and "Traceback (most recent call last)" in debug_err
    assert "config.json is not valid JSON" in plain_err.splitlines()[-1]
    assert debug_err.splitlines()[-1] == plain_err.splitlines()[-1]


def test_a_closed_stdout_is_one_line_not_a_traceback(tmp_path):
    proc = python_m("train", "--dataset", "synthetic", "--epochs", "1", "--batch-size", "500",
                    "--out", tmp_path / "run")
    proc.stdout.close()                                  # as `| head -0` would
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err and "Exception ignored" not in err
    assert err.strip().splitlines()[-1].startswith("error: ")
