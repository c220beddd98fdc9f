"""No orphans: ``compare --jobs 2`` stopped by SIGTERM or killed by SIGKILL leaves no process of
its own behind (issue 17, class 2: its workers used to finish their cells and then wait forever,
holding their run folders), and the same command then finishes the grid, reusing every finished
cell. Covers ``rigl_np/children.py`` and the pool of ``rigl_np/compare.py``; the same for
``--cluster`` is in ``tests/test_cluster.py``. Signals go to the compare process alone, as
``kill PID`` sends them."""
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from test_faults_common import assert_clean, python_m

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the processes")

GRID = ["compare", "--dataset", "synthetic", "--epochs", "4", "--batch-size", "250",
        "--checkpoint-every", "1", "--methods", "dense,static,rigl", "--seeds", "0", "--jobs", "2"]


def _alive(pid: int) -> bool:
    """True while ``pid`` is a process that is not a zombie (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def descendants(pid: int) -> set:
    """Every live process below ``pid`` (children, their children, ...)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found and _alive(child):
                found.add(child)
                todo.append(child)
    return found


def assert_all_end(pids, within: float = 60.0) -> None:
    """Every process of ``pids`` ends within ``within`` seconds; those that do not are named,
    then killed (a failing test leaves no orphan of its own either)."""
    deadline = time.time() + within
    while any(_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    left = sorted(p for p in pids if _alive(p))
    names = [Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ")[:100] for p in left]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running after {within:.0f} s: {names}"


def _started(out: Path, proc, cells: int = 2) -> set:
    """Wait until ``cells`` run folders hold a checkpoint; the compare's processes then."""
    deadline = time.time() + 120
    while len(list(out.glob("runs/*/checkpoint.npz"))) < cells:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline, "no cell wrote a checkpoint"
        time.sleep(0.01)
    return descendants(proc.pid)


def finish_the_grid(out: Path, args=GRID) -> None:
    """The same command: exit 0, the finished cells read (not run again), the whole table
    written."""
    finished = {p: p.read_bytes() for p in out.glob("runs/*/metrics.json")}
    again = python_m(*args, "--out", out)
    stdout, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert f"{len(finished)} done before" in stdout
    assert all(p.read_bytes() == data for p, data in finished.items())
    text = (out / "results.md").read_text()
    assert "| lenet300 | rigl | erk | 0.9 |" in text and "Incomplete" not in text


STOPS = {"SIGTERM, --jobs 2": (signal.SIGTERM, "2"), "SIGINT, --jobs 2": (signal.SIGINT, "2"),
         "SIGTERM, --jobs 1": (signal.SIGTERM, "1")}


@pytest.mark.parametrize("case", STOPS)
def test_a_signal_to_the_compare_process_alone_stops_every_worker(tmp_path, case):
    """SIGTERM acts as Ctrl-C: the running cells write their checkpoints, the workers (which
    take signals from the compare process alone) end with it; before, SIGTERM killed the compare
    process only, and its workers lived on."""
    signum, jobs = STOPS[case]
    args, out = [*GRID[:-1], jobs], tmp_path / "grid"
    proc = python_m(*args, "--out", out)
    workers = _started(out, proc, cells=int(jobs))
    assert workers or jobs == "1", "the pool has no processes"
    os.kill(proc.pid, signum)
    code = proc.wait(timeout=120)
    assert_all_end(workers)            # (an orphan would also hold stderr open: checked first)
    assert_clean(code, proc.communicate(timeout=60)[1], 130,
                 "Continue the grid with the same compare command")
    assert not list(out.rglob(".*.tmp"))
    finish_the_grid(out, args)


def test_a_killed_compare_takes_its_workers_with_it(tmp_path):
    """SIGKILL leaves the compare process no time: its workers die with it (the kernel kills
    them), their folders' locks go with them, and every cell resumes from its checkpoint."""
    out = tmp_path / "grid"
    proc = python_m(*GRID, "--out", out)
    workers = _started(out, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert_all_end(workers, within=10)
    finish_the_grid(out)


def test_a_worker_whose_parent_is_gone_exits_at_once(tmp_path):
    """``die_with_parent`` checks after asking: a child whose parent died before the request
    ends at once instead of living on."""
    import subprocess

    code = ("import os, sys; from rigl_np.children import die_with_parent; "
            "die_with_parent(os.getppid() + 1); print('alive')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "alive" not in done.stdout
