"""Atomic files: the one way rigl_np writes a file, so a crash never leaves a torn one.

Host-side module. A file is written beside its destination under a hidden temporary name that
says whose it is (``.<name>.rigl_np-<8 random>.<suffix>``: ``.tmp`` for our own files, ``.part``
for downloads), flushed to disk, optionally verified, then renamed onto the destination with
``os.replace``, which is atomic on one POSIX file system. A crash or kill leaves the previous file (or none); any error (Ctrl-C
included) removes the temporary file and leaves the destination untouched. The file gets the
permissions a plain ``open`` would give it (0666 less the umask), not ``mkstemp``'s 0600.

Only a kill can leave a temporary file behind. ``remove_stale(folder)`` deletes ours from a
folder: names of exactly the form above, which no user names a file by chance (a user's
``.notes.20240101.tmp`` stays). Call it only under ``lock_folder(folder)`` (an exclusive
``fcntl.flock`` on the folder itself, so no lock file is left behind) and only once the command
has been accepted: a refused command removes nothing.

``atomic_folder(path)`` does the same for a folder of files (``vectors``): they are written into
a hidden temporary folder beside ``path`` that is renamed onto it whole, so a full disk or a kill
leaves the previous folder (or none), never a part of the files. The temporary folder is locked
while it is written; ``remove_stale`` deletes such folders a killed writer left beside ``path``.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from rigl_np.errors import UsageError

SUFFIXES = (".tmp", ".part")          # what a temporary file of ours ends with
MARK = ".rigl_np-"                    # between the destination's name and the random part
_TEMPORARY = re.compile(r"^\..+" + re.escape(MARK) + r"[a-z0-9_]{8}("
                        + "|".join(map(re.escape, SUFFIXES)) + ")$")


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{MARK}", suffix=suffix)
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
    """Delete the temporary files (and ``atomic_folder`` folders) a killed writer left in
    ``folder``; returns their paths. A temporary folder still locked by its writer stays.

    Call it only while holding ``lock_folder(folder)``, once the command has been accepted."""
    stale = []
    for p in Path(folder).iterdir():
        if not _TEMPORARY.match(p.name) or p.is_symlink():
            continue
        if p.is_file():
            p.unlink(missing_ok=True)
        elif p.is_dir():
            try:
                with lock_folder(p):
                    shutil.rmtree(p)
            except FolderBusy:
                continue
        else:
            continue
        stale.append(p)
    return stale


@contextmanager
def atomic_folder(path, overwrite: bool = False):
    """Yield a new hidden folder beside ``path``; on a clean exit it becomes ``path`` whole.

    ``path`` may be missing or empty; with ``overwrite`` a folder holding files is replaced
    (moved aside under a temporary name, then deleted). Any error (Ctrl-C included) deletes the
    new folder and leaves ``path`` as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}{MARK}", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        with lock_folder(tmp):
            yield tmp
            if overwrite and path.is_dir() and any(path.iterdir()):
                old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}{MARK}",
                                            suffix=".tmp"))
                os.replace(path, old)          # onto the empty folder just made
                os.replace(tmp, path)
                shutil.rmtree(old)
            else:
                os.replace(tmp, path)          # an empty folder is replaced, a full one refused
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


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
