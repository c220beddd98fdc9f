"""``python -m rigl_np ...``: see ``rigl_np.cli``.

A Ctrl-C that arrives before the command's error boundary is in place (while Python imports the
command line) or after it (while the interpreter shuts down) ends the process with exit code 130
and one line, like one during the command; past the boundary further Ctrl-Cs are ignored, and a
closed stdout (``| head``) is not reported a second time by the interpreter's last flush. A
command line that cannot even be loaded (``RIGL_NP_BACKEND=cupy`` without a GPU, a missing
package) is one line and exit code 2.
"""
import os
import signal
import sys
import traceback

from rigl_np.errors import by_ctrl_c, note_ctrl_c  # standard library only: it always imports


def main() -> int:
    """Run the command line; the exit code (the ``rigl-np`` console script calls this too)."""
    note_ctrl_c()
    try:
        from rigl_np.cli import main as command_line

        code = command_line()
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C)", file=sys.stderr)
        code = 130
    except Exception as e:                    # raised while importing rigl_np.cli (main has its own)
        if os.environ.get("RIGL_NP_DEBUG") == "1":
            traceback.print_exc()
        where = (f" (RIGL_NP_BACKEND={os.environ['RIGL_NP_BACKEND']})"
                 if "RIGL_NP_BACKEND" in os.environ else "")
        interrupted = by_ctrl_c(e)                # an import that Ctrl-C cut short
        print("interrupted (Ctrl-C)" if interrupted else f"error: rigl_np cannot start{where}: {e}",
              file=sys.stderr)
        code = 130 if interrupted else 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


if __name__ == "__main__":
    sys.exit(main())
