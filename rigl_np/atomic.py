"""Atomic files: the one way rigl_np writes a file, so a crash never leaves a torn one.

Host-side module. A file is written beside its destination under a hidden temporary name
(``.<name>.<random><suffix>``: ``.tmp`` for our own files, ``.part`` for downloads), flushed to
disk, optionally verified, then renamed onto the destination with ``os.replace``, which is atomic
on one POSIX file system. A crash or kill leaves the previous file (or none); any error removes
the temporary file and leaves the destination untouched.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

SUFFIXES = (".tmp", ".part")          # what a temporary file of ours ends with


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
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
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
