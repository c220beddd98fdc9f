"""CIFAR-10 from its *binary* distribution (``cifar-10-binary.tar.gz``), never the pickled one.

The "Python version" of CIFAR-10 is a set of pickles, and unpickling a downloaded file runs
whatever code it contains. The binary version (Krizhevsky, https://www.cs.toronto.edu/~kriz/
cifar.html) is plain records: ``data_batch_1.bin`` ... ``data_batch_5.bin`` (training) and
``test_batch.bin``, each a run of 3073-byte records: 1 label byte (0-9), then 3072 pixel bytes,
the 32x32 red plane, then green, then blue, each row-major. So one record reshapes directly to
our ``(3, 32, 32)`` NCHW example.

Search (same places as the other data sets, folder ``cifar10``; see ``sources``): in each place,
first the six ``.bin`` files (in ``cifar-10-batches-bin/`` or directly in the folder), then the
archive ``cifar-10-binary.tar.gz``. An archive found or downloaded is checked against the MD5 the
dataset's page publishes, then only the six expected members are extracted: regular files matched
by exact name, written under names we build ourselves into the user cache
(``.../rigl_np/cifar10/cifar-10-batches-bin``), so no archive path is ever used on disk. A
downloaded archive is deleted after extraction. The ``.bin`` files themselves are checked for
structure only (whole records, labels 0-9): no per-file checksums are published.
"""
from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

import numpy as np

from rigl_np.atomic import atomic_file, lock_folder, remove_stale

from . import sources
from .dataset import DataError, DataNotFoundError, Dataset, check_split

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
ARCHIVE = "cifar-10-binary.tar.gz"
ARCHIVE_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # as published on the CIFAR page
ARCHIVE_DIR = "cifar-10-batches-bin"               # the folder inside the archive
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
RECORD_BYTES = 1 + 3 * 32 * 32                     # label byte + RGB planes
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")


def find_batches(folder: Path) -> Path | None:
    """The folder holding all six ``.bin`` files (``folder/cifar-10-batches-bin`` or ``folder``)."""
    for candidate in (folder / ARCHIVE_DIR, folder):
        if all((candidate / name).is_file() for name in (*TRAIN_FILES, TEST_FILE)):
            return candidate
    return None


def read_batch(path: Path) -> tuple:
    """One ``.bin`` file -> images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64."""
    raw = Path(path).read_bytes()
    if len(raw) == 0 or len(raw) % RECORD_BYTES:
        raise DataError(f"{path}: {len(raw)} bytes is not a whole number of {RECORD_BYTES}-byte "
                        "CIFAR-10 records; the file is truncated or not a CIFAR-10 binary batch: "
                        "delete it and extract or download it again")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_BYTES)  # (N, 3073)
    labels = records[:, 0].astype(np.int64)                                  # (N,)
    images = records[:, 1:].reshape(-1, 3, 32, 32).copy()                    # (N, 3, 32, 32)
    check_split(images, labels, len(CLASSES), str(path))
    return images, labels


def _read_members(archive: Path) -> dict:
    """The six batch files' bytes from the archive, read in one pass, nothing written."""
    wanted = {f"{ARCHIVE_DIR}/{name}": name for name in (*TRAIN_FILES, TEST_FILE)}
    payloads = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:  # sequential: a gzip stream is not worth seeking in
                if member.name in wanted and member.isfile():
                    payloads[wanted[member.name]] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise DataError(f"{archive}: cannot read the archive ({err}); it is truncated or corrupt: "
                        "delete it and download it again") from None
    missing = sorted(set(wanted.values()) - set(payloads))
    if missing:
        raise DataError(f"{archive}: the archive lacks {', '.join(missing)}; is it the binary "
                        f"version ({ARCHIVE})? The Python (pickle) version is not supported")
    return payloads


def extract_batches(archive: Path, dest: Path) -> None:
    """Verify ``archive`` (MD5) and write its six batch files into ``dest``, atomically each."""
    # 1. The archive must be the official one.
    sources.check_digest(archive, "md5", ARCHIVE_MD5, str(archive),
                         "it is corrupt or not the official CIFAR-10 binary archive: delete it "
                         "and download it again")
    # 2. Read only the expected members, then 3. write each under our own name (in a locked
    #    folder, cleared of what a killed extraction left).
    payloads = _read_members(archive)
    with lock_folder(dest, "data cache", wait=True):
        remove_stale(dest)
        for name, payload in payloads.items():
            with atomic_file(dest / name, suffix=".part") as out:
                out.write(payload)


def _check_download(path: Path, name: str) -> None:
    """A freshly downloaded archive must match the published MD5 before it enters the cache."""
    sources.check_digest(path, "md5", ARCHIVE_MD5, name,
                         "the download is corrupt or the server changed")


def _read(folder: Path) -> Dataset:
    """Assemble a ``Dataset`` from the six ``.bin`` files in ``folder``."""
    train = [read_batch(folder / name) for name in TRAIN_FILES]
    test_x, test_y = read_batch(folder / TEST_FILE)
    return Dataset(name="cifar10",
                   train_x=np.concatenate([x for x, _ in train]),   # (50000, 3, 32, 32)
                   train_y=np.concatenate([y for _, y in train]),   # (50000,)
                   test_x=test_x, test_y=test_y,
                   num_classes=len(CLASSES), classes=CLASSES, source=str(folder))


def load_cifar10(data_dir=None, download: bool = True) -> Dataset:
    """Find (or download) and load CIFAR-10; see the module docstring for where it looks."""
    places = sources.search_places("cifar10", data_dir)
    cache_batches = sources.cache_root() / "cifar10" / ARCHIVE_DIR
    # 1. Search: extracted batch files first, then an archive (extracted into the cache).
    for place in places:
        if place.path is None:
            continue
        batches = find_batches(place.path)
        if batches is not None:
            return _read(batches)
        if (place.path / ARCHIVE).is_file():
            if find_batches(cache_batches) is None:  # already extracted from the same archive?
                extract_batches(place.path / ARCHIVE, cache_batches)
            return _read(cache_batches)
    # 2. Download the archive into the cache, extract it, drop the archive.
    archive = sources.cache_root() / "cifar10" / ARCHIVE
    if download:
        failures = sources.download([URL], archive, _check_download)
        if not failures:
            extract_batches(archive, cache_batches)
            archive.unlink()
            return _read(cache_batches)
        tried = "Downloading into the user cache failed:\n" + "\n".join(failures)
    else:
        tried = "Downloading is switched off (download=False)."
    # 3. Nothing worked: say where we looked and how to get the data.
    raise DataNotFoundError(
        f"Looked for {ARCHIVE_DIR}/{{data_batch_1..5,test_batch}}.bin or "
        f"{ARCHIVE} in:\n{sources.describe_places(places)}\n{tried}\n"
        f"CIFAR-10 not found. To get it: download {URL} (the binary version, not the Python one) "
        "and pass its folder "
        "with --data-dir FOLDER; or set RIGL_NP_DATA=DIR and put it in DIR/cifar10; or allow the "
        "download (needs network access).")
