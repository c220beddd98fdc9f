"""Runs side by side: training curves, and the results table of ``rigl_np.compare``.

The table (``results.csv``, or ``results_from_runs`` for a handful of run folders) has one row
per (model, method, distribution, sparsity): accuracy_mean/std over seeds, the real
global_density, train_flops and inference_flops as multiples of dense, and seconds per run.

- ``plot_accuracy_vs_sparsity``: x is the real sparsity 1 - global_density (what the masks
  achieved, not what was asked for), except small-dense, which has no mask and sits at the
  sparsity its parameter count was matched to; dense is a horizontal band.
- ``plot_accuracy_vs_flops``: accuracy against the theoretical training FLOPs (log axis).
- ``plot_flops_vs_time``: the theoretical FLOPs multiplier against the measured wall time
  relative to the dense run. Masked dense compute multiplies by zeros at full price, so 10x
  fewer FLOPs in theory is not 10x less time; a condensed layer (``rigl_np.srigl``) is.
"""
from __future__ import annotations

import csv

import numpy as np

from rigl_np.compare import row_from, summarise
from rigl_np.methods import get
from rigl_np.viz.common import integer_x, load_run, new_figure

NUMERIC = ("sparsity", "seeds", "accuracy_mean", "accuracy_std", "global_density",
           "train_flops", "inference_flops", "seconds")


FACT_COLUMNS = ("has_masks", "dense_baseline")


def read_results(path) -> list:
    """The rows of a ``results.csv`` written by ``rigl_np.compare``, numbers as floats and the
    method facts as booleans (tables written before they were recorded: from the method)."""
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            row = {k: float(v) if k in NUMERIC else v for k, v in row.items()}
            kind = get(row["method"]).kind()
            row.update({k: row[k] == "True" if k in row else kind[k] for k in FACT_COLUMNS})
            rows.append(row)
    return rows


def results_from_runs(run_dirs) -> list:
    """The same table, summarised (``rigl_np.compare.summarise``) from run folders."""
    return summarise([row_from(run.config, run.metrics) for run in map(load_run, run_dirs)])


def plot_training_curves(run_dirs):
    """Train/test loss (top) and accuracy (bottom) per epoch, one line per run folder."""
    fig, axes = new_figure(2, 2, panel=(4.2, 3.0))
    for run in map(load_run, run_dirs):
        epochs = [h["epoch"] for h in run.metrics["history"]]
        for ax, key in zip(axes.flat, ("train_loss", "test_loss", "train_accuracy",
                                       "test_accuracy")):
            ax.plot(epochs, [h[key] for h in run.metrics["history"]], "o-", markersize=3,
                    label=run.label)
            ax.set_title(key.replace("_", " "))
            ax.set_xlabel("epoch")
            integer_x(ax)
    axes[0, 0].set_ylabel("loss")
    axes[1, 0].set_ylabel("accuracy")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle("Training curves")
    return fig


def _groups(rows: list) -> dict:
    """``{(model, "method (distribution)", colour): rows}``, each group's rows by sparsity.

    A method keeps its colour in every figure: the dense baseline is black, the others take tab10
    in order.
    """
    groups, colours = {}, {}
    for r in sorted(rows, key=lambda r: r["sparsity"]):
        label = r["method"] if r["distribution"] == "-" else f"{r['method']} ({r['distribution']})"
        if r["dense_baseline"]:
            colours.setdefault(label, "black")
        colour = colours.setdefault(label, f"C{sum(c != 'black' for c in colours.values())}")
        groups.setdefault((r["model"], label, colour), []).append(r)
    return groups


def _model_axes(rows: list, panel=(5.0, 3.6)):
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = new_figure(1, len(models), panel=panel)
    return fig, dict(zip(models, axes[0]))


def _label(axes: dict, xlabel: str, ylabel: str, title: str, title_size=None, **legend) -> None:
    """Axis labels, "<model>: <title>" and a legend on every model's panel."""
    for model, ax in axes.items():
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.set_title(f"{model}: {title}", fontsize=title_size)
        ax.legend(fontsize=8, **legend)


def plot_accuracy_vs_sparsity(rows: list):
    """Test accuracy (mean ± std over seeds) against real sparsity, one line per method."""
    fig, axes = _model_axes(rows)
    for (model, label, colour), group in _groups(rows).items():
        ax = axes[model]
        acc = np.array([r["accuracy_mean"] for r in group])
        std = np.array([r["accuracy_std"] for r in group])
        if group[0]["dense_baseline"]:
            ax.axhline(acc[0], color=colour, linestyle="--", label=label)
            ax.axhspan(acc[0] - std[0], acc[0] + std[0], color=colour, alpha=0.1)
            continue
        x = [1 - r["global_density"] if r["has_masks"] else r["sparsity"] for r in group]
        ax.errorbar(x, acc, yerr=std, marker="o", capsize=3, color=colour, label=label)
    _label(axes, "sparsity (1 - real global density)", "test accuracy", "accuracy vs sparsity")
    return fig


def plot_accuracy_vs_flops(rows: list):
    """Test accuracy (mean ± std) against training FLOPs as a multiple of dense (log x)."""
    fig, axes = _model_axes(rows)
    for (model, label, colour), group in _groups(rows).items():
        ax = axes[model]
        x = [r["train_flops"] for r in group]
        ax.errorbar(x, [r["accuracy_mean"] for r in group], yerr=[r["accuracy_std"] for r in group],
                    marker="o", capsize=3, color=colour, label=label)
        for xi, r in zip(x, group):
            ax.annotate(f"{r['sparsity']:g}", (xi, r["accuracy_mean"]), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))
    for ax in axes.values():
        ax.set_xscale("log")
    _label(axes, "training FLOPs (x dense, log); labels: sparsity", "test accuracy",
           "accuracy vs training cost")
    return fig


def plot_flops_vs_time(rows: list):
    """Theoretical training-FLOPs multiplier (x) against measured seconds / dense seconds (y).

    Needs a dense row per model drawn (models without one are left out; none at all raises
    ValueError). The grey diagonal is where the points would lie if time followed FLOPs.
    """
    dense = {r["model"]: r["seconds"] for r in rows if r["dense_baseline"]}
    if not dense:
        raise ValueError("the table has no dense row to measure wall time against")
    fig, axes = _model_axes([r for r in rows if r["model"] in dense])
    for (model, label, colour), group in _groups(rows).items():
        if model in dense:
            axes[model].plot([r["train_flops"] for r in group],
                             [r["seconds"] / dense[model] for r in group], "o", color=colour,
                             label=label)
    for ax in axes.values():
        ax.axline((0, 0), (1, 1), color="grey", linestyle=":", label="time = FLOPs")
        ax.axhline(1, color="black", linewidth=0.8, linestyle="--")
        ax.set_xlim(0, 1.1)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.05)
    _label(axes, "theoretical training FLOPs (x dense)", "measured wall time (x dense)",
           "theory vs wall time of masked dense compute", title_size=10, loc="upper left",
           bbox_to_anchor=(1, 1))
    return fig
