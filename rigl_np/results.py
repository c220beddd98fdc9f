"""The results table: one row per run, summarised over seeds, and written as Markdown and CSV.

A row (``row_from``) is one finished run, read from its config.json and metrics.json; a run that
failed or diverged has no metrics, and its row (``failed_row``) says why. The table
(``summarise``) has one row per (model, method, distribution, sparsity) over the runs that
finished: mean ± std test accuracy over seeds, the real global density, training and inference
FLOPs as multiples of dense, and the mean wall time of a run; under it one row per run of the
same key that failed, with no numbers, its ``status`` ("diverged: ..." or "failed: ...", "ok" on
the others) and its ``run`` name. ``rigl_np.compare`` writes it for a grid of runs
(``results.md``, which says at its top how many runs failed, and ``results.csv``);
``rigl_np.viz.runs`` plots its finished rows, from that CSV or from a few run folders.
"""
from __future__ import annotations

import csv
import io
import statistics
from collections import Counter

from rigl_np.methods import facts, selection

NUMBERS = ("accuracy_mean", "accuracy_std", "global_density", "train_flops", "inference_flops",
           "seconds")          # the last column: tables compared without their times drop it


def _cell(config: dict, kind: dict) -> dict:
    """What a row of a run's ``config`` (as dicts) is keyed by, and its method's facts. An N:M
    run's distribution is "N:M 2:4" (its masks are uniform in density, structured in place); a
    global selection's is "global erk" ("global-l2 erk": its layers' densities drift from
    erk's)."""
    s, options = config["sparse"], config.get("options") or {}
    chosen = selection.tag(options)
    return {"model": config["model"]["model"], "method": s["method"],
            "has_masks": kind["has_masks"], "dense_baseline": kind["dense_baseline"],
            "distribution": (f"N:M {options['nm']}" if options.get("nm")
                             else f"{chosen} {s['distribution']}".strip()),
            "sparsity": s["sparsity"], "seed": config["optim"]["seed"]}


def row_from(config: dict, metrics: dict) -> dict:
    """One table row from a finished run's config.json (as dicts) and metrics.json."""
    return {**_cell(config, facts(config, metrics)), "status": "ok",
            "test_accuracy": metrics["test_accuracy"],
            "global_density": metrics["global_density"],
            "train_flops": metrics["flops"]["train_multiplier"],
            "inference_flops": metrics["flops"]["inference_multiplier"],
            "seconds": metrics["train_seconds"]}


def failed_row(config: dict, run: str, status: str) -> dict:
    """The row of run ``run`` that did not finish: ``status`` says why ("diverged: ...")."""
    return {**_cell(config, facts(config, {})), "status": status, "run": run}


def _key(row: dict) -> tuple:
    return row["model"], row["method"], row["distribution"], row["sparsity"]


def summarise(rows: list) -> list:
    """Group the rows by (model, method, distribution, sparsity): mean ± std over the seeds that
    finished (``seeds`` of them), then a row per run of the group that did not."""
    groups = {}
    for r in rows:
        groups.setdefault(_key(r), []).append(r)
    table = []
    for (model, method, distribution, sparsity), runs in groups.items():
        done = [r for r in runs if r["status"] == "ok"]
        cell = {"model": model, "method": method, "has_masks": runs[0]["has_masks"],
                "dense_baseline": runs[0]["dense_baseline"],
                "distribution": distribution if runs[0]["has_masks"] else "-",
                "sparsity": sparsity}
        if done:
            acc = [r["test_accuracy"] for r in done]
            table.append({**cell, "status": "ok", "run": "", "seeds": len(done),
                          "accuracy_mean": statistics.mean(acc),
                          "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                          **{k: statistics.mean(r[k] for r in done) for k in NUMBERS[2:]}})
        table += [{**cell, "status": r["status"], "run": r["run"], "seeds": 0,
                   **dict.fromkeys(NUMBERS)} for r in runs if r["status"] != "ok"]
    return table


def accuracy_cell(t: dict, failed: int = 0) -> str:
    """"87.35 ± 0.28 (n=3)": mean ± std over seeds in %; one seed has no spread to show;
    "(n=2 of 3)" when ``failed`` seeds of the row did not finish."""
    spread = f" ± {100 * t['accuracy_std']:.2f}" if t["seeds"] > 1 else ""
    total = f" of {t['seeds'] + failed:g}" if failed else ""
    return f"{100 * t['accuracy_mean']:.2f}{spread} (n={t['seeds']:g}{total})"


def _incomplete(table: list) -> str:
    """The line above a table with runs that failed ('' when every run finished)."""
    failed = sum(t["status"] != "ok" for t in table)
    if not failed:
        return ""
    total = failed + sum(t["seeds"] for t in table if t["status"] == "ok")
    return (f"**Incomplete: {failed} of {total} runs failed**; their rows say which and why, and "
            "each mean is over the seeds that finished. The same compare command runs a failed "
            "run again; a diverged one needs a lower --lr, in a new --out.\n\n")


def to_markdown(table: list, timing: str = "") -> str:
    """The results table; ``timing`` says how the seconds were measured (a note under it). A
    run that did not finish is a row of its own: its name and why, in the status column."""
    failed = Counter(_key(t) for t in table if t["status"] != "ok")
    lines = ["| model | method | distribution | sparsity | test accuracy (%) | real density | "
             "train FLOPs | inference FLOPs | seconds/run | status |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for t in table:
        key = f"| {t['model']} | {t['method']} | {t['distribution']} | {t['sparsity']:g} | "
        if t["status"] == "ok":
            lines.append(key + f"{accuracy_cell(t, failed[_key(t)])} | "
                         f"{t['global_density']:.4f} | {t['train_flops']:.3f}x | "
                         f"{t['inference_flops']:.3f}x | {t['seconds']:.0f} | ok |")
        else:
            why = f"{t['run']} {t['status']}".replace("|", "\\|")
            lines.append(key + f"- | - | - | - | - | {why} |")
    note = ("\nseconds/run: wall time of one run on a shared machine" + (f", {timing}" if timing else "")
            + "; theoretical FLOPs, not these seconds, are what the methods cost (masked dense "
            "compute runs at dense speed).\n")
    return _incomplete(table) + "\n".join(lines) + "\n" + note


def to_csv(table: list) -> str:
    """The table as CSV text, a column per key (``rigl_np.viz.runs.read_results`` reads it);
    a failed run's numbers are empty."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    return out.getvalue()
