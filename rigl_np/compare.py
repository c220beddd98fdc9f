"""``python -m rigl_np compare``: a grid of runs and the table that compares them.

The grid is methods x sparsities x seeds (x models); every run gets its own run folder under
``OUT/runs/``; a run whose ``metrics.json`` exists is not repeated and a run with only a checkpoint
is resumed, so a stopped grid continues where it stopped. Dense runs once per seed and model (its
sparsity is 0); small-dense once per sparsity it is matched to.

The table (``OUT/results.md`` and ``OUT/results.csv``) has one row per (model, method,
distribution, sparsity): mean ± std test accuracy over seeds, the real global density, training
and inference FLOPs as multiples of dense, and the mean wall time of a run.
"""
from __future__ import annotations

import copy
import dataclasses
import csv
import io
import multiprocessing
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rigl_np.config import run_name
from rigl_np.methods import facts, get
from rigl_np.atomic import atomic_write_bytes
from rigl_np.runfolder import read_json


def grid(base: dict, models, methods, sparsities, seeds) -> list:
    """The configurations of the grid, each a deep copy of ``base`` with its cell's values."""
    cells = []
    for model in models:
        for method, distribution in methods:
            baseline = get(method).dense_baseline          # runs once, at sparsity 0
            for sparsity in ([0.0] if baseline else sparsities):
                for seed in seeds:
                    cfgs = copy.deepcopy(base)
                    cfgs["model"].model = model
                    cfgs["sparse"].method, cfgs["sparse"].sparsity = method, sparsity
                    cfgs["sparse"].distribution = distribution
                    cfgs["optim"].seed = seed
                    cells.append(cfgs)
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
    saved = read_json(run_dir / "config.json")
    wanted = {k: dataclasses.asdict(v) for k, v in cfgs.items()}
    for cfg in (saved, wanted):
        cfg["run"] = {k: v for k, v in cfg["run"].items() if k not in ("out", "resume")}
    if saved != wanted:
        changed = sorted(f"{group}.{key}" for group in wanted for key in wanted[group]
                         if saved.get(group, {}).get(key) != wanted[group][key])
        raise ValueError(f"{run_dir} holds a run with other settings ({', '.join(changed)}); "
                         "delete it or compare into another --out folder")


def _run_cell(cfgs: dict) -> dict:
    """Run one cell in a worker (or in this process) and return its metrics."""
    from rigl_np.experiment import run

    name = run_name(cfgs)
    return run(cfgs, log=lambda line: print(f"    {name}: {line}", flush=True))


def compare(base: dict, out, models, methods, sparsities, seeds, jobs: int = 1, log=print) -> list:
    """Run (or reuse) every cell of the grid, then write results.md / results.csv into ``out``.

    ``jobs`` > 1 runs that many cells at once in fresh processes, each with
    ``os.cpu_count() // jobs`` BLAS threads (set before NumPy loads there, so it takes effect).
    """
    out = Path(out)
    cells = grid(base, models, methods, sparsities, seeds)
    # 1. which cells are done (a stopped grid resumes: finished cells are read, stopped ones resumed)
    todo = []
    for cfgs in cells:
        run_dir = out / "runs" / run_name(cfgs)
        cfgs["run"].out = str(run_dir)
        if (run_dir / "config.json").exists():
            _check_same_settings(run_dir, cfgs)
        cfgs["run"].resume = str(run_dir) if (run_dir / "checkpoint.npz").exists() else None
        if not (run_dir / "metrics.json").exists():
            todo.append(cfgs)
    log(f"{len(cells)} runs in the grid, {len(cells) - len(todo)} done before, {len(todo)} to run")
    # 2. run the rest, one by one or in worker processes
    if jobs > 1 and len(todo) > 1:
        threads = str(max(1, (os.cpu_count() or 1) // jobs))
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = threads               # inherited by the fresh worker processes
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context) as pool:
            for cfgs, _ in zip(todo, pool.map(_run_cell, todo)):
                log(f"finished {run_name(cfgs)}")
    else:
        for i, cfgs in enumerate(todo, start=1):
            log(f"[{i}/{len(todo)}] {run_name(cfgs)}")
            _run_cell(cfgs)
    # 3. one row per run, then the table
    rows = [row_from({k: dataclasses.asdict(v) for k, v in cfgs.items()},
                     read_json(Path(cfgs["run"].out) / "metrics.json")) for cfgs in cells]
    table = summarise(rows)
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "the default number of")
    timing = f"{max(jobs, 1)} run(s) at a time with {threads} BLAS thread(s) each"
    atomic_write_bytes(out / "results.md", to_markdown(table, timing).encode())
    atomic_write_bytes(out / "results.csv", to_csv(table).encode())
    return rows
