"""The results table: one row per run, summarised over seeds, and written as Markdown and CSV.

A row (``row_from``) is one finished run, read from its config.json and metrics.json. The table
(``summarise``) has one row per (model, method, distribution, sparsity): mean ± std test accuracy
over seeds, the real global density, training and inference FLOPs as multiples of dense, and the
mean wall time of a run. ``rigl_np.compare`` writes it for a grid of runs (``results.md``,
``results.csv``); ``rigl_np.viz.runs`` plots it, from that CSV or from a few run folders.
"""
from __future__ import annotations

import csv
import io
import statistics

from rigl_np.methods import facts, selection


def row_from(config: dict, metrics: dict) -> dict:
    """One table row from a run's config.json (as dicts) and metrics.json. An N:M run's
    distribution is "N:M 2:4" (its masks are uniform in density, structured in place); a global
    selection's is "global erk" ("global-l2 erk": its layers' densities drift from erk's)."""
    s, kind = config["sparse"], facts(config, metrics)
    nm = (config.get("options") or {}).get("nm")
    chosen = selection.tag(config.get("options") or {})
    return {"model": config["model"]["model"], "method": s["method"],
            "has_masks": kind["has_masks"], "dense_baseline": kind["dense_baseline"],
            "distribution": f"N:M {nm}" if nm else f"{chosen} {s['distribution']}".strip(),
            "sparsity": s["sparsity"],
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
    """The table as CSV text, a column per key (``rigl_np.viz.runs.read_results`` reads it)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    return out.getvalue()
