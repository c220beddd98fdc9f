"""Cells per hour of one small grid: ``compare --cluster`` with 1 and 2 local Dask workers, and
``compare --jobs 1`` / ``--jobs 2`` on this machine, in one run.

Every way runs the same grid (synthetic data, LeNet-300-100, dense/static/RigL at 90 %, two
seeds: 6 cells of about 5 s of CPU each at 30 epochs) from nothing into a fresh folder, as
``python -m rigl_np compare``; the time is the command's wall time: start-up, the cells, the
table and the figures, as a user waits for them. The Dask clusters (scheduler and workers on
127.0.0.1, one thread per worker, so one cell per worker at a time) are started before the clock
starts, as a real cluster is up before a grid is sent to it. Each cell runs at one BLAS thread:
on the cluster Dask's workers set it (and each cell's process inherits it); ``--jobs N`` gives
each worker ``cpu_count // N`` threads (1 each at ``--jobs 2`` on a 2-core machine). The last
column is the ratio to ``--jobs 2`` (above 1: more cells per hour). The script also checks that
every way at one BLAS thread gave the same results (the table without its seconds column).

    python benchmarks/cluster.py [--epochs 30] [--seeds 0,1]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = ["compare", "--dataset", "synthetic", "--methods", "dense,static,rigl",
        "--sparsities", "0.9", "--batch-size", "250"]


def run_grid(args: list, out: Path, extra: list) -> float:
    """Wall seconds of ``python -m rigl_np compare`` over the grid into ``out``."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("MALLOC_TRIM_THRESHOLD_", None)       # a LocalCluster leaves it in os.environ
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rigl_np", *GRID, *args, *extra, "--out",
                           str(out)], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"compare {' '.join(extra)} failed:\n{done.stderr}")
    return seconds


def table_without_seconds(out: Path) -> list:
    return [line.rsplit(",", 1)[0] for line in (out / "results.csv").read_text().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", default="30")
    parser.add_argument("--seeds", default="0,1")
    opts = parser.parse_args()
    from distributed import LocalCluster

    args = ["--epochs", opts.epochs, "--seeds", opts.seeds]
    cells = 3 * len(opts.seeds.split(","))
    jobs2_threads = max(1, (os.cpu_count() or 1) // 2)
    rows, tables = [], []
    with tempfile.TemporaryDirectory() as tmp:
        ways = [("--jobs 1", ["--jobs", "1"], 1, None), ("--jobs 2", ["--jobs", "2"],
                                                           jobs2_threads, None),
                ("--cluster, 1 worker", None, 1, 1), ("--cluster, 2 workers", None, 1, 2)]
        for i, (name, extra, threads, workers) in enumerate(ways):
            out = Path(tmp) / f"grid{i}"
            if workers is None:
                seconds = run_grid(args, out, extra)
            else:
                with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
                    seconds = run_grid(args, out, ["--cluster", cluster.scheduler_address])
            rows.append((name, threads, seconds))
            if threads == 1:
                tables.append(table_without_seconds(out))
            print(f"{name}: {seconds:.1f} s", file=sys.stderr, flush=True)
    base = next(s for name, _, s in rows if name == "--jobs 2")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{cells} cells (LeNet-300-100 on synthetic data, {opts.epochs} epochs each), "
          f"{os.cpu_count()} CPUs, load average at the end {load}\n")
    print("| how | BLAS threads per cell | wall s | cells per hour | vs --jobs 2 |")
    print("|---|---|---|---|---|")
    for name, threads, seconds in rows:
        print(f"| {name} | {threads} | {seconds:.1f} | {cells * 3600 / seconds:.0f} | "
              f"{base / seconds:.2f}x |")
    same = all(t == tables[0] for t in tables)
    print(f"\nsame results every way at one BLAS thread (the table without its seconds): "
          f"{'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
