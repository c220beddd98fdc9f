"""The error boundary of every command: an expected failure becomes a short message and an exit code.

Host-side module. ``python -m rigl_np CMD`` runs each command inside ``boundary``; modules raise
the exceptions below (or the standard ones in the table) and never print errors themselves.

| exit | meaning                                                  | raised as                       |
|------|----------------------------------------------------------|---------------------------------|
| 0    | success                                                  |                                 |
| 1    | a runtime failure: divergence, a full disk, a data set   | ``Failure``, ``DataError``,     |
|      | that is corrupt or cannot be found or downloaded         | ``OSError`` (ENOSPC, EIO, ...)  |
| 2    | bad input or usage: an option out of range, a damaged    | ``UsageError``, argparse,       |
|      | run folder, a busy or unusable ``--out``                 | ``OSError`` about a path        |
| 130  | interrupted (Ctrl-C)                                     | ``KeyboardInterrupt``,          |
|      |                                                          | ``Interrupted``                 |

The message goes to stderr, never stdout: at most a few lines, the last one naming the problem
and what to do. Every line rigl_np prints reaches the user whatever the file names and the
terminal's encoding (``safe_output``). ``RIGL_NP_DEBUG=1`` prints the traceback first, also for the failures handled
here. Anything else (a bug) is one line too, saying so and how to see the traceback.
"""
from __future__ import annotations

import codecs
import errno
import io
import os
import signal
import sys
import traceback
from contextlib import contextmanager
import warnings

OK, FAILURE, USAGE, INTERRUPTED = 0, 1, 2, 130
FLOAT_WARNINGS = "(overflow|invalid value|divide by zero|underflow) encountered"

# OSErrors that say the path the user chose cannot be used (exit 2); any other is a failure (1).
PATH_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG,
               errno.EROFS, errno.EACCES, errno.EPERM, errno.ELOOP}


class UsageError(ValueError):
    """Bad input: an option, a file or a folder that cannot be used as given (exit 2)."""


class Failure(RuntimeError):
    """A runtime failure: the input was fine but the work could not be done (exit 1)."""


class DataError(ValueError):
    """A data file exists but is not what it should be; the message names the file (exit 1).

    Raised by ``rigl_np.data``, which also defines its two kinds (a data set found nowhere, a
    ``--data-dir`` without it); it lives here because it is one row of the table above."""


class Interrupted(Exception):
    """Ctrl-C stopped the work cleanly (after a checkpoint); the message says how to continue."""


def debug() -> bool:
    """True when ``RIGL_NP_DEBUG=1``: show tracebacks."""
    return os.environ.get("RIGL_NP_DEBUG") == "1"


def describe_os_error(e: OSError) -> str:
    """"cannot write runs/x/checkpoint.npz: No space left on device": the path and the reason."""
    where = f" {e.filename}" if e.filename else ""
    also = f" -> {e.filename2}" if getattr(e, "filename2", None) else ""
    advice = {errno.ENOSPC: "free some space and run the command again",
              errno.EDQUOT: "free some space (quota) and run the command again",
              errno.EROFS: "the file system is read-only: choose a writable folder",
              errno.EACCES: "choose a folder you may write to",
              errno.ENAMETOOLONG: "choose a shorter name",
              errno.ENOTDIR: "a part of the path is a file, not a folder",
              errno.EEXIST: "a file is in the way: choose another name"}.get(e.errno, "")
    return f"{where}{also}: {e.strerror or e}" + (f"; {advice}" if advice else "")


_CTRL_C = []          # a Ctrl-C came (``note_ctrl_c``)
_WHOLE = [None]       # the run folder whose metrics.json is being written (``note_whole_run``)


def note_whole_run(out) -> None:
    """``out``: the run folder whose metrics.json is about to be written (None: no such run).
    Once that file is there the run is whole, and a Ctrl-C that comes before the command ends
    (while the folder is released, the run drawn or reported) says so, with how to draw it,
    instead of a bare interrupt."""
    _WHOLE[0] = out


def note_ctrl_c() -> None:
    """From now on Ctrl-C raises KeyboardInterrupt as usual and is also remembered: C code that
    is interrupted while importing (NumPy's import of ``datetime``) may replace the
    KeyboardInterrupt by an ImportError that keeps no trace of it. ``python -m rigl_np`` calls
    this first."""
    def handler(signum, frame):
        _CTRL_C.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)


def by_ctrl_c(e: BaseException) -> bool:
    """True when ``e`` is, or was raised while handling, a Ctrl-C, or follows one that
    ``note_ctrl_c`` saw (a library that turns the KeyboardInterrupt of an interrupted import into
    an ImportError)."""
    if _CTRL_C:
        return True
    while e is not None:
        if isinstance(e, (KeyboardInterrupt, Interrupted)):
            return True
        e = e.__cause__ or e.__context__
    return False


def exit_code(e: BaseException) -> int:
    """The exit code of an exception that ends a command (see the table above)."""
    from rigl_np.backend import BackendError

    if by_ctrl_c(e):
        return INTERRUPTED
    if isinstance(e, (UsageError, BackendError)):
        return USAGE
    if isinstance(e, OSError) and not isinstance(e, DataError):
        return USAGE if e.errno in PATH_ERRNOS else FAILURE
    return FAILURE


def message(e: BaseException) -> str:
    """What the user reads for exception ``e``; "error: " marks the last line, which names the
    problem (a long message puts its details first)."""
    text = _text(e)
    if not text.startswith("error: ") or "\n" not in text:
        return text
    *details, last = text[len("error: "):].splitlines()
    return "\n".join(details + ["error: " + last])


def _text(e: BaseException) -> str:
    if isinstance(e, Interrupted):
        return str(e)
    if by_ctrl_c(e):
        whole = _WHOLE[0]
        if whole is not None and os.path.isfile(os.path.join(whole, "metrics.json")):
            return (f"interrupted; the run is complete: python -m rigl_np plot {whole} writes "
                    "its figures")
        return "interrupted (Ctrl-C)"
    if isinstance(e, MemoryError):
        return "error: out of memory; use a smaller --batch-size or model, or free memory"
    if isinstance(e, BrokenPipeError):
        return "error: the output was closed (a broken pipe); the command stopped there"
    if isinstance(e, OSError) and not isinstance(e, DataError):
        verb = "write" if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO) else "use"
        return f"error: cannot {verb}{describe_os_error(e)}"
    if isinstance(e, (UsageError, Failure, DataError)) or type(e).__module__.startswith("rigl_np"):
        return f"error: {e}"
    return (f"error: internal error ({type(e).__name__}: {e}); this is a bug in rigl_np, please "
            "report it with the command that caused it (RIGL_NP_DEBUG=1 shows the traceback)")


@contextmanager
def quiet_float_warnings():
    """Silence NumPy's floating-point RuntimeWarnings in the ``with`` body, unless debugging."""
    with warnings.catch_warnings():
        if not debug():
            warnings.filterwarnings("ignore", FLOAT_WARNINGS, RuntimeWarning)
        yield


def _escape(error: UnicodeError):
    """The ``rigl_np-escape`` codec error handler: a character the stream cannot encode is
    written as a backslash escape; a byte of a file name that is not valid UTF-8 (which Python
    holds as a lone surrogate) as ``\\xNN``, the byte itself."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else
                   c.encode("ascii", "backslashreplace").decode("ascii") for c in text), error.end


def safe_output() -> None:
    """Make every line rigl_np writes reach the user whatever the file names and the stream's
    encoding (``LANG=C``, ``PYTHONIOENCODING=ascii``, a file name that is not UTF-8): stdout and
    stderr escape what they cannot encode instead of failing, and so do the child processes
    rigl_np starts (``PYTHONIOENCODING``, inherited). The one place; ``boundary`` calls it."""
    codecs.register_error("rigl_np-escape", _escape)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="rigl_np-escape")
        except (AttributeError, ValueError, io.UnsupportedOperation):
            pass                                # not a text stream we may reconfigure
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    os.environ["PYTHONIOENCODING"] = f"{encoding}:backslashreplace"


def boundary(command, *args) -> int:
    """Run ``command(*args)`` and return its exit code; an exception becomes a message on stderr
    and the code of ``exit_code``. A second Ctrl-C while the message is printed is ignored.

    NumPy's floating-point warnings (overflow, invalid value) are silenced unless debugging: a
    run that overflows is stopped and reported by the finite checks, in one message."""
    safe_output()
    try:
        with quiet_float_warnings():
            return command(*args)
    except (Exception, KeyboardInterrupt) as e:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        if isinstance(e, BrokenPipeError):     # nothing more can reach stdout, not even a flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        try:
            if debug():
                traceback.print_exc()
            print(message(e), file=sys.stderr, flush=True)
            return exit_code(e)
        finally:
            signal.signal(signal.SIGINT, previous)


def warn(text: str) -> None:
    """A warning that does not stop the command (one line on stderr; the traceback when
    debugging, if an exception is being handled)."""
    if debug() and sys.exc_info()[0] is not None:
        traceback.print_exc()
    print(f"warning: {text}", file=sys.stderr, flush=True)
