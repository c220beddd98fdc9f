"""MNIST-style data sets stored as four IDX files: Fashion-MNIST (the default) and MNIST.

Both have 60 000 training and 10 000 test images of 28x28 grey pixels in 10 classes, stored as
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
``t10k-labels-idx1-ubyte``, each plain or gzip-compressed (``.gz``). They differ only in the
constants below, so one loader, ``load_idx_source``, serves both.

Verification:
- Fashion-MNIST: the SHA-256 of the *decompressed* bytes (docs/semantics.md "Data") on every load, for
  files found anywhere and for downloads. Debian re-compresses the ``.gz`` files, so checksums of
  the compressed files would reject its package.
- MNIST: downloads are checked against the MD5 of the ``.gz`` files as torchvision publishes them.
  Files found on disk are checked for IDX structure only (magic numbers, 28x28 images, matching
  counts, labels 0-9): we do not know the decompressed checksums for certain, and a re-compressed
  copy has a different ``.gz`` MD5. The cache only ever receives files that passed the MD5 check.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import idx, sources
from .dataset import DataError, DataNotFoundError, Dataset, check_split

IMAGE_SIZE = (28, 28)  # rows, columns of every image in both data sets
# Split key -> IDX file base name (without ".gz").
FILES = {"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
         "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"}


@dataclass(frozen=True)
class IdxSource:
    """Everything that distinguishes one four-file IDX data set from another."""

    name: str                      # registry name, e.g. "fashion-mnist"
    title: str                     # for messages, e.g. "Fashion-MNIST"
    folder: str                    # folder name under $RIGL_NP_DATA and the cache
    classes: tuple                 # class names, index = label
    mirrors: tuple                 # base URLs tried in order; file name + ".gz" is appended
    sha256: dict | None = None     # base name -> SHA-256 of the decompressed bytes (every load)
    download_md5: dict | None = None  # base name -> MD5 of the served .gz (downloads only)
    system_dir: str | None = None  # where a distribution package installs it, if any
    package_hint: str = ""         # how to install that package, for the not-found message


FASHION_MNIST = IdxSource(
    name="fashion-mnist", title="Fashion-MNIST", folder="fashion-mnist",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
             "Bag", "Ankle boot"),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    sha256={  # of the decompressed IDX bytes (docs/semantics.md "Data")
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    system_dir="/usr/share/datasets/fashion-mnist",
    package_hint="sudo apt-get install dataset-fashion-mnist (Debian/Ubuntu)",
)

MNIST = IdxSource(
    name="mnist", title="MNIST", folder="mnist",
    classes=tuple(str(digit) for digit in range(10)),
    # The original host (yann.lecun.com) refuses downloads; these are the public mirrors.
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    download_md5={
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    },
)


def find_files(folder: Path) -> dict:
    """The IDX files present in ``folder``: split key -> path (plain preferred over ``.gz``)."""
    found = {}
    for key, base in FILES.items():
        for candidate in (folder / base, folder / f"{base}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
    return found


def _decode(source: IdxSource, base: str, raw: bytes, name: str, advice: str):
    """Checksum (when known) and parse one file's decompressed bytes; ``name`` is for errors."""
    if source.sha256 is not None:
        sources.check_digest(raw, "sha256", source.sha256[base], f"{name} (decompressed)", advice)
    array = idx.parse_idx(raw, name)
    per_example = IMAGE_SIZE if "images" in base else ()   # images (N, 28, 28), labels (N,)
    if array.ndim != 1 + len(per_example) or array.shape[1:] != per_example:
        shape = f"(N, {IMAGE_SIZE[0]}, {IMAGE_SIZE[1]})" if per_example else "(N,)"
        raise DataError(f"{name}: expected an IDX array of shape {shape}, found {array.shape}; "
                        "is it the right file?")
    return array


def _check_download(source: IdxSource, base: str, path: Path, name: str) -> None:
    """Verify a freshly downloaded ``.gz`` before it is moved into the cache."""
    if source.download_md5 is not None:
        sources.check_digest(path, "md5", source.download_md5[base], name,
                             "the download is corrupt or the mirror changed")
    raw = idx.read_bytes(path, compressed=True, name=name)
    _decode(source, base, raw, name, "the download is corrupt or the mirror changed")


def _read(source: IdxSource, found: dict, folder: Path) -> Dataset:
    """Read, verify and assemble the four files into a ``Dataset``."""
    advice = (f"the file is corrupt or not the official {source.title}; delete it (or reinstall "
              "its package) and load again")
    arrays = {}
    for key, path in found.items():
        arrays[key] = _decode(source, FILES[key], idx.read_bytes(path), str(path), advice)
    for split in ("train", "test"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        check_split(x, y, len(source.classes), f"{found[split + '_x']} + {found[split + '_y']}")
    return Dataset(
        name=source.name,
        train_x=arrays["train_x"][:, None],            # (N, 28, 28) -> (N, 1, 28, 28)
        train_y=arrays["train_y"].astype(np.int64),    # (N,)
        test_x=arrays["test_x"][:, None], test_y=arrays["test_y"].astype(np.int64),
        num_classes=len(source.classes), classes=source.classes, source=str(folder))


def _download_missing(source: IdxSource, cache: Path) -> list:
    """Download into ``cache`` each file it lacks; the failures, or ``[]`` when all arrived."""
    present = find_files(cache)
    for key, base in FILES.items():
        if key in present:
            continue
        urls = [mirror + base + ".gz" for mirror in source.mirrors]
        check = functools.partial(_check_download, source, base)
        failures = sources.download(urls, cache / f"{base}.gz", check)
        if failures:  # no mirror answered: the network is down, no point trying the rest
            return failures
    return []


def load_idx_source(source: IdxSource, data_dir=None, download: bool = True) -> Dataset:
    """Find (or download) and load ``source``; see ``sources`` for the search order."""
    # 1. Search the places in order; the first with all four files wins.
    places = sources.search_places(source.folder, data_dir, source.system_dir)
    notes = {}
    for place in places:
        if place.path is None:
            continue
        found = find_files(place.path)
        if len(found) == len(FILES):
            return _read(source, found, place.path)
        if found:
            notes[place.path] = f"has only {len(found)} of the {len(FILES)} files"
    # 2. Download what the cache lacks, into the cache.
    cache = sources.cache_root() / source.folder
    if download:
        failures = _download_missing(source, cache)
        if not failures:
            return _read(source, find_files(cache), cache)
        tried = "Downloading into the user cache failed:\n" + "\n".join(failures)
    else:
        tried = "Downloading is switched off (download=False)."
    # 3. Nothing worked: say where we looked and how to get the data.
    wanted = ", ".join(f"{base}[.gz]" for base in FILES.values())
    ways = ([source.package_hint] if source.package_hint else []) + [
        "put the four files in a folder and pass it with --data-dir FOLDER",
        f"set RIGL_NP_DATA=DIR and put the files in DIR/{source.folder}",
        f"or allow the download from {source.mirrors[0]} (needs network access)"]
    raise DataNotFoundError(
        f"Looked for {wanted} in:\n{sources.describe_places(places, notes)}\n{tried}\n"
        f"{source.title} not found. To get it: " + "; ".join(ways) + ".")
