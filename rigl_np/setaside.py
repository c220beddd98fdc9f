"""Replacing a run with ``--overwrite``: the old run is set aside, not deleted, until the new one
has written its first checkpoint; a new run that fails before that gives the old one back.

Host-side module. ``SetAside(folder, names)`` moves the files of ``names`` that are in
``folder`` (a run's files and the figures drawn from it) into the hidden folder
``folder/.rigl_np-replaced``, one ``os.replace`` per file. Then exactly one of:

- ``discard()``: the new run has passed everything up to its first checkpoint: the set-aside
  folder is renamed to a temporary name of ``rigl_np.atomic`` (so a kill while deleting it
  leaves something ``remove_stale`` removes) and deleted;
- ``restore()``: the new run failed (bad data, masks it cannot build, divergence, Ctrl-C) before
  that: the files it wrote under those names are deleted and the old ones moved back.

A kill between the two leaves ``.rigl_np-replaced``; ``recover(folder)``, called by the next
command that claims the folder (under its lock), restores it, so no kill at any moment loses
the old run. Old figures the new run does not draw again are not left beside the new run's.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from rigl_np.atomic import MARK

ASIDE = ".rigl_np-replaced"          # the set-aside folder inside the run folder


class SetAside:
    """The files of a run being replaced, kept until ``discard`` or ``restore``."""

    def __init__(self, folder, names):
        self.folder = Path(folder)
        self.aside = self.folder / ASIDE
        self.aside.mkdir()
        self.names = [name for name in names if (self.folder / name).is_file()]
        for name in self.names:
            os.replace(self.folder / name, self.aside / name)
        _sync(self.folder)
        self.done = False

    def discard(self) -> None:
        """The new run stands: delete the old files (idempotent)."""
        if self.done:
            return
        self.done = True
        trash = tempfile.mkdtemp(dir=self.folder, prefix=f"{ASIDE}{MARK}", suffix=".tmp")
        os.replace(self.aside, trash)
        _sync(self.folder)
        shutil.rmtree(trash)

    def restore(self, written=()) -> None:
        """The new run failed: delete what it wrote (``written``, names in the folder) and put
        the old files back (idempotent)."""
        if self.done:
            return
        self.done = True
        _restore(self.folder, written)


def recover(folder, written) -> bool:
    """Restore a set-aside run that a killed ``--overwrite`` left in ``folder``; True if there
    was one. ``written``: the names a new run writes (deleted first)."""
    if not (Path(folder) / ASIDE).is_dir():
        return False
    _restore(Path(folder), written)
    return True


def _restore(folder: Path, written) -> None:
    aside = folder / ASIDE
    for name in written:
        if (folder / name).is_file():
            (folder / name).unlink()
    for path in aside.iterdir():
        os.replace(path, folder / path.name)
    aside.rmdir()
    _sync(folder)


def _sync(folder: Path) -> None:
    """Make the renames in ``folder`` durable (a crash after this keeps them)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
