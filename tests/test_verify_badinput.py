"""Bad input to ``verify``: exit code 2 and one line on stderr, with or without --json, for every
malformed file; members are read lazily, and a member too large is refused before reading."""
import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from rigl_np.rigl import rigl_update
from rigl_np.verify import fileformat, main


def arrays(shape=(20, 30)):
    """A correct update (rigl_np's own), as the keys of a single-layer file."""
    rng = np.random.default_rng(0)
    m = rng.random(shape) < 0.2
    w = (rng.standard_normal(shape) * m).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    return dict(weight=w, mask=m, grad=g, drop_fraction=np.float64(0.3),
                new_mask=rigl_update(w, m, g, 0.3).mask)


def write(path, **values):
    np.savez(path, **values)
    return path


def raw_member(header_shape, data: bytes, dtype="<f8"):
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False,
                                            "shape": header_shape})
    return buf.getvalue() + data


def run(capsys, path, *flags):
    code = main.main([str(path), *flags])
    out, err = capsys.readouterr()
    return code, out, err


def bad(tmp_path):
    """(name, file) for every malformed file, and the words its message must hold."""
    a = arrays()
    cases = {}

    def case(name, words, **values):
        cases[name] = (write(tmp_path / f"{name}.npz", **values), words)

    case("missing_keys", "missing key(s) ['drop_fraction', 'new_mask']",
         weight=a["weight"], mask=a["mask"], grad=a["grad"])
    case("wrong_shape", "has shape (5, 30), expected (20, 30)", **{**a, "grad": a["grad"][:5]})
    case("nan_weight", "NaN or infinite", **{**a, "weight": np.where(a["mask"], np.nan, 0)})
    case("inf_grad", "NaN or infinite", **{**a, "grad": np.full((20, 30), np.inf)})
    case("object_array", "holds Python objects",
         **{**a, "grad": np.array([1, "a", None], dtype=object)})
    case("f_array", "must be a scalar", **{**a, "drop_fraction": np.array([0.3, 0.3])})
    case("f_string", "must be a number", **{**a, "drop_fraction": np.array("0.3")})
    case("f_range", "must lie in [0, 1]", **{**a, "drop_fraction": np.array(1.5)})
    case("mask_values", "must be a mask", **{**a, "mask": a["mask"] * 2.5})
    case("new_version", "format_version 7 is newer", **a, format_version=7)
    case("bad_layout", "must be one of out_in, in_out", **a, layout="nchw")
    case("in_out_3d", "layout in_out is defined for", layout="in_out",
         **{k: (np.stack([v, v]) if np.ndim(v) else v) for k, v in a.items()})
    case("layer_without_weight", "layer 'fc2' has", **{f"fc1/{k}": v for k, v in a.items()},
         **{"fc2/mask": a["mask"]})
    case("set_without_scores", "missing key(s) ['grow_score']", **a, method="set")
    (tmp_path / "empty.npz").write_bytes(b"")
    cases["empty"] = (tmp_path / "empty.npz", "is empty")
    (tmp_path / "text.npz").write_text("weight,mask\n1,0\n")
    cases["text"] = (tmp_path / "text.npz", "is a text file")
    (tmp_path / "noise.npz").write_bytes(bytes(range(256)) * 4)
    cases["not_npz"] = (tmp_path / "noise.npz", "is not an .npz (zip) archive")
    np.save(tmp_path / "renamed.npy", a["weight"])
    (tmp_path / "renamed.npy").rename(tmp_path / "renamed.npz")
    cases["npy_renamed"] = (tmp_path / "renamed.npz", "is a .npy file")
    (tmp_path / "pickle.npz").write_bytes(b"\x80\x04\x95" + b"\x00" * 20)
    cases["pickle"] = (tmp_path / "pickle.npz", "looks like a pickle")
    with zipfile.ZipFile(tmp_path / "plainzip.npz", "w") as z:
        z.writestr("readme.txt", "hello")
    cases["zip_without_arrays"] = (tmp_path / "plainzip.npz", "no .npy members")
    with zipfile.ZipFile(tmp_path / "truncated.npz", "w") as z:
        for k, v in a.items():
            if k != "weight":
                buf = io.BytesIO()
                np.save(buf, v)
                z.writestr(f"{k}.npy", buf.getvalue())
        z.writestr("weight.npy", raw_member((10**9,), b"\x00" * 64))
    cases["declared_too_large"] = (tmp_path / "truncated.npz", "declares 8,000,000,000 bytes")
    cases["no_such_file"] = (tmp_path / "nothing_here.npz", "no such file or folder")
    (tmp_path / "emptydir").mkdir()
    cases["folder_without_npz"] = (tmp_path / "emptydir", "a folder with no .npz files")
    return cases


@pytest.mark.parametrize("as_json", [False, True])
def test_every_malformed_file_is_exit_2_and_one_line(tmp_path, capsys, as_json):
    for name, (path, words) in bad(tmp_path).items():
        code, out, err = run(capsys, path, *(["--json"] if as_json else []))
        assert code == 2, (name, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (name, err)
        assert "Traceback" not in out + err
        if as_json:
            summary = json.loads(out)["summary"]
            assert summary["exit_code"] == 2 and summary["errors"][0]["error"] in lines[0]


def test_through_python_m_there_is_no_traceback(tmp_path):
    path = write(tmp_path / "nan.npz", **{**arrays(), "grad": np.full((20, 30), np.nan)})
    for flags in ([], ["--json"]):
        done = subprocess.run([sys.executable, "-m", "rigl_np", "verify", str(path), *flags],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr


def test_a_bad_file_in_a_folder_does_not_hide_the_good_ones(tmp_path, capsys):
    good = arrays()
    write(tmp_path / "a_good.npz", **good)
    write(tmp_path / "b_bad.npz", weight=good["weight"])
    code, out, err = run(capsys, tmp_path)
    assert code == 2 and "a_good.npz: identical" in out and "b_bad.npz" in err


def test_unused_keys_are_never_decompressed(tmp_path, capsys):
    path = tmp_path / "extra.npz"
    np.savez_compressed(path, **arrays(), bias=np.arange(10000.0))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("bias.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    data[start:start + 400] = b"\xff" * 400                      # corrupt bias's deflate data
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as z, pytest.raises(Exception):
        z.read("bias.npy")                                       # really unreadable
    code, out, _ = run(capsys, path)
    assert code == 0 and "identical" in out


def test_a_member_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch, capsys):
    path = write(tmp_path / "u.npz", **arrays())
    read = []
    monkeypatch.setattr(fileformat, "available_memory", lambda: 1000)   # 1000 bytes "free"
    monkeypatch.setattr(fileformat.npy_format, "read_array",
                        lambda *a, **k: read.append(1) or pytest.fail("data read"))
    code, _, err = run(capsys, path)
    assert code == 2 and "more than the 0.0 GiB of memory available" in err and not read


def test_a_failure_while_checking_is_exit_1_and_one_line(tmp_path, monkeypatch, capsys):
    path = write(tmp_path / "u.npz", **arrays())

    def broken(*args, **kwargs):
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr(main, "classify", broken)
    for flags in ([], ["--json"]):
        code, out, err = run(capsys, path, *flags)
        assert code == 1 and len(err.strip().splitlines()) == 1
        assert "something unforeseen" in err and "bug in rigl_np.verify" in err
