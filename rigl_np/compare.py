"""``python -m rigl_np compare``: a grid of runs and the table that compares them.

The grid is methods x sparsities x seeds (x models); every run gets its own run folder under
``OUT/runs/``; a run whose ``metrics.json`` exists is not repeated and a run with only a checkpoint
is resumed, so a stopped grid continues where it stopped. Dense runs once per seed and model (its
sparsity is 0); small-dense once per sparsity it is matched to.

The table (``OUT/results.md`` and ``OUT/results.csv``, built by ``rigl_np.results``) has one row
per (model, method, distribution, sparsity): mean ± std test accuracy over seeds, the real global
density, training and inference FLOPs as multiples of dense, and the mean wall time of a run.

What can go wrong, and what happens: every cell's configuration is checked before anything runs
(as ``train`` checks it); empty or repeated grid values are refused (two copies of a seed would be
reported as n=2 ± 0); ``OUT`` is locked while the grid runs; a cell that fails (it diverges,
its folder is busy or damaged, ...), here or on a cluster, does not stop the others: the table is
still written over the cells that finished, with a row per failed cell naming it and why
("n=2 of 3" on a mean it is missing from) and a line at the top of results.md saying how many
failed; then the command fails
(``FailedCells``: a line per cell, then what to do). The same command runs the failed and
missing cells again, never a finished one, and rewrites the table. Ctrl-C (or SIGTERM) stops
every running cell at its next batch with a checkpoint (the same command continues the grid).
``--jobs N`` runs N cells at once in worker processes that die with this one
(``rigl_np.children``); ``--cluster`` runs each cell as a task on a Dask cluster
(``rigl_np.cluster``).
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from rigl_np import children, errors
from rigl_np.atomic import atomic_write_bytes, lock_folder, remove_stale
from rigl_np.config import check_together, method_options, option_names, run_name, to_dict
from rigl_np.methods import get
from rigl_np.results import failed_row, row_from, summarise, to_csv, to_markdown
from rigl_np.runfolder import read_config, read_metrics


def _check_axes(models, methods, sparsities, seeds, jobs) -> None:
    """Refuse an empty or repeated grid value, and a ``jobs`` below 1."""
    for name, values in (("models", models), ("methods", methods),
                         ("sparsities", sparsities), ("seeds", seeds)):
        if not values:
            raise errors.UsageError(f"--{name} is empty; give at least one value")
        shown = [":".join(v) if isinstance(v, tuple) else str(v) for v in values]
        repeated = sorted({v for v in shown if shown.count(v) > 1})
        if repeated:
            raise errors.UsageError(f"--{name} repeats {', '.join(repeated)}; give each value "
                                    "once (a repeated one would be run and counted twice)")
    if not isinstance(jobs, int) or jobs < 1:
        raise errors.UsageError(f"--jobs must be at least 1, got {jobs}")


def grid(base: dict, models, methods, sparsities, seeds, options=None) -> list:
    """The configurations of the grid: ``base`` with each cell's values, every one checked as
    ``train`` would check it (``dataclasses.replace`` runs the dataclasses' checks). ``options``
    (``{name: value}``): method options, each given to the methods that have it."""
    options = options or {}
    cells = []
    for model in models:
        for method, distribution in methods:
            baseline = get(method).dense_baseline          # runs once, at sparsity 0
            for sparsity in ([0.0] if baseline else sparsities):
                for seed in seeds:
                    cells.append(check_together({
                        **base, "model": dataclasses.replace(base["model"], model=model),
                        "sparse": dataclasses.replace(base["sparse"], method=method,
                                                      sparsity=sparsity,
                                                      distribution=distribution),
                        "optim": dataclasses.replace(base["optim"], seed=seed),
                        "options": method_options(method, {k: v for k, v in options.items()
                                                           if k in option_names(method)}),
                        "run": dataclasses.replace(base["run"])}))
    return cells


def _check_same_settings(run_dir: Path, cfgs: dict) -> None:
    """Refuse to reuse a run folder that was made with other settings (a stale grid)."""
    saved_cfgs, _ = read_config(run_dir)
    saved, wanted = to_dict(saved_cfgs), to_dict(cfgs)
    for cfg in (saved, wanted):
        cfg["run"] = {k: v for k, v in cfg["run"].items() if k not in ("out", "resume")}
    if saved != wanted:
        changed = sorted(f"{group}.{key}" for group in wanted for key in wanted[group]
                         if saved.get(group, {}).get(key) != wanted[group][key])
        raise errors.UsageError(f"{run_dir} holds a run with other settings "
                                f"({', '.join(changed)}); delete it or compare into another "
                                "--out folder")


_STOP = None          # in a worker: the grid's "stop" event (``_init_worker``)


def _init_worker(stop, parent_pid: int) -> None:
    """A pool worker dies with the grid's process and takes signals from it alone
    (``rigl_np.children``)."""
    global _STOP
    children.die_with_parent(parent_pid)
    children.own_session()
    _STOP = stop


def _run_cell(cfgs: dict, worker: bool = False) -> dict:
    """Run one cell in a worker (or in this process) and return its metrics.

    A worker process starts with Ctrl-C ignored (so one arriving while it waits for work ends
    nothing) and starts no cell once the grid was stopped (a cell already queued to it); during
    its cell Ctrl-C acts as in ``train``: a checkpoint, then ``Interrupted``."""
    from rigl_np.experiment import run

    name = run_name(cfgs)
    if worker:
        if _STOP.is_set():
            raise KeyboardInterrupt
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with errors.quiet_float_warnings():                # as the command's boundary does
            return run(cfgs, log=lambda line: print(f"    {name}: {line}", flush=True))
    finally:
        if worker:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _fails_alone(e: Exception) -> bool:
    """True for an error of the cell's own (it diverged, its folder is busy or damaged, a bug):
    the cell is named in the table and the grid goes on, as on a cluster. A stop (Ctrl-C,
    SIGTERM) is not one: it stops the grid."""
    from rigl_np.experiment import Interrupted

    return not isinstance(e, (Interrupted, BrokenProcessPool))


def _run_serial(todo: list, log) -> list:
    """Run the cells one by one; returns the (name, error) of those that failed."""
    failed = []
    for i, cfgs in enumerate(todo, start=1):
        log(f"[{i}/{len(todo)}] {run_name(cfgs)}")
        try:
            _run_cell(cfgs)
        except Exception as e:
            if not _fails_alone(e):
                raise
            failed.append((run_name(cfgs), e))
    return failed


def _run_parallel(todo: list, jobs: int, log) -> list:
    """Run the cells ``jobs`` at a time in fresh processes; returns those that failed.

    Each worker gets ``os.cpu_count() // jobs`` BLAS threads (set before NumPy loads there).
    The workers are started with Ctrl-C ignored (``_run_cell``); on Ctrl-C (or SIGTERM) this
    process cancels the cells not started, passes one Ctrl-C to each worker (they take signals
    from it alone) and waits for the running cells to write their checkpoints."""
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads               # inherited by the fresh worker processes
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)     # inherited by the workers
    try:
        pool = ProcessPoolExecutor(min(jobs, len(todo)), mp_context=context,
                                   initializer=_init_worker, initargs=(stop, os.getpid()))
        futures = {pool.submit(_run_cell, cfgs, True): cfgs for cfgs in todo}   # starts workers
    finally:
        signal.signal(signal.SIGINT, previous)
    failed = []
    try:
        for future in as_completed(futures):
            name = run_name(futures[future])
            try:
                future.result()
                log(f"finished {name}")
            except Exception as e:
                if not _fails_alone(e):
                    raise
                log(f"{name} failed")
                failed.append((name, e))
    except BrokenProcessPool:
        raise errors.Failure("a worker process died (killed, or out of memory) while running "
                             "the grid; run the same command again: finished runs are reused and "
                             "stopped ones resumed") from None
    except BaseException:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop.set()
        children.interrupt(p.pid for p in multiprocessing.active_children())
        log("stopping: waiting for the running cells to write their checkpoints")
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
    return failed


class FailedCells(errors.Failure):
    """Some cells of the grid failed or diverged; the table, written over the others, names them
    (exit 1, like any failure; ``rigl_np.cli`` draws the figures of the others first)."""


def _status(e: BaseException) -> str:
    """A failed cell's status, one line: "diverged: <reason>" or "failed: <the message>"."""
    from rigl_np.experiment import Diverged

    if isinstance(e, Diverged):
        return f"diverged: {e.reason}"
    return "failed: " + " ".join(line.removeprefix("error: ")
                                 for line in errors.message(e).splitlines())


def _row(cfgs: dict, statuses: dict) -> dict:
    """The table row of one cell: its metrics, or (a cell that failed) its name and status."""
    name = run_name(cfgs)
    if name in statuses:
        return failed_row(to_dict(cfgs), name, statuses[name])
    return row_from(to_dict(cfgs), read_metrics(cfgs["run"].out))


def _failed_cells(statuses: dict, cells: int, out: Path) -> FailedCells:
    """The error of a grid whose table is written: a line per failed cell (``statuses``, by run
    name), then how many failed and what to do."""
    diverged = sum(status.startswith("diverged") for status in statuses.values())
    if diverged == len(statuses):
        what, then = "diverged", "with a lower --lr, compare into a new --out"
    else:
        what, then = "failed", "the same command runs them again" + (
            " (a diverged one needs a lower --lr, in a new --out)" if diverged else "")
    return FailedCells("\n".join(f"{name} {status}" for name, status in statuses.items())
                       + f"\n{len(statuses)} of {cells} runs {what} (above); the table "
                       f"{out / 'results.md'} names them beside the runs that finished; {then}")


def compare(base: dict, out, models, methods, sparsities, seeds, jobs: int = 1, log=print,
            cluster: str | None = None, options=None) -> list:
    """Run (or reuse) every cell of the grid, then write results.md / results.csv into ``out``;
    ``FailedCells`` once they are written if a cell failed or diverged (the table names it).

    ``jobs`` > 1 runs that many cells at once in fresh processes (``_run_parallel``);
    ``cluster``, a Dask scheduler's address, runs them on its workers (``rigl_np.cluster``);
    ``options`` (``{name: value}``): method options, each cell given its method's (``grid``).
    """
    from rigl_np.experiment import Interrupted

    _check_axes(models, methods, sparsities, seeds, jobs)
    if base["run"].resume is not None:
        raise errors.UsageError("--resume is for train; compare continues stopped runs itself: "
                                "run the same compare command again")
    if cluster is not None and jobs != 1:
        raise errors.UsageError("--jobs is for this machine; with --cluster the workers' threads "
                                "say how many runs go at once")
    out = Path(out).absolute() if cluster is not None else Path(out)   # the workers' path too
    if out.exists() and not out.is_dir():
        raise errors.UsageError(f"{out} is a file, not a compare folder; choose another --out")
    if (out / "config.json").exists():
        raise errors.UsageError(f"{out} holds a run, not a compare grid; choose another --out")
    cells = grid(base, models, methods, sparsities, seeds, options)
    with lock_folder(out, "compare folder"):
        # 1. which cells are done (a stopped grid resumes: finished cells are read, stopped
        #    ones resumed)
        todo = []
        for cfgs in cells:
            run_dir = out / "runs" / run_name(cfgs)
            if (run_dir / "config.json").exists():
                _check_same_settings(run_dir, cfgs)
            cfgs["run"].out = str(run_dir)
            resumable = (run_dir / "checkpoint.npz").exists()   # else it starts again there
            cfgs["run"].resume = str(run_dir) if resumable else None
            if not (run_dir / "metrics.json").exists():
                todo.append(cfgs)
        remove_stale(out)                   # the grid is accepted: a killed writer's leftovers go
        log(f"{len(cells)} runs in the grid, {len(cells) - len(todo)} done before, "
            f"{len(todo)} to run")
        # 2. run the rest, one by one, in worker processes or on a cluster; SIGTERM = Ctrl-C
        try:
            with children.sigterm_as_ctrl_c():
                if cluster is not None:
                    from rigl_np.cluster import run_on_cluster
                    failed = run_on_cluster(cluster, todo, out, log) if todo else []
                else:
                    failed = (_run_parallel(todo, jobs, log) if jobs > 1 and len(todo) > 1
                              else _run_serial(todo, log))
        except (Interrupted, KeyboardInterrupt):
            raise errors.Interrupted("interrupted; the running cells saved checkpoints. Continue "
                                     "the grid with the same compare command") from None
        # 3. one row per run (a failed one says why), then the table; failed runs fail the command
        statuses = {name: _status(e) for name, e in failed}
        rows = [_row(cfgs, statuses) for cfgs in cells]
        table = summarise(rows)
        threads = os.environ.get("OPENBLAS_NUM_THREADS", "the default number of")
        timing = (f"{max(jobs, 1)} run(s) at a time with {threads} BLAS thread(s) each"
                  if cluster is None else f"one run per thread of the Dask workers at {cluster}")
        atomic_write_bytes(out / "results.md", to_markdown(table, timing).encode())
        atomic_write_bytes(out / "results.csv", to_csv(table).encode())
        if statuses:
            raise _failed_cells(statuses, len(cells), out)
    return rows
