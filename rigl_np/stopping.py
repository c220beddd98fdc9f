"""Ctrl-C during training: ``StopOnCtrlC`` makes the first one only ask the loop to stop; it
checkpoints at the next batch and stops (a second Ctrl-C stops at once). A Ctrl-C once the run's
metrics.json is written is said by the error boundary (``errors.note_whole_run``).
"""
from __future__ import annotations

import signal


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

