"""``python -m rigl_np compare``: a grid of runs and the table that compares them.

The grid is methods x sparsities x seeds (x models); every run gets its own run folder under
``OUT/runs/``; a run whose ``metrics.json`` exists is not repeated and a run with only a checkpoint
is resumed, so a stopped grid continues where it stopped. Dense runs once per seed and model (its
sparsity is 0); small-dense once per sparsity it is matched to.

The table (``OUT/results.md`` and ``OUT/results.csv``) has one row per (model, method,
distribution, sparsity): mean ± std test accuracy over seeds, the real global density, training
and inference FLOPs as multiples of dense, and the mean wall time of a run.

What can go wrong, and what happens: every cell's configuration is checked before anything runs
(as ``train`` checks it); empty or repeated grid values are refused (two copies of a seed would be
reported as n=2 ± 0); ``OUT`` is locked while the grid runs; a cell that diverges does not stop
the others, but no table is written over a grid with failed cells; Ctrl-C stops every running
cell at its next batch with a checkpoint (the same command continues the grid).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import multiprocessing
import os
import signal
import statistics
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from rigl_np import errors
from rigl_np.atomic import atomic_write_bytes, lock_folder, remove_stale
from rigl_np.config import check_together, method_options, option_names, run_name, to_dict
from rigl_np.methods import facts, get
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


def row_from(config: dict, metrics: dict) -> dict:
    """One table row from a run's config.json (as dicts) and metrics.json."""
    s, kind = config["sparse"], facts(config, metrics)
    return {"model": config["model"]["model"], "method": s["method"],
            "has_masks": kind["has_masks"], "dense_baseline": kind["dense_baseline"],
            "distribution": s["distribution"], "sparsity": s["sparsity"],
            "seed": config["optim"]["seed"], "test_accuracy": metrics["test_accuracy"],
            "global_density": metrics["global_density"],
            "train_flops": metrics["flops"]["train_multiplier"],
            "inference_flops": metrics["flops"]["inference_multiplier"],
            "seconds": metrics["train_seconds"]}


def summarise(rows: list) -> list:
    """Group run metrics by (model, method, distribution, sparsity): mean ± std over seeds."""
    groups = {}
    for r in rows:
        groups.setdefault((r["model"], r["method"], r["distribution"], r["sparsity"]), []).append(r)
    table = []
    for (model, method, distribution, sparsity), runs in groups.items():
        acc = [r["test_accuracy"] for r in runs]
        first = runs[0]
        table.append({
            "model": model, "method": method, "has_masks": first["has_masks"],
            "dense_baseline": first["dense_baseline"],
            "distribution": distribution if first["has_masks"] else "-",
            "sparsity": sparsity, "seeds": len(runs),
            "accuracy_mean": statistics.mean(acc),
            "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
            "global_density": statistics.mean(r["global_density"] for r in runs),
            "train_flops": statistics.mean(r["train_flops"] for r in runs),
            "inference_flops": statistics.mean(r["inference_flops"] for r in runs),
            "seconds": statistics.mean(r["seconds"] for r in runs)})
    return table


def accuracy_cell(t: dict) -> str:
    """"87.35 ± 0.28 (n=3)": mean ± std over seeds in %; one seed has no spread to show."""
    spread = f" ± {100 * t['accuracy_std']:.2f}" if t["seeds"] > 1 else ""
    return f"{100 * t['accuracy_mean']:.2f}{spread} (n={t['seeds']:g})"


def to_markdown(table: list, timing: str = "") -> str:
    """The results table; ``timing`` says how the seconds were measured (a note under it)."""
    lines = ["| model | method | distribution | sparsity | test accuracy (%) | real density | "
             "train FLOPs | inference FLOPs | seconds/run |",
             "|---|---|---|---|---|---|---|---|---|"]
    for t in table:
        lines.append(f"| {t['model']} | {t['method']} | {t['distribution']} | {t['sparsity']:g} | "
                     f"{accuracy_cell(t)} | {t['global_density']:.4f} | {t['train_flops']:.3f}x | "
                     f"{t['inference_flops']:.3f}x | {t['seconds']:.0f} |")
    note = ("\nseconds/run: wall time of one run on a shared machine" + (f", {timing}" if timing else "")
            + "; theoretical FLOPs, not these seconds, are what the methods cost (masked dense "
            "compute runs at dense speed).\n")
    return "\n".join(lines) + "\n" + note


def to_csv(table: list) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    return out.getvalue()


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


def _init_worker(stop) -> None:
    global _STOP
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


def _run_serial(todo: list, log) -> list:
    """Run the cells one by one; returns the (name, error) of those that diverged."""
    from rigl_np.experiment import Diverged

    failed = []
    for i, cfgs in enumerate(todo, start=1):
        log(f"[{i}/{len(todo)}] {run_name(cfgs)}")
        try:
            _run_cell(cfgs)
        except Diverged as e:
            failed.append((run_name(cfgs), e))
    return failed


def _run_parallel(todo: list, jobs: int, log) -> list:
    """Run the cells ``jobs`` at a time in fresh processes; returns those that diverged.

    Each worker gets ``os.cpu_count() // jobs`` BLAS threads (set before NumPy loads there).
    The workers are started with Ctrl-C ignored (``_run_cell``); on Ctrl-C this process cancels
    the cells not started and waits for the running ones to write their checkpoints."""
    from rigl_np.experiment import Diverged

    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads               # inherited by the fresh worker processes
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)     # inherited by the workers
    try:
        pool = ProcessPoolExecutor(min(jobs, len(todo)), mp_context=context,
                                   initializer=_init_worker, initargs=(stop,))
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
            except Diverged as e:
                failed.append((name, e))
    except BrokenProcessPool:
        raise errors.Failure("a worker process died (killed, or out of memory) while running "
                             "the grid; run the same command again: finished runs are reused and "
                             "stopped ones resumed") from None
    except BaseException:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop.set()
        log("stopping: waiting for the running cells to write their checkpoints")
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
    return failed


def compare(base: dict, out, models, methods, sparsities, seeds, jobs: int = 1, log=print,
            options=None) -> list:
    """Run (or reuse) every cell of the grid, then write results.md / results.csv into ``out``.

    ``jobs`` > 1 runs that many cells at once in fresh processes (``_run_parallel``).
    """
    from rigl_np.experiment import Interrupted

    _check_axes(models, methods, sparsities, seeds, jobs)
    if base["run"].resume is not None:
        raise errors.UsageError("--resume is for train; compare continues stopped runs itself: "
                                "run the same compare command again")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise errors.UsageError(f"{out} is a file, not a compare folder; choose another --out")
    if (out / "config.json").exists():
        raise errors.UsageError(f"{out} holds a run, not a compare grid; choose another --out")
    cells = grid(base, models, methods, sparsities, seeds, options)
    with lock_folder(out, "compare folder"):
        remove_stale(out)
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
        log(f"{len(cells)} runs in the grid, {len(cells) - len(todo)} done before, "
            f"{len(todo)} to run")
        # 2. run the rest, one by one or in worker processes
        try:
            failed = (_run_parallel(todo, jobs, log) if jobs > 1 and len(todo) > 1
                      else _run_serial(todo, log))
        except (Interrupted, KeyboardInterrupt):
            raise errors.Interrupted("interrupted; the running cells saved checkpoints. Continue "
                                     "the grid with the same compare command") from None
        if failed:
            lines = [f"{name} diverged: {e.reason}" for name, e in failed]
            raise errors.Failure("\n".join(lines) + f"\n{len(failed)} of {len(cells)} runs "
                                 "diverged (above), so no table was written; with a lower --lr, "
                                 "compare into a new --out")
        # 3. one row per run, then the table
        rows = [row_from(to_dict(cfgs), read_metrics(cfgs["run"].out)) for cfgs in cells]
        table = summarise(rows)
        threads = os.environ.get("OPENBLAS_NUM_THREADS", "the default number of")
        timing = f"{max(jobs, 1)} run(s) at a time with {threads} BLAS thread(s) each"
        atomic_write_bytes(out / "results.md", to_markdown(table, timing).encode())
        atomic_write_bytes(out / "results.csv", to_csv(table).encode())
    return rows
