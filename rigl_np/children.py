"""Child processes that never outlive the process that started them, and stop when it stops.

Host-side module. A grid's cells run in child processes (``compare --jobs``: a local pool;
``--cluster``: one process per cell on a Dask worker). Every such child

1. dies with its parent: ``die_with_parent`` asks the kernel (Linux ``PR_SET_PDEATHSIG``) to
   send it SIGKILL the moment its parent dies, whatever kills the parent (SIGKILL included);
   elsewhere a thread watches the parent's pid. A child killed this way loses at most the
   batches since its cell's last checkpoint: checkpoints are atomic, the folder lock goes with
   the process, and the same command resumes the cell;
2. takes signals only from its parent: it runs in a session of its own (``os.setsid``), so a
   Ctrl-C in the terminal or a signal to the process group reaches the parent alone, which
   passes one Ctrl-C on (``interrupt``) to the children it wants stopped with a checkpoint.

The parent treats SIGTERM as Ctrl-C (``sigterm_as_ctrl_c``): a ``kill`` stops the grid the way a
Ctrl-C does. Without this, a killed ``compare --jobs 2`` left its workers alive: they finished
their cells and then waited forever for work, holding their run folders.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1          # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """Make this process die when ``parent_pid`` (its parent, by the caller's word) dies.

    Call it first thing in the child. If the parent is already gone (it died before this ran),
    exit at once."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:
        threading.Thread(target=_watch, args=(parent_pid,), daemon=True,
                         name="rigl_np-die-with-parent").start()
    if os.getppid() != parent_pid:            # the parent died before the request was made
        os._exit(1)


def _watch(parent_pid: int, every: float = 0.2) -> None:
    """Where the kernel cannot do it: exit once the parent is gone (this process is re-parented)."""
    while os.getppid() == parent_pid:
        time.sleep(every)
    os._exit(1)


def own_session() -> None:
    """Leave the parent's session and process group: signals come from the parent only."""
    try:
        os.setsid()
    except PermissionError:                   # already a session leader
        pass


def interrupt(pids) -> None:
    """Send one Ctrl-C (SIGINT) to each child in ``pids``: a running cell checkpoints and stops."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:            # already gone
            pass


@contextmanager
def sigterm_as_ctrl_c():
    """While active, SIGTERM acts as Ctrl-C: it raises SIGINT in this process, so whatever a
    Ctrl-C would do now (a checkpoint, stopping the grid) happens. Outside the main thread (where
    no signal handler can be set) it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(
        signal.SIGINT))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
