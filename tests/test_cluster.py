"""``compare --cluster``: a grid on a local Dask cluster of two worker processes (loopback only).

Its results equal the same grid run here at one BLAS thread, bit for bit; a worker that cannot
see ``--out`` stops it before any cell starts (exit 2); Ctrl-C or SIGTERM stops it with every
cell's process ended and every cell resumable; a killed worker takes its cell's process with it
and the cell resumes elsewhere; a cell that fails on a worker fails alone, named in the table
of the others. Skipped (with the reason) where Dask's ``distributed`` is not installed; the
command's answer without it is tested everywhere. Covers ``rigl_np/cluster.py`` and ``compare``'s hooks.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from test_faults_children import assert_all_end, descendants, finish_the_grid
from test_faults_common import assert_clean, outcome, python_m

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the processes")

GRID = ["compare", "--dataset", "synthetic", "--epochs", "4", "--batch-size", "250",
        "--checkpoint-every", "1", "--methods", "dense,static,rigl", "--seeds", "0"]
CELL = "rigl_np.cluster import cell_main"          # in the command line of a cell's process


def _distributed():
    return pytest.importorskip("distributed", reason="Dask's distributed is not installed "
                               "(pip install -e .[cluster]); compare --cluster cannot be tested")


@pytest.fixture(scope="module")
def cluster():
    """A scheduler and two worker processes (one thread each) on 127.0.0.1."""
    distributed = _distributed()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as running:
        yield running


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The grid run here, one cell at a time at one BLAS thread (``python_m`` sets it)."""
    out = tmp_path_factory.mktemp("local") / "grid"
    proc = python_m(*GRID, "--out", out)
    assert proc.wait(timeout=600) == 0, proc.communicate()[1]
    return out


def on_cluster(cluster, out, *extra):
    return python_m(*GRID, "--cluster", cluster.scheduler_address, *extra, "--out", out)


def cell_processes() -> set:
    """The cells' processes running under this test process (the cluster's workers' children)."""
    def command(pid):
        try:
            return Path(f"/proc/{pid}/cmdline").read_text()
        except OSError:
            return ""
    return {p for p in descendants(os.getpid()) if CELL in command(p)}


def timeless(value):
    """``value`` without wall times and the run folder's path (absolute on a cluster)."""
    if isinstance(value, dict):
        return {k: timeless(v) for k, v in value.items() if "seconds" not in k and k != "run_dir"}
    return [timeless(v) for v in value] if isinstance(value, list) else value


def assert_same_results(local: Path, out: Path) -> None:
    """The same runs, bit for bit: every array, every metric but the times, the same table
    (the seconds column aside) and the same figures."""
    runs = sorted(p.relative_to(local) for p in local.glob("runs/*/*.npz"))
    assert runs == sorted(p.relative_to(out) for p in out.glob("runs/*/*.npz")) and runs
    for path in runs:
        with np.load(local / path) as a, np.load(out / path) as b:
            assert a.files == b.files
            for key in a.files:
                if key != "json":                     # the json holds wall times
                    assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
    for path in local.glob("runs/*/metrics.json"):
        mine, theirs = (json.loads(p.read_text()) for p in (path, out / path.relative_to(local)))
        assert timeless(mine) == timeless(theirs)
    table = lambda folder: [line.split(",")[:-1] for line in
                            (folder / "results.csv").read_text().splitlines()]
    assert table(local) == table(out)          # seconds is the last column
    assert sorted(p.name for p in local.glob("*.png")) == sorted(p.name for p in out.glob("*.png"))


def test_a_grid_on_the_cluster_equals_the_same_grid_run_here(cluster, local, tmp_path):
    proc = on_cluster(cluster, tmp_path / "grid")
    stdout, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "2 Dask worker(s) see" in stdout
    assert_same_results(local, tmp_path / "grid")
    assert not cell_processes()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_grid_ends_its_cells_and_the_same_command_finishes(cluster, local, tmp_path,
                                                                     signum):
    out = tmp_path / "grid"
    proc = on_cluster(cluster, out)
    deadline = time.time() + 300
    while len(list(out.glob("runs/*/checkpoint.npz"))) < 2:
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[1]
        time.sleep(0.01)
    running = cell_processes()
    os.kill(proc.pid, signum)
    code = proc.wait(timeout=120)
    assert_clean(code, proc.communicate(timeout=60)[1], 130,
                 "Continue the grid with the same compare command")
    assert_all_end(running | cell_processes())
    assert not list(out.rglob(".*.tmp")) and not list(out.glob(".rigl_np-cluster-*"))
    finish_the_grid(out, [*GRID, "--cluster", cluster.scheduler_address])
    assert_same_results(local, out)


def test_a_killed_worker_takes_its_cell_with_it_and_the_cell_resumes(cluster, local, tmp_path):
    out = tmp_path / "grid"
    proc = on_cluster(cluster, out)
    deadline = time.time() + 300
    while not (list(out.glob("runs/*/checkpoint.npz")) and cell_processes()):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[1]
        time.sleep(0.01)
    cell = min(cell_processes())
    worker = int(Path(f"/proc/{cell}/stat").read_text().rpartition(")")[2].split()[1])
    os.kill(worker, signal.SIGKILL)
    assert_all_end({worker, cell}, within=10)
    stdout, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err                # Dask ran the cell again on another worker
    assert_same_results(local, out)


def test_a_cell_that_fails_on_a_worker_fails_alone(cluster, tmp_path):
    from rigl_np.atomic import lock_folder

    out = tmp_path / "grid"
    with lock_folder(out / "runs" / "lenet300-static-erk-0.9-seed0"):     # busy on the worker
        proc = on_cluster(cluster, out)
        _, err = proc.communicate(timeout=600)
    assert_clean(proc.returncode, err, 1, "1 of 3 runs failed (above); the table",
                 "names them beside the runs that finished; the same command runs them again")
    assert "lenet300-static-erk-0.9-seed0 failed: " in err and "in use by another" in err
    assert {p.parent.name for p in out.glob("runs/*/metrics.json")} == {
        "lenet300-dense-seed0", "lenet300-rigl-erk-0.9-seed0"}
    text = (out / "results.md").read_text()
    assert text.startswith("**Incomplete: 1 of 3 runs failed**")
    (static,) = [line for line in text.splitlines() if "| lenet300 | static |" in line]
    assert "| - | lenet300-static-erk-0.9-seed0 failed: " in static
    assert "in use by another" in static and "| lenet300 | rigl | erk | 0.9 | " in text
    assert (out / "accuracy_vs_sparsity.png").exists()
    finish_the_grid(out, [*GRID, "--cluster", cluster.scheduler_address])


BLIND = "mount -t tmpfs none {hidden} && exec {python} -m distributed.cli.dask_worker {address} " \
        "--nthreads 1 --host 127.0.0.1 --no-dashboard --no-nanny"


def test_a_worker_that_cannot_see_out_stops_the_grid_before_it_starts(tmp_path):
    """A worker in a mount namespace of its own sees an empty file system where --out is."""
    distributed = _distributed()
    hidden = tmp_path / "shared"
    hidden.mkdir()
    try:
        allowed = subprocess.run(["unshare", "-Urm", "sh", "-c", f"mount -t tmpfs none {hidden}"],
                                 capture_output=True, timeout=60).returncode == 0
    except FileNotFoundError:
        allowed = False
    if not allowed:
        pytest.skip("a mount namespace of its own (unshare -Urm, then mount) is not allowed here")
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as c, \
            distributed.Client(c, set_as_default=False) as client:
        command = BLIND.format(hidden=hidden, python=sys.executable, address=c.scheduler_address)
        worker = subprocess.Popen(["unshare", "-Urm", "sh", "-c", command],
                                  stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(1, timeout=120)
            proc = python_m(*GRID, "--cluster", c.scheduler_address, "--out", hidden / "grid")
            _, err = proc.communicate(timeout=300)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    assert_clean(proc.returncode, err, 2, "--out must be on a file system every worker mounts "
                 "at the same path")
    assert "cannot use" in err and not list((hidden / "grid").glob("runs/*"))
    assert not list((hidden / "grid").glob(".rigl_np-cluster-*"))


def test_without_distributed_the_command_says_what_to_install(tmp_path):
    blocked = ("import runpy, sys; sys.modules['distributed'] = None; "
               "sys.argv = ['rigl_np', *sys.argv[1:]]; runpy.run_module('rigl_np', "
               "run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", blocked, *GRID, "--cluster", "tcp://127.0.0.1:1",
                           "--out", str(tmp_path / "grid")], capture_output=True, text=True,
                          timeout=120)
    assert_clean(done.returncode, done.stderr, 2, "pip install -e .[cluster]")
    assert not (tmp_path / "grid" / "runs").exists()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1", "nonsense:::x"])
def test_a_bad_scheduler_address_is_refused(tmp_path, capsys, address):
    _distributed()
    code, _, err = outcome([*GRID, "--cluster", address, "--out", tmp_path / "grid"], capsys)
    assert_clean(code, err, 2, f"--cluster {address}: cannot reach a Dask scheduler there")
    assert not (tmp_path / "grid" / "runs").exists()


def test_cluster_and_jobs_together_are_refused(tmp_path, capsys):
    code, _, err = outcome([*GRID, "--cluster", "tcp://127.0.0.1:1", "--jobs", "2",
                            "--out", tmp_path / "grid"], capsys)
    assert_clean(code, err, 2, "with --cluster the workers' threads say how many runs go at once")
    assert not (tmp_path / "grid").exists()
