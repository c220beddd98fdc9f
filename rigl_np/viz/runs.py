"""Runs side by side: training curves, and the results table (``rigl_np.results``).

The table (``results.csv``, or ``results_from_runs`` for a handful of run folders) has one row
per (model, method, distribution, sparsity): accuracy_mean/std over seeds, the real
global_density, train_flops and inference_flops as multiples of dense, and seconds per run; the
rows of runs that failed are left out of the figures (``read_results``).

- ``plot_accuracy_vs_sparsity``: x is the real sparsity 1 - global_density (what the masks
  achieved, not what was asked for), except small-dense, which has no mask and sits at the
  sparsity its parameter count was matched to; dense is a horizontal band. The y axis spans what
  the sparse methods and dense reach, so a run that collapsed (small-dense at 98 %) cannot
  squash the gap between RigL and static: such a point is drawn as an arrow at the edge with
  its value written beside it.
- ``plot_accuracy_vs_flops``: accuracy against the theoretical training FLOPs (log axis); the
  marker says the sparsity (a legend of its own), so no point needs a text label.
- ``plot_flops_vs_time``: the theoretical FLOPs multiplier against the measured wall time
  relative to the dense run. Masked dense compute multiplies by zeros at full price, so 10x
  fewer FLOPs in theory is not 10x less time; a condensed layer (``rigl_np.srigl``) is.
"""
from __future__ import annotations

import csv

import numpy as np
from matplotlib.lines import Line2D

from rigl_np.methods import get
from rigl_np.results import row_from, summarise
from rigl_np.viz.common import integer_x, load_run, method_style, new_figure

NUMERIC = ("sparsity", "seeds", "accuracy_mean", "accuracy_std", "global_density",
           "train_flops", "inference_flops", "seconds")


FACT_COLUMNS = ("has_masks", "dense_baseline")


def read_results(path) -> list:
    """The finished rows of a ``results.csv`` written by ``rigl_np.compare``, numbers as floats
    and the method facts as booleans (tables written before they were recorded: from the
    method). A failed run's row (a status other than "ok") has no numbers to draw: left out."""
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("status", "ok") != "ok":          # tables before statuses: all finished
                continue
            row = {k: float(v) if k in NUMERIC else v for k, v in row.items()}
            kind = get(row["method"]).kind()
            row.update({k: row[k] == "True" if k in row else kind[k] for k in FACT_COLUMNS})
            rows.append(row)
    return rows


def results_from_runs(run_dirs) -> list:
    """The same table, summarised (``rigl_np.results.summarise``) from run folders."""
    return summarise([row_from(run.config, run.metrics) for run in map(load_run, run_dirs)])


def plot_training_curves(run_dirs):
    """Train/test loss (top) and accuracy (bottom) per epoch, one line per run folder, in the
    method's colour and the distribution's line style (``common.method_style``)."""
    fig, axes = new_figure(2, 2, panel=(4.2, 3.0))
    for run in map(load_run, run_dirs):
        s = run.config["sparse"]
        style = method_style(s["method"], "-" if run.kind["dense_baseline"] else s["distribution"])
        epochs = [h["epoch"] for h in run.metrics["history"]]
        for ax, key in zip(axes.flat, ("train_loss", "test_loss", "train_accuracy",
                                       "test_accuracy")):
            ax.plot(epochs, [h[key] for h in run.metrics["history"]], markersize=3,
                    label=run.label, **style)
            ax.set_title(key.replace("_", " "))
            ax.set_xlabel("epoch")
            integer_x(ax)
    axes[0, 0].set_ylabel("loss")
    axes[1, 0].set_ylabel("accuracy")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle("Training curves")
    return fig


def series_label(row: dict) -> str:
    """"rigl (erk)", "dense", or with a ``variant`` key "rigl (erk, growth over 32 batches)"."""
    inner = [] if row["distribution"] == "-" else [row["distribution"]]
    inner += [row["variant"]] if row.get("variant") else []
    return f"{row['method']} ({', '.join(inner)})" if inner else row["method"]


def _groups(rows: list) -> dict:
    """``{(model, series label): rows}``, each group's rows by sparsity (``series_label``)."""
    groups = {}
    for r in sorted(rows, key=lambda r: r["sparsity"]):
        groups.setdefault((r["model"], series_label(r)), []).append(r)
    return groups


def _style(row: dict) -> dict:
    """The series' colour (its method), line style and marker (its distribution; dotted for a
    variant)."""
    style = method_style(row["method"], row["distribution"])
    return {**style, "linestyle": ":"} if row.get("variant") else style


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


def accuracy_range(rows: list, pad: float = 0.1) -> tuple:
    """(low, high): the y range of the accuracy panels.

    1. mean ± std over the sparse methods and dense (all rows when there are none of those);
    2. widened to take in any other row (small-dense) that lies within one such span of it;
       one further away (a collapsed run) stays outside, drawn as an arrow;
    3. a margin of ``pad`` of the span on each side.
    """
    def ends(some):
        return (min(r["accuracy_mean"] - r["accuracy_std"] for r in some),
                max(r["accuracy_mean"] + r["accuracy_std"] for r in some))
    base = [r for r in rows if r["has_masks"] or r["dense_baseline"]] or rows
    low, high = ends(base)
    span = max(high - low, 0.01)
    near = [r for r in rows if low - span <= r["accuracy_mean"] <= high + span]
    low, high = ends(base + near)
    margin = pad * max(high - low, 0.01)
    return low - margin, high + margin


def _mark_outside(ax, x, acc, std, label: str, colour, low: float, high: float) -> None:
    """Each point of a series outside [low, high]: an arrow at that edge, with the value.

    Call it once the axis limits are set: the text goes to the side of the arrow with more room.
    """
    ax.get_xlim()                                       # settles autoscaling before transforms
    to_axes = ax.transData + ax.transAxes.inverted()
    for xi, a, s in zip(x, acc, std):
        if not low <= a <= high:
            below = a < low
            edge = low if below else high
            left_half = to_axes.transform((xi, edge))[0] < 0.5
            ax.annotate(f"{label}: {100 * a:.1f} ± {100 * s:.1f} %", xy=(xi, edge),
                        xytext=(6 if left_half else -6, 28 if below else -28),
                        textcoords="offset points", ha="left" if left_half else "right",
                        va="bottom" if below else "top", fontsize=7, color=colour,
                        arrowprops={"arrowstyle": "->", "color": colour})


def draw_accuracy_vs_sparsity(ax, rows: list) -> None:
    """The accuracy-vs-sparsity panel of one model's ``rows``, drawn into ``ax``.

    1. the y range from the sparse methods and dense (``accuracy_range``);
    2. dense as a dashed line with a band of ± std, every other series as mean ± std against
       sparsity in its own style;
    3. a point outside the range as an arrow at the edge, labelled with its series and value.
    """
    low, high = accuracy_range(rows)
    ax.set_ylim(low, high)
    outside = []
    for (_, label), group in _groups(rows).items():
        style = _style(group[0])
        acc = np.array([r["accuracy_mean"] for r in group])
        std = np.array([r["accuracy_std"] for r in group])
        if group[0]["dense_baseline"]:
            ax.axhline(acc[0], color=style["color"], linestyle="--", label=label)
            ax.axhspan(acc[0] - std[0], acc[0] + std[0], color=style["color"], alpha=0.1)
            continue
        x = [1 - r["global_density"] if r["has_masks"] else r["sparsity"] for r in group]
        ax.errorbar(x, acc, yerr=std, capsize=3, label=label, **style)
        outside.append((x, acc, std, label, style["color"]))
    for series in outside:
        _mark_outside(ax, *series, low, high)


OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1)}   # a legend right of the panel


def plot_accuracy_vs_sparsity(rows: list):
    """Test accuracy (mean ± std over seeds) against real sparsity, one line per method."""
    fig, axes = _model_axes(rows, panel=(6.5, 3.8))
    for model, ax in axes.items():
        draw_accuracy_vs_sparsity(ax, [r for r in rows if r["model"] == model])
    _label(axes, "sparsity (1 - real global density)", "test accuracy", "accuracy vs sparsity",
           **OUTSIDE)
    return fig


SPARSITY_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def plot_accuracy_vs_flops(rows: list):
    """Test accuracy (mean ± std) against training FLOPs as a multiple of dense (log x).

    A series is a line in its method's colour and its distribution's style; each point's marker
    is its sparsity, named in a second legend, so no text sits on the points (filled for ERK and
    dense, hollow for the other distributions). The y range is ``accuracy_range``'s, with the
    same arrows for points outside it.
    """
    fig, axes = _model_axes(rows, panel=(6.5, 3.8))
    sparsities = sorted({r["sparsity"] for r in rows})
    marker = dict(zip(sparsities, SPARSITY_MARKERS * len(sparsities)))
    ranges = {model: accuracy_range([r for r in rows if r["model"] == model]) for model in axes}
    outside = []
    for (model, label), group in _groups(rows).items():
        ax, style = axes[model], {**_style(group[0]), "marker": None}
        x = [r["train_flops"] for r in group]
        acc, std = [r["accuracy_mean"] for r in group], [r["accuracy_std"] for r in group]
        ax.errorbar(x, acc, yerr=std, capsize=3, label=label, **style)
        fill = "full" if style["linestyle"] == "-" else "none"      # ERK filled, others hollow
        for xi, a, r in zip(x, acc, group):
            ax.plot(xi, a, marker[r["sparsity"]], color=style["color"], markersize=6,
                    fillstyle=fill)
        outside.append((model, (x, acc, std, label, style["color"])))
    for model, ax in axes.items():
        ax.set_xscale("log")
        ax.set_ylim(*ranges[model])
    for model, series in outside:
        _mark_outside(axes[model], *series, *ranges[model])
    _label(axes, "training FLOPs (x dense, log)", "test accuracy", "accuracy vs training cost",
           **OUTSIDE)
    handles = [Line2D([], [], color="grey", marker=marker[s], linestyle="none",
                      label=f"sparsity {s:g}") for s in sparsities]
    for ax in axes.values():
        ax.add_artist(ax.get_legend())
        ax.legend(handles=handles, fontsize=8, loc="lower left", bbox_to_anchor=(1.01, 0))
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
    for (model, label), group in _groups(rows).items():
        if model in dense:
            style = {**_style(group[0]), "linestyle": "none"}
            axes[model].plot([r["train_flops"] for r in group],
                             [r["seconds"] / dense[model] for r in group], label=label, **style)
    for ax in axes.values():
        ax.axline((0, 0), (1, 1), color="grey", linestyle=":", label="time = FLOPs")
        ax.axhline(1, color="black", linewidth=0.8, linestyle="--")
        ax.set_xlim(0, 1.1)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.05)
    _label(axes, "theoretical training FLOPs (x dense)", "measured wall time (x dense)",
           "theory vs wall time of masked dense compute", title_size=10, **OUTSIDE)
    return fig
