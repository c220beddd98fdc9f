"""Lazy, validated reading of the ``.npz`` files ``verify`` checks (host side; plain arrays only).

An ``.npz`` is a zip archive with one ``.npy`` member per key. ``Archive`` opens the zip, lists
its members, and reads a member only when asked: first its header (magic, dtype, shape, via
``numpy.lib.format.read_array_header_*``), which is checked before a single byte of data is read
or decompressed, then its data with ``allow_pickle=False``. So:

- keys nobody asks for are never decompressed (a large or corrupt extra key costs nothing);
- object arrays (pickles) are refused from the header alone;
- a member whose header declares more bytes than the member holds, or than the machine has
  memory available, is refused before reading.

The file is opened once, and only if it is a regular file (``rigl_np.reading.open_regular``: a
FIFO cannot hang verify). Every problem is an ``InputError`` with one line saying what is wrong
and what to do; ``Archive.reading`` is the one place that turns what the zip and ``.npy`` readers
raise on a damaged or unsupported file into one. ``verify`` turns it into exit code 2. Scalar readers (``scalar_float`` and friends) check the kind of
value a key must hold.
"""
from __future__ import annotations

import math
import os
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from rigl_np.reading import damaged, open_regular

NPY_MAGIC = b"\x93NUMPY"


class InputError(ValueError):
    """A file ``verify`` cannot check; the message names the file and says what to do."""


def available_memory() -> int | None:
    """Bytes of memory available now (Linux MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _sniff(path: str, head: bytes) -> str:
    """What a file that is not a zip archive looks like, as advice."""
    if not head:
        return "is empty"
    if head.startswith(NPY_MAGIC):
        return ("is a .npy file (one array), not an .npz archive; save all the keys together "
                "with numpy.savez or rigl_np.verify.save_update")
    if head[:1] == b"\x80":
        return "looks like a pickle; verify reads only .npz archives of plain arrays"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "is a text file, not an .npz archive (numpy.savez writes one)"
    return "is not an .npz (zip) archive; write one with numpy.savez or rigl_np.verify.save_update"


class Archive:
    """The members of one ``.npz``, read on demand. Use as a context manager."""

    def __init__(self, path, memory_limit: int | None = None):
        self.path = str(path)
        self.memory_limit = available_memory() if memory_limit is None else memory_limit
        try:
            self._file = open_regular(self.path, "give an .npz file", InputError)
        except OSError as e:
            raise InputError(f"{self.path}: cannot be read ({e.strerror or e})") from None
        try:
            with self.reading():
                head = self._file.read(64)
                if not zipfile.is_zipfile(self._file):
                    raise InputError(f"{self.path}: {_sniff(self.path, head)}")
                self._zip = zipfile.ZipFile(self._file)
            self._members = {info.filename[:-4]: info for info in self._zip.infolist()
                             if info.filename.endswith(".npy")}
        except BaseException:
            self._file.close()
            raise
        if not self._members:
            self.__exit__()
            raise InputError(f"{self.path}: a zip archive with no .npy members; write the arrays "
                             "with numpy.savez or rigl_np.verify.save_update")

    def reading(self, key=None):
        """The one place where what reading the zip raises (a damaged archive, a compression
        method or zip version nobody here reads, an encrypted member, an ``.npy`` header the
        tokenizer cannot parse) becomes an ``InputError`` naming the file (and key)."""
        where = self.path if key is None else f"{self.path}: key {key!r}"
        return damaged(where, "write it again with numpy.savez or rigl_np.verify.save_update "
                       "(no compression other than deflate, no encryption)", InputError)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zip.close()
        self._file.close()

    def keys(self) -> list:
        """Every key, in the order the archive stores them (numpy.savez keeps the call's order)."""
        return list(self._members)

    def __contains__(self, key) -> bool:
        return key in self._members

    def fail(self, key, what) -> InputError:
        return InputError(f"{self.path}: key {key!r} {what}")

    def header(self, key):
        """(shape, dtype) of ``key`` from its .npy header alone; checks it can be read safely."""
        info = self._members[key]
        with self.reading(key):
            with self._zip.open(info) as f:
                version = npy_format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(f)
                else:
                    shape, fortran, dtype = npy_format.read_array_header_2_0(f)
                offset = f.tell()
        if dtype.hasobject:
            raise self.fail(key, "holds Python objects (a pickle); save plain numeric, bool or "
                             "string arrays (numpy.asarray of your tensor)")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > info.file_size - offset:
            raise self.fail(key, f"declares {nbytes:,} bytes of data but holds "
                             f"{max(info.file_size - offset, 0):,}: the file is truncated or "
                             "damaged; write it again")
        if self.memory_limit is not None and nbytes > self.memory_limit:
            raise self.fail(key, f"declares {nbytes / 2**30:,.1f} GiB, more than the "
                             f"{self.memory_limit / 2**30:,.1f} GiB of memory available; check it "
                             "on a larger machine, or dump fewer layers per file")
        return tuple(shape), dtype

    def array(self, key) -> np.ndarray:
        """The array stored under ``key`` (header checked first; never unpickles)."""
        if key not in self._members:
            raise InputError(f"{self.path}: missing key {key!r}")
        self.header(key)
        with self.reading(key):
            with self._zip.open(self._members[key]) as f:
                return npy_format.read_array(f, allow_pickle=False)


def scalar(archive: Archive, key: str, kinds: str, what: str):
    a = archive.array(key)
    if a.ndim != 0:
        raise archive.fail(key, f"must be a scalar ({what}), got an array of shape {a.shape}")
    if a.dtype.kind not in kinds:
        raise archive.fail(key, f"must be {what}, got {a.dtype} value {a.item()!r}")
    return a.item()


def scalar_float(archive: Archive, key: str, low: float, high: float) -> float:
    """A real scalar in [low, high]."""
    value = float(scalar(archive, key, "biuf", "a number"))
    if not (math.isfinite(value) and low <= value <= high):
        raise archive.fail(key, f"must lie in [{low:g}, {high:g}], got {value!r}")
    return value


def scalar_int(archive: Archive, key: str, low: int, high: int) -> int:
    """An integer scalar (an integral float is accepted) in [low, high]: every count read from
    a file is bounded before anything is sized or looped by it."""
    value = scalar(archive, key, "biuf", "an integer")
    if isinstance(value, float) and not value.is_integer():
        raise archive.fail(key, f"must be an integer, got {value!r}")
    if not low <= int(value) <= high:
        raise archive.fail(key, f"must lie in [{low:,}, {high:,}], got {int(value):,}")
    return int(value)


def scalar_str(archive: Archive, key: str, choices: tuple) -> str:
    """A string scalar, one of ``choices``."""
    value = str(scalar(archive, key, "US", "a string"))
    if value not in choices:
        raise archive.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def scalar_bool(archive: Archive, key: str) -> bool:
    """A boolean scalar (bool or 0/1)."""
    value = scalar(archive, key, "biuf", "a bool")
    if value not in (0, 1):
        raise archive.fail(key, f"must be true/false (or 0/1), got {value!r}")
    return bool(value)


def numeric_array(archive: Archive, key: str, shape=None, finite=True) -> np.ndarray:
    """A real array (ints and floats; bool not accepted) of ``shape``, every entry finite."""
    a = archive.array(key)
    if a.dtype.kind not in "iuf":
        raise archive.fail(key, f"must hold real numbers, got dtype {a.dtype}")
    if shape is not None and a.shape != tuple(shape):
        raise archive.fail(key, f"has shape {a.shape}, expected {tuple(shape)} (the weight's)")
    if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise archive.fail(key, f"holds {bad:,} NaN or infinite values; dump the arrays before "
                            "the step that produced them, or fix the divergence first")
    return a


def bool_array(archive: Archive, key: str, shape) -> np.ndarray:
    """A mask: bool, or numbers that are all 0 or 1, of ``shape``; returned as bool."""
    a = archive.array(key)
    if a.shape != tuple(shape):
        raise archive.fail(key, f"has shape {a.shape}, expected {tuple(shape)} (the weight's)")
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "iuf" or not ((a == 0) | (a == 1)).all():
        raise archive.fail(key, "must be a mask: bool, or numbers that are all 0 or 1")
    return a != 0
