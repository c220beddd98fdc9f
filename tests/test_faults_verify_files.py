"""``verify`` and ``vectors`` on files they cannot or must not read, and outputs that must appear
whole (rigl_np.reading, verify/fileformat.Archive.reading, densities, schedule, vectors).

Zip features nobody here reads, ``.npy`` headers the tokenizer rejects, shapes of no layer or of
a rank the layout does not define, and counts that would take hours are bad input (exit 2, one
line naming the file); a FIFO never hangs verify; ``vectors`` appears whole or not at all, and
``verify`` refuses a vector set of which some vectors are missing.
"""
import errno
import json
import os

import numpy as np
import pytest

from test_faults_common import (TOKENIZER, assert_clean, assert_unchanged, bad_npy_header,
                                fail_on_call, outcome, patch_zip, snapshot, within)

RNG = np.random.default_rng(0)
W = RNG.standard_normal((8, 8)).astype(np.float32)
M = RNG.random((8, 8)) < 0.5
UPDATE = dict(weight=W, mask=M, grad=W, drop_fraction=0.3, new_mask=M)
SCHEDULE = dict(kind="schedule", steps=np.array([100, 200]), drop_fractions=np.array([0.3, 0.29]),
                alpha=0.3, delta_t=100, t_end=750, total_steps=1000)


def _update(patch=None):
    def write(path):
        np.savez(path, **UPDATE)
        if patch:
            patch(path)
    return write


def _densities(layout="out_in", **arrays):
    return lambda path: np.savez(path, kind="densities", density=0.1, distribution="erk",
                                 layout=layout, **arrays)


def _schedule(**changes):
    return lambda path: np.savez(path, **{**SCHEDULE, **changes})


FILES = {
    "compression method 99": (_update(lambda p: patch_zip(p, "method", 99)),
                              "That compression method is not supported"),
    "deflate64": (_update(lambda p: patch_zip(p, "method", 9)), "compression method"),
    "an encrypted member": (_update(lambda p: patch_zip(p, "flags", 1)), "is encrypted"),
    "zip version 12.7": (_update(lambda p: patch_zip(p, "version", 127)),
                         "zip file version 12.7"),
    "a header the tokenizer rejects": (_update(lambda p: bad_npy_header(p, "weight", TOKENIZER)),
                                       "key 'weight' is damaged (TokenError"),
    "a shape/ key of no layer": (_densities(**{"shape/": np.array([8, 8]), "density/": 0.1}),
                                 "key 'shape/' names no layer"),
    "a shape of no dimensions": (_densities(**{"shape/a": np.array([], int), "density/a": 0.1}),
                                 "key 'shape/a' must be a 1-D array of positive integers"),
    "a 5-D in_out kernel": (_densities("in_out", **{"shape/a": np.array([3, 3, 3, 4, 8]),
                                                    "density/a": 0.1}),
                            "layout in_out is defined for (in, out) and (kh, kw, in, out)"),
    "a 5-D in_out kernel with its mask": (_densities("in_out", **{
        "shape/a": np.array([3, 3, 3, 4, 8]), "mask/a": np.ones((3, 3, 3, 4, 8), bool)}),
        "key 'shape/a' is (3, 3, 3, 4, 8)"),
    "a 3-D in_out kernel": (_densities("in_out", **{"shape/a": np.array([3, 4, 8]),
                                                    "density/a": 0.1}), "layout in_out"),
    "total_steps 10**13": (_schedule(total_steps=10**13), "'total_steps' must lie in [1, "),
    "total_steps 1e300": (_schedule(total_steps=1e300), "'total_steps' must lie in [1, "),
    "total_steps 2**64 - 1": (_schedule(total_steps=np.uint64(2**64 - 1)), "'total_steps'"),
    "t_end 10**12 at delta_t 100": (_schedule(t_end=10**12, total_steps=10**12),
                                    "is more than the 1,000,000 updates verify checks"),
    "delta_t 1 over 10**9 steps": (_schedule(delta_t=1, t_end=10**9, total_steps=10**9),
                                   "is more than the 1,000,000 updates"),
    "delta_t 10**13": (_schedule(delta_t=10**13), "'delta_t' must lie in [1, "),
    "a step counter past 2**63": (lambda p: np.savez(p, **UPDATE, step=np.uint64(2**63)),
                                  "'step' must lie in [0, "),
    "a budget above the layer's size": (lambda p: np.savez(
        p, **UPDATE, method="srigl", budget=65), "'budget' must lie in [0, 64], got 65"),
}


@pytest.mark.parametrize("case", FILES)
def test_a_file_verify_cannot_read_is_bad_input(tmp_path, capsys, case):
    path = tmp_path / "u.npz"
    write, phrase = FILES[case]
    write(path)
    before = snapshot(tmp_path)
    with within(60):
        code, out, err = outcome(["verify", path], capsys)
    assert_clean(code, err, 2, "u.npz", phrase)
    assert out.startswith("verify: 0 results") and "1 could not be checked" in out, out
    assert_unchanged(before, tmp_path)


def test_a_schedule_of_10_to_the_10_batches_is_checked_at_once(tmp_path, capsys):
    """The example of issue 17 (it looped over every batch): a verdict, in well under a
    second."""
    np.savez(tmp_path / "s.npz", **{**SCHEDULE, "total_steps": 10**10})
    with within(30):
        code, out, err = outcome(["verify", tmp_path / "s.npz"], capsys)
    assert code == 1 and "differs [schedule]" in out and "10000000000 batches" in out, err


def test_a_long_schedule_is_checked_in_one_step_per_update(tmp_path, capsys):
    """10**9 batches with an update every 10**4: the check takes the 75,000 updates, not the
    batches (it took hours, one loop turn per batch)."""
    path = tmp_path / "s.npz"
    steps = np.arange(10**4, 75 * 10**7, 10**4)
    from rigl_np.rigl import drop_fraction
    fractions = np.array([drop_fraction(int(t), 0.3, 75 * 10**7) for t in steps])
    np.savez(path, **{**SCHEDULE, "steps": steps, "drop_fractions": fractions,
                      "delta_t": 10**4, "t_end": 75 * 10**7, "total_steps": 10**9})
    with within(60):
        code, out, err = outcome(["verify", path], capsys)
    assert code == 0 and "identical" in out, err


@pytest.mark.parametrize("command", ["verify", "check-update"])
def test_a_fifo_given_to_verify_is_refused_without_hanging(tmp_path, capsys, command):
    os.mkfifo(tmp_path / "u.npz")
    with within(30):
        code, _, err = outcome([command, tmp_path / "u.npz"], capsys)
    assert_clean(code, err, 2, "u.npz is a named pipe (FIFO), not a regular file")


def test_a_device_given_to_verify_is_refused_without_reading_it(capsys):
    with within(30):
        code, _, err = outcome(["verify", "/dev/null"], capsys)
    assert_clean(code, err, 2, "/dev/null is a character device, not a regular file")


# --- vectors: whole or not at all, and verify checks the set is whole ----------------------------

def test_vectors_on_a_full_disk_leave_nothing_half_written(tmp_path, capsys, monkeypatch):
    from rigl_np.verify import vectors

    fail_on_call(monkeypatch, vectors, "save_update", 8,
                 OSError(errno.ENOSPC, "No space left on device"))
    code, _, err = outcome(["vectors", tmp_path / "v"], capsys)
    assert_clean(code, err, 1, "No space left on device")
    assert sorted(os.listdir(tmp_path)) == []


def test_vectors_overwritten_on_a_full_disk_keep_the_old_set(tmp_path, capsys, monkeypatch):
    from rigl_np.verify import vectors

    out = tmp_path / "v"
    assert outcome(["vectors", out], capsys)[0] == 0
    before = snapshot(out)
    fail_on_call(monkeypatch, vectors, "save_update", 5,
                 OSError(errno.ENOSPC, "No space left on device"))
    code, _, err = outcome(["vectors", "--overwrite", out], capsys)
    assert_clean(code, err, 1, "No space left on device")
    assert_unchanged(before, out)
    assert sorted(os.listdir(tmp_path)) == ["v"] and len(before) == len(os.listdir(out))


def test_vectors_interrupted_leave_nothing(tmp_path, capsys, monkeypatch):
    from rigl_np.verify import vectors

    fail_on_call(monkeypatch, vectors, "save_update", 3, KeyboardInterrupt())
    code, _, err = outcome(["vectors", tmp_path / "v"], capsys)
    assert_clean(code, err, 130, "interrupted")
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def vector_set(tmp_path_factory):
    from rigl_np.cli import main

    out = tmp_path_factory.mktemp("vectors") / "v"
    assert main(["vectors", str(out)]) == 0
    return out


def _cut(vector_set, tmp_path, keep):
    import shutil

    out = tmp_path / "v"
    shutil.copytree(vector_set, out)
    for path in sorted(out.glob("*.npz"))[keep:]:
        path.unlink()
    return out


@pytest.mark.parametrize("keep", [0, 7, 13])
def test_verify_refuses_a_partial_vector_set(tmp_path, capsys, vector_set, keep):
    total = len(list(vector_set.glob("*.npz")))
    out = _cut(vector_set, tmp_path, keep)
    code, _, err = outcome(["verify", out], capsys)
    assert_clean(code, err, 2, f"vectors.json lists {total} vectors but",
                 f"{total - keep} are missing")


def test_verify_refuses_a_partial_set_inside_a_larger_folder(tmp_path, capsys, vector_set):
    _cut(vector_set, tmp_path / "ci", 10)
    code, _, err = outcome(["verify", tmp_path], capsys)
    assert_clean(code, err, 2, f"{len(list(vector_set.glob('*.npz'))) - 10} are missing")


@pytest.mark.parametrize("text,phrase", [
    ("{", "vectors.json is damaged (JSONDecodeError"),
    ('{"vectors": [{"file": "../x.npz"}]}', "a file name in it is not a plain name"),
    ('{"vectors": 3}', "vectors.json is damaged (TypeError"),
])
def test_verify_refuses_a_damaged_vector_manifest(tmp_path, capsys, vector_set, text, phrase):
    out = _cut(vector_set, tmp_path, 14)
    (out / "vectors.json").write_text(text)
    code, _, err = outcome(["verify", out], capsys)
    assert_clean(code, err, 2, phrase)


def test_a_vector_set_lists_every_file_it_holds(vector_set):
    index = json.loads((vector_set / "vectors.json").read_text())
    assert index["count"] == len(index["vectors"]) == len(list(vector_set.glob("*.npz")))
