"""Reading a file rigl_np did not just write: regular files only, sizes bounded, damage named.

Host-side module; every reader of a run folder, a compare folder, a data folder or a file named
on the command line goes through it.

- ``open_regular(path)`` opens without blocking (``O_NONBLOCK``: a FIFO with no writer, or a
  device, cannot hang the command) and refuses anything but a regular file before a byte is read
  (``NotAFile``, exit 2).
- ``damaged(path, advice)`` is the one place that turns what a parser raises on a damaged file
  into one line that names the file, what is wrong and what to do (``DamagedFile``, exit 2):
  ``ValueError``, ``KeyError``, ``TypeError``, ``zipfile.BadZipFile``, ``zlib.error``, the
  ``NotImplementedError`` of a zip feature nobody here reads (a compression method, a newer zip
  version), the ``RuntimeError`` of an encrypted member, a tokenizer error in an ``.npy``
  header, ... The body must only read and check the file, so whatever it raises is about the
  file. Our own errors, ``MemoryError`` and the ``OSError`` of a disk pass through.
- ``bounded(value, low, high, what)``: an integer read from a file, checked to lie in
  [low, high] before anything is sized or looped by it; ``npz_headers`` gives the shapes and
  dtypes an ``.npz`` declares, before a byte of its data is read.
"""
from __future__ import annotations

import os
import stat
from contextlib import contextmanager

from rigl_np.errors import UsageError

KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket",
         stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFDIR: "a folder", stat.S_IFLNK: "a symbolic link"}


class NotAFile(UsageError):
    """A path that is not a regular file (a FIFO, a device, a folder)."""


class DamagedFile(UsageError):
    """A file whose content cannot be read as what it should be; the message names it."""


def not_regular(path, mode: int) -> str:
    """"runs/x/metrics.json is a named pipe (FIFO), not a regular file"."""
    return f"{path} is {KINDS.get(stat.S_IFMT(mode), 'not a file')}, not a regular file"


def open_regular(path, advice: str = "give the file itself", error=NotAFile):
    """``path`` open for binary reading, if it is a regular file; else ``error`` (a
    ``NotAFile`` by default) saying what it is, followed by ``advice``. Never blocks."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{not_regular(path, mode)}; {advice}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_regular(path) -> bool:
    """True when ``path`` is a regular file (``os.stat``, which never blocks); False when it is
    anything else or missing."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


@contextmanager
def damaged(path, advice: str, error=DamagedFile):
    """Turn whatever reading ``path`` raises in the body into ``error``: "PATH is damaged
    (what); advice" (see the module docstring for what passes through)."""
    try:
        yield
    except Exception as e:
        if isinstance(e, (UsageError, error, MemoryError, RecursionError)) or (
                isinstance(e, OSError) and e.errno is not None):
            raise
        raise error(f"{path} is damaged ({describe(e)}); {advice}") from None


def describe(e: BaseException) -> str:
    """"BadZipFile: File is not a zip file": an exception in a few words, for a message."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = text if len(text) <= 200 else text[:200] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def bounded(value, low: int, high: int, what: str) -> int:
    """``value`` if it is an integer (not a bool) in [low, high]; else ``ValueError`` saying
    ``what`` it should be (raised inside ``damaged``, it names the file)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} is {value!r}, not an integer in [{low:,}, {high:,}]")
    return value


def npz_headers(file) -> dict:
    """``{key: (shape, dtype)}`` of an ``.npz`` (a path or an open file) from its members'
    ``.npy`` headers alone, no data read: what sizes a reader may bound before reading."""
    import zipfile

    from numpy.lib import format as npy

    headers = {}
    with zipfile.ZipFile(file) as z:
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename!r} is not an array")
            with z.open(info) as f:
                version = npy.read_magic(f)
                read = {(1, 0): npy.read_array_header_1_0,
                        (2, 0): npy.read_array_header_2_0}.get(version)
                if read is None:
                    raise ValueError(f"member {info.filename!r} has .npy format {version}")
                shape, _, dtype = read(f)
            headers[info.filename[:-len(".npy")]] = (tuple(shape), dtype)
    return headers
