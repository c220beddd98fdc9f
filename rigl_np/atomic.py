"""Atomic files: the one way rigl_np writes a file, so a crash never leaves a torn one.

Host-side module. A file is written beside its destination under a hidden temporary name
(``.<name>.<random><suffix>``: ``.tmp`` for our own files, ``.part`` for downloads), flushed to
disk, optionally verified, then renamed onto the destination with ``os.replace``, which is atomic
on one POSIX file system. A crash or kill leaves the previous file (or none); any error (Ctrl-C
included) removes the temporary file and leaves the destination untouched. The file gets the
permissions a plain ``open`` would give it (0666 less the umask), not ``mkstemp``'s 0600.

Only a kill can leave a temporary file behind. ``remove_stale(folder)`` deletes ours (the names
above) from a folder, and must only be called under ``lock_folder(folder)``: an exclusive lock
(``fcntl.flock`` on the folder itself, so no lock file is left behind) held by the one process
that may write there, so no temporary file another process is still writing can be removed.
"""
from __future__ import annotations

import fcntl
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

from rigl_np.errors import UsageError

SUFFIXES = (".tmp", ".part")          # what a temporary file of ours ends with
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}(" + "|".join(map(re.escape, SUFFIXES)) + ")$")


class FolderBusy(UsageError):
    """Another process holds ``lock_folder`` on the folder."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path, suffix: str = ".tmp", verify=None):
    """Yield a binary file open for writing; on a clean exit it replaces ``path``.

    ``verify(temporary path)``, if given, runs after the data is on disk and before the rename;
    an exception from it (or from the ``with`` body) keeps ``path`` as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:            # a full disk says which file it could not write
            if e.errno is None or e.filename is not None:
                raise
            raise OSError(e.errno, e.strerror, str(path)) from e
        if verify is not None:
            verify(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as f:
        f.write(data)


def remove_stale(folder) -> list:
    """Delete the temporary files a killed writer left in ``folder``; returns their paths.

    Call it only while holding ``lock_folder(folder)``."""
    folder = Path(folder)
    stale = [p for p in folder.iterdir() if _TEMPORARY.match(p.name) and p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


@contextmanager
def lock_folder(folder, what: str = "folder", wait: bool = False):
    """Hold an exclusive lock on ``folder`` (created if missing) for the ``with`` body.

    If another process holds it: wait for it (``wait``), or raise ``FolderBusy`` at once
    (``what`` names the folder's use in the message). The lock goes with the process: a killed
    process never leaves it held.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise FolderBusy(f"{folder} is in use by another rigl_np process (it holds the "
                             f"{what}'s lock); wait for it to finish, or choose another "
                             "folder") from None
        yield folder
    finally:
        os.close(fd)
