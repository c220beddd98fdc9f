"""The data package: IDX and CIFAR-10 readers, search order, verified downloads, batching.

Every test runs without the network: an autouse fixture points the cache at a temporary folder,
clears ``RIGL_NP_DATA`` and replaces ``sources.fetch_url`` (the only function that downloads) with
one that fails; download tests install their own fake server. Files are tiny and written here.
The real Fashion-MNIST is loaded only when the Debian package has installed it.
"""
import dataclasses
import gzip
import hashlib
import io
import pathlib
import tarfile

import numpy as np
import pytest

from rigl_np import data
from rigl_np.data import cifar10, idx, mnist, sources
from rigl_np.data import DataError, DataNotFoundError

SYSTEM_FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private cache, no RIGL_NP_DATA, and no network."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("RIGL_NP_DATA", raising=False)

    def no_network(url, out):
        raise OSError("network disabled in tests")
    monkeypatch.setattr(sources, "fetch_url", no_network)


def serve(monkeypatch, files, calls=None):
    """Fake server: a URL whose last part is a key of ``files`` gets those bytes, others fail."""
    def fetch(url, out):
        if calls is not None:
            calls.append(url)
        name = url.rsplit("/", 1)[-1]
        if name not in files:
            raise OSError(f"404 {url}")
        out.write(files[name])
    monkeypatch.setattr(sources, "fetch_url", fetch)


def tiny_idx_arrays(seed=0, n_train=12, n_test=5):
    """Four small MNIST-like arrays keyed like ``mnist.FILES``."""
    rng = np.random.default_rng(seed)
    return {"train_x": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "train_y": rng.integers(0, 10, n_train).astype(np.uint8),
            "test_x": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "test_y": rng.integers(0, 10, n_test).astype(np.uint8)}


def write_idx_set(folder, arrays, gz=True, keys=tuple(mnist.FILES)):
    folder.mkdir(parents=True, exist_ok=True)
    for key in keys:
        idx.write_idx(folder / (mnist.FILES[key] + (".gz" if gz else "")), arrays[key])
    return folder


def idx_bytes(array):
    """The uncompressed IDX encoding of a uint8 array."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.tobytes()


def tiny_source(tmp_path, arrays=None, **changes):
    """An ``IdxSource`` like Fashion-MNIST whose checksums are those of ``arrays`` (or none)."""
    sha = None if arrays is None else {mnist.FILES[k]: hashlib.sha256(idx_bytes(a)).hexdigest()
                                       for k, a in arrays.items()}
    base = dict(name="tiny", title="Tiny", folder="tiny", sha256=sha,
                mirrors=("http://mirror-a.invalid/", "http://mirror-b.invalid/"),
                system_dir=str(tmp_path / "system"), package_hint="apt-get install dataset-tiny")
    return dataclasses.replace(mnist.FASHION_MNIST, **{**base, **changes})


# --- IDX format -----------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    idx.write_idx(tmp_path / f"a{suffix}", array)
    back = idx.read_idx(tmp_path / f"a{suffix}")
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)


def test_idx_bad_magic_names_the_file(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x08\x03" + bytes(20))
    with pytest.raises(DataError, match=r"bad-idx3-ubyte.*magic"):
        idx.read_idx(path)


@pytest.mark.parametrize("cut, match", [(3, "too short"), (10, "header cut short"),
                                        (-1, "truncated")])
def test_idx_truncated_is_a_data_error(tmp_path, cut, match):
    path = tmp_path / "t.idx"
    idx.write_idx(path, np.zeros((4, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(DataError, match=match):
        idx.read_idx(path)


def test_idx_extra_bytes_and_broken_gzip_are_data_errors(tmp_path):
    path = tmp_path / "x.idx"
    idx.write_idx(path, np.zeros(5, np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(DataError, match="extra bytes"):
        idx.read_idx(path)
    gz = tmp_path / "x.idx.gz"
    idx.write_idx(gz, np.zeros((50, 28, 28), np.uint8))
    gz.write_bytes(gz.read_bytes()[:40])
    with pytest.raises(DataError, match=r"x\.idx\.gz.*gzip"):
        idx.read_idx(gz)


# --- IDX data sets: search order, checksums, downloads ----------------------------------------

def test_search_order_data_dir_env_cache_system(tmp_path, monkeypatch):
    source = tiny_source(tmp_path)  # no checksums: each place may hold different data
    places = {"data_dir": tmp_path / "given", "env": tmp_path / "env" / "tiny",
              "cache": tmp_path / "xdg" / "rigl_np" / "tiny", "system": tmp_path / "system"}
    for seed, folder in enumerate(places.values()):
        write_idx_set(folder, tiny_idx_arrays(seed), gz=seed % 2 == 0)
    monkeypatch.setenv("RIGL_NP_DATA", str(tmp_path / "env"))
    for name, folder in places.items():
        loaded = mnist.load_idx_source(source, data_dir=places["data_dir"], download=False)
        assert loaded.source == str(folder), name
        for f in folder.iterdir():
            f.unlink()
    with pytest.raises(DataNotFoundError):
        mnist.load_idx_source(source, data_dir=places["data_dir"], download=False)


def test_data_dir_subfolder_and_plain_files(tmp_path):
    arrays = tiny_idx_arrays()
    write_idx_set(tmp_path / "root" / "tiny", arrays, gz=False)
    ds = mnist.load_idx_source(tiny_source(tmp_path, arrays), data_dir=tmp_path / "root")
    assert ds.source == str(tmp_path / "root" / "tiny")
    assert ds.train_x.shape == (12, 1, 28, 28) and ds.train_x.dtype == np.uint8
    assert ds.train_y.dtype == np.int64 and ds.input_shape == (1, 28, 28)
    np.testing.assert_array_equal(ds.test_x[:, 0], arrays["test_x"])
    np.testing.assert_array_equal(ds.train_y, arrays["train_y"])


def test_local_checksum_mismatch_names_the_file(tmp_path):
    arrays = tiny_idx_arrays()
    source = tiny_source(tmp_path, arrays)
    arrays["train_x"] = arrays["train_x"].copy()
    arrays["train_x"][0, 0, 0] ^= 1
    write_idx_set(tmp_path / "d", arrays)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*SHA256 checksum mismatch"):
        mnist.load_idx_source(source, data_dir=tmp_path / "d")


def test_wrong_image_size_is_a_data_error(tmp_path):
    arrays = tiny_idx_arrays()
    arrays["train_x"] = arrays["train_x"][:, :, :27].copy()
    write_idx_set(tmp_path / "d", arrays)
    with pytest.raises(DataError, match=r"train-images.*\(N, 28, 28\), found \(12, 28, 27\)"):
        mnist.load_idx_source(tiny_source(tmp_path), data_dir=tmp_path / "d")


def test_labels_out_of_range_and_count_mismatch(tmp_path):
    arrays = tiny_idx_arrays()
    arrays["test_y"] = arrays["test_y"].copy()
    arrays["test_y"][2] = 10
    write_idx_set(tmp_path / "d", arrays)
    with pytest.raises(DataError, match=r"t10k-labels.*\[0, 10\)"):
        mnist.load_idx_source(tiny_source(tmp_path), data_dir=tmp_path / "d")
    arrays = tiny_idx_arrays()
    arrays["train_y"] = arrays["train_y"][:-1]
    write_idx_set(tmp_path / "e", arrays)
    with pytest.raises(DataError, match="12 images but 11 labels"):
        mnist.load_idx_source(tiny_source(tmp_path), data_dir=tmp_path / "e")


def test_missing_data_names_every_place_and_the_remedies(tmp_path, monkeypatch):
    monkeypatch.setenv("RIGL_NP_DATA", str(tmp_path / "env"))
    source = dataclasses.replace(mnist.FASHION_MNIST, system_dir=str(tmp_path / "no-package"))
    write_idx_set(tmp_path / "given", tiny_idx_arrays(), keys=("train_x", "train_y"))
    with pytest.raises(DataNotFoundError) as info:
        mnist.load_idx_source(source, data_dir=tmp_path / "given", download=False)
    message = str(info.value)
    for place in (tmp_path / "given", tmp_path / "given" / "fashion-mnist",
                  tmp_path / "env" / "fashion-mnist",
                  tmp_path / "xdg" / "rigl_np" / "fashion-mnist", tmp_path / "no-package"):
        assert str(place) in message
    for remedy in ("apt-get install dataset-fashion-mnist", "--data-dir", "RIGL_NP_DATA",
                   "has only 2 of the 4 files", "download=False"):
        assert remedy in message
    assert isinstance(info.value, FileNotFoundError)


def gz_files(arrays):
    """The four ``.gz`` files as a server would hand them out."""
    return {mnist.FILES[k] + ".gz": gzip.compress(idx_bytes(a)) for k, a in arrays.items()}


def test_download_goes_through_a_verified_temporary_file(tmp_path, monkeypatch):
    arrays = tiny_idx_arrays()
    calls = []
    serve(monkeypatch, gz_files(arrays), calls)
    ds = mnist.load_idx_source(tiny_source(tmp_path, arrays))
    cache = tmp_path / "xdg" / "rigl_np" / "tiny"
    assert ds.source == str(cache) and len(calls) == 4
    assert sorted(p.name for p in cache.iterdir()) == sorted(gz_files(arrays))
    np.testing.assert_array_equal(ds.train_x[:, 0], arrays["train_x"])
    calls.clear()
    mnist.load_idx_source(tiny_source(tmp_path, arrays))  # now cached: no second download
    assert calls == []


def test_download_falls_back_to_the_next_mirror(tmp_path, monkeypatch):
    arrays = tiny_idx_arrays()
    files = gz_files(arrays)

    def fetch(url, out):
        if "mirror-a" in url:
            out.write(b"partial")  # a connection that breaks half-way
            raise OSError("connection reset")
        out.write(files[url.rsplit("/", 1)[-1]])
    monkeypatch.setattr(sources, "fetch_url", fetch)
    ds = mnist.load_idx_source(tiny_source(tmp_path, arrays))
    assert len(ds.train_y) == 12
    assert not list((tmp_path / "xdg").rglob("*.part"))


@pytest.mark.parametrize("corrupt, match", [
    (lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]), "SHA256 checksum mismatch|gzip"),
    (lambda raw: raw[: len(raw) // 2], "gzip"),
    (lambda raw: b"<html>captive portal</html>", "gzip"),
])
def test_bad_download_is_an_error_and_leaves_nothing(tmp_path, monkeypatch, corrupt, match):
    arrays = tiny_idx_arrays()
    files = gz_files(arrays)
    name = "train-images-idx3-ubyte.gz"
    files[name] = corrupt(files[name])
    serve(monkeypatch, files)
    with pytest.raises(DataError, match=match) as info:
        mnist.load_idx_source(tiny_source(tmp_path, arrays))
    assert name in str(info.value) and "--data-dir" in str(info.value)
    assert not isinstance(info.value, DataNotFoundError)
    assert list((tmp_path / "xdg" / "rigl_np" / "tiny").iterdir()) == []


def test_download_checks_md5_of_served_gz(tmp_path, monkeypatch):
    arrays = tiny_idx_arrays()
    files = gz_files(arrays)
    md5 = {mnist.FILES[k]: hashlib.md5(files[mnist.FILES[k] + ".gz"]).hexdigest() for k in arrays}
    md5["t10k-labels-idx1-ubyte"] = "0" * 32
    serve(monkeypatch, files)
    source = tiny_source(tmp_path, download_md5=md5)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: MD5 checksum mismatch"):
        mnist.load_idx_source(source)
    cache = tmp_path / "xdg" / "rigl_np" / "tiny"
    assert sorted(p.name for p in cache.iterdir()) == sorted(n for n in files if "t10k-l" not in n)


def test_network_failure_reports_each_url(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"mirror-a.*network disabled[\s\S]*mirror-b"):
        mnist.load_idx_source(tiny_source(tmp_path))


# --- CIFAR-10 (binary) ----------------------------------------------------------------------

def cifar_records(seed, n=4):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    raw = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1).tobytes()
    return raw, images, labels


def cifar_archive(path, members=None, evil=True):
    """A tiny cifar-10-binary.tar.gz: six batches of 4 records, plus hostile extras."""
    names = (*cifar10.TRAIN_FILES, cifar10.TEST_FILE) if members is None else members
    with tarfile.open(path, "w:gz") as tar:
        def add(name, payload, kind=tarfile.REGTYPE, target=""):
            info = tarfile.TarInfo(name)
            info.size, info.type, info.linkname = len(payload), kind, target
            tar.addfile(info, io.BytesIO(payload))
        if evil:  # path traversal, an absolute path, a link posing as a batch file
            add("../escaped.bin", b"x")
            add("/tmp/absolute.bin", b"x")
            add(f"{cifar10.ARCHIVE_DIR}/{cifar10.TEST_FILE}", b"", tarfile.SYMTYPE, "/etc/passwd")
        for seed, name in enumerate(names):
            add(f"{cifar10.ARCHIVE_DIR}/{name}", cifar_records(seed)[0])
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_cifar_archive_is_verified_and_extracted_safely(tmp_path, monkeypatch):
    given = tmp_path / "given"
    given.mkdir()
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", cifar_archive(given / cifar10.ARCHIVE))
    ds = data.load_dataset("cifar10", data_dir=given, download=False)
    extracted = tmp_path / "xdg" / "rigl_np" / "cifar10" / cifar10.ARCHIVE_DIR
    assert ds.source == str(extracted)
    assert sorted(p.name for p in extracted.iterdir()) == sorted(
        (*cifar10.TRAIN_FILES, cifar10.TEST_FILE))
    assert not list(tmp_path.rglob("escaped.bin"))
    assert not pathlib.Path("/tmp/absolute.bin").exists()
    assert ds.train_x.shape == (20, 3, 32, 32) and ds.test_x.shape == (4, 3, 32, 32)
    assert ds.input_shape == (3, 32, 32) and ds.train_y.dtype == np.int64
    _, images, labels = cifar_records(0)  # data_batch_1: label byte, then R, G, B planes
    np.testing.assert_array_equal(ds.train_x[:4], images)
    np.testing.assert_array_equal(ds.train_y[:4], labels)
    np.testing.assert_array_equal(ds.test_x, cifar_records(5)[1])  # the file, not the link
    assert not (extracted / cifar10.TEST_FILE).is_symlink()
    assert ds.classes[0] == "airplane" and ds.num_classes == 10


def test_cifar_archive_checksum_and_members(tmp_path):
    given = tmp_path / "given"
    given.mkdir()
    cifar_archive(given / cifar10.ARCHIVE)
    with pytest.raises(DataError, match=r"cifar-10-binary\.tar\.gz.*MD5 checksum mismatch"):
        data.load_dataset("cifar10", data_dir=given)
    python_version = tmp_path / "py.tar.gz"
    cifar_archive(python_version, members=("data_batch_1",), evil=False)
    with pytest.raises(DataError, match="binary version"):
        cifar10._read_members(python_version)


def test_cifar_truncated_batch_and_bad_label(tmp_path):
    folder = tmp_path / "bins"
    folder.mkdir()
    for seed, name in enumerate((*cifar10.TRAIN_FILES, cifar10.TEST_FILE)):
        (folder / name).write_bytes(cifar_records(seed)[0])
    (folder / "data_batch_3.bin").write_bytes(cifar_records(2)[0][:-7])
    with pytest.raises(DataError, match=r"data_batch_3\.bin.*3073-byte"):
        data.load_dataset("cifar10", data_dir=folder)
    raw = bytearray(cifar_records(2)[0])
    raw[0] = 11
    (folder / "data_batch_3.bin").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"data_batch_3\.bin.*\[0, 10\)"):
        data.load_dataset("cifar10", data_dir=folder)


def test_cifar_download_then_archive_removed(tmp_path, monkeypatch):
    archive = tmp_path / cifar10.ARCHIVE
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", cifar_archive(archive, evil=False))
    serve(monkeypatch, {cifar10.ARCHIVE: archive.read_bytes()})
    ds = data.load_dataset("cifar10")
    cache = tmp_path / "xdg" / "rigl_np" / "cifar10"
    assert len(ds.train_y) == 20 and not (cache / cifar10.ARCHIVE).exists()
    assert [p.name for p in cache.iterdir()] == [cifar10.ARCHIVE_DIR]
    assert data.load_dataset("cifar10", download=False).source == str(cache / cifar10.ARCHIVE_DIR)


def test_cifar_missing_names_places(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        data.load_dataset("cifar10", data_dir=tmp_path / "nowhere", download=False)
    assert str(tmp_path / "nowhere" / "cifar10") in str(info.value)
    assert "binary version" in str(info.value)


# --- the real Fashion-MNIST (Debian package dataset-fashion-mnist) ---------------------------

@pytest.mark.skipif(not SYSTEM_FASHION.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_the_debian_package():
    ds = data.load_dataset("fashion-mnist", download=False)  # verifies the documented SHA-256s
    assert ds.source == str(SYSTEM_FASHION)
    assert ds.train_x.shape == (60000, 1, 28, 28) and ds.test_x.shape == (10000, 1, 28, 28)
    assert ds.train_x.dtype == np.uint8 and ds.train_y.dtype == np.int64
    assert np.bincount(ds.train_y).tolist() == [6000] * 10
    assert np.bincount(ds.test_y).tolist() == [1000] * 10
    assert ds.classes[9] == "Ankle boot"
    raw = idx.read_bytes(SYSTEM_FASHION / "t10k-labels-idx1-ubyte.gz")
    assert hashlib.sha256(raw).hexdigest() == mnist.FASHION_MNIST.sha256["t10k-labels-idx1-ubyte"]
