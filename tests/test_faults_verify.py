"""Fault injection for ``verify`` and its one-file name ``check-update``, at the command line only
(what the checks mean is tests/test_verify_*.py): every bad file ends with exit 2, a message whose
last line names the file, no traceback, and the file unchanged."""
import io
import zipfile

import numpy as np
import pytest

from test_faults_common import assert_clean, assert_unchanged, outcome, snapshot

RNG = np.random.default_rng(0)
W = RNG.standard_normal((8, 8)).astype(np.float32)
M = RNG.random((8, 8)) < 0.5
G = RNG.standard_normal((8, 8)).astype(np.float32)
GOOD = dict(weight=W, mask=M, grad=G, drop_fraction=0.3, new_mask=M)


def _npz(**changes):
    def write(path):
        arrays = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
        np.savez(path, **arrays)
    return write


def _with(key, fill):
    value = GOOD[key].copy()
    value[1, 1] = fill
    return value


def _bytes(data):
    return lambda path: path.write_bytes(data)


def _npy_renamed(path):
    np.save(path.with_suffix(".npy"), W)
    path.with_suffix(".npy").rename(path)


FILES = {
    "an empty file": (_bytes(b""), "is empty"),
    "a .npy renamed": (_npy_renamed, "is a .npy file (one array), not an .npz archive"),
    "a text file": (_bytes(b"weight,mask\n1,0\n"), "u.npz"),
    "a truncated archive": (lambda p: (_npz()(p), p.write_bytes(p.read_bytes()[:200])), "u.npz"),
    "a drop fraction that is an array": (_npz(drop_fraction=np.array([0.3, 0.2])),
                                         "'drop_fraction' must be a scalar"),
    "a drop fraction that is a string": (_npz(drop_fraction="abc"), "'drop_fraction' must be a number"),
    "a NaN drop fraction": (_npz(drop_fraction=np.nan), "'drop_fraction' must lie in [0, 1]"),
    "string weights": (_npz(weight=np.full((8, 8), "a")), "'weight' must hold real numbers"),
    "NaN weights": (_npz(weight=_with("weight", np.nan)), "'weight' holds 1 NaN or infinite"),
    "an inf gradient": (_npz(grad=_with("grad", np.inf)), "'grad' holds 1 NaN or infinite"),
    "a pickled member": (_npz(drop_fraction=np.array([{}], dtype=object)),
                         "holds Python objects (a pickle)"),
    "a missing key": (_npz(new_mask=None), "u.npz"),
    "a scalar weight": (_npz(weight=np.float32(1), mask=True, grad=1.0, new_mask=True),
                        "weight must be an array"),
}


@pytest.mark.parametrize("command", ["verify", "check-update"])
@pytest.mark.parametrize("case", FILES)
def test_a_bad_update_file_is_one_clear_error(tmp_path, capsys, command, case):
    path = tmp_path / "u.npz"
    write, phrase = FILES[case]
    write(path)
    before = snapshot(tmp_path)
    code, out, err = outcome([command, path], capsys)
    assert_clean(code, err, 2, phrase)
    assert "error" not in out.lower()
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("command", ["verify", "check-update"])
def test_a_missing_path_is_one_clear_error(tmp_path, capsys, command):
    code, _, err = outcome([command, tmp_path / "nope.npz"], capsys)
    assert_clean(code, err, 2, "nope.npz: no such file or folder")


@pytest.mark.parametrize("command", ["verify", "check-update"])
def test_an_unused_member_is_never_read(tmp_path, capsys, command):
    """A member no check needs, whose header promises 4 GB that are not there, is never read:
    a correct update file with it still verifies (exit 0)."""
    from rigl_np.rigl import rigl_update

    path = tmp_path / "u.npz"
    np.savez(path, **{**GOOD, "new_mask": rigl_update(W, M, G, 0.3).mask})
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (10**9,)})
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("junk.npy", np.lib.format.magic(1, 0) + header.getvalue())
    code, out, err = outcome([command, path], capsys)
    assert code == 0 and "Traceback" not in err, err
