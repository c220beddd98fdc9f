"""Ctrl-C during a run, said as what it leaves behind.

- ``StopOnCtrlC``: while training, the first Ctrl-C only asks the loop to stop; it checkpoints at
  the next batch and stops (a second Ctrl-C stops at once);
- ``CompleteOnCtrlC``: once metrics.json is in place the run is whole; a Ctrl-C while the run
  folder is being released, or while ``train`` draws and reports it, says so, and how to draw
  the figures, instead of a bare interrupt.
"""
from __future__ import annotations

import signal
from pathlib import Path

from rigl_np import errors


class StopOnCtrlC:
    """While active, the first Ctrl-C only sets ``requested``; the loop checkpoints and stops."""

    def __enter__(self):
        self.requested = False
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)        # a second Ctrl-C stops at once

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


class CompleteOnCtrlC:
    """A Ctrl-C that comes once metrics.json is in place (while its write is being made durable,
    or the folder released) leaves a whole run: it is said so, with how to draw the figures, not
    as a bare interrupt. ``armed`` is set just before metrics.json is written; the file appears
    whole or not at all (``atomic``), so its presence says the write got that far."""

    def __init__(self, out, armed: bool = False):
        self.out, self.armed = Path(out), armed

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        whole = self.armed and (self.out / "metrics.json").exists()
        if whole and not isinstance(e, errors.Interrupted) and e is not None \
                and errors.by_ctrl_c(e):
            raise errors.Interrupted(f"interrupted; the run is complete: python -m rigl_np plot "
                                     f"{self.out} writes its figures") from None
        return False
