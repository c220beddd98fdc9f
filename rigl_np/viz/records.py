"""What the mask updates did over training, from a run's records and snapshots.

- ``plot_update_counts``: per layer and update, connections dropped, grown and regrown-same
  (dropped and grown back in the same update, so not really replaced);
- ``plot_turnover_itop``: mask turnover (new connections / active ones) with the drop fraction,
  and the ITOP rate (Liu et al. 2021: the fraction of weights ever active) growing over time;
- ``plot_fan_histograms``: how the fan-in (inputs per output neuron) and fan-out (outputs per
  input) spread out or concentrate as the masks evolve;
- ``plot_active_neurons``: SRigL's neurons left after ablation, per layer (records that carry
  "active_neurons" only).

``mask_updates`` is ``metrics["mask_updates"]``: a list of ``{"step", "drop_fraction", "layers":
{name: {"dropped", "grown", "regrown_same", "nnz", ...}}, "turnover", "itop_rate"}``.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps

from rigl_np.viz.common import integer_x, new_figure, rows_view
from rigl_np.viz.masks import pick_steps
from rigl_np.viz.update import CHANGE_COLOURS


def plot_update_counts(mask_updates: list):
    """One panel per layer: dropped, grown and regrown-same connections against the update step,
    in the colours of ``plot_update`` (``update.CHANGE_COLOURS``)."""
    names = list(mask_updates[0]["layers"])
    steps = [r["step"] for r in mask_updates]
    fig, axes = new_figure(1, len(names), panel=(4.2, 3.2))
    for ax, name in zip(axes[0], names):
        for key, style in (("dropped", "o-"), ("grown", "x--"), ("regrown_same", "s-")):
            label = key.replace("_", " ")
            ax.plot(steps, [r["layers"][name][key] for r in mask_updates], style, markersize=3,
                    color=CHANGE_COLOURS[label], label=label)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step of the update")
        integer_x(ax)
        ax.set_ylabel("connections")
        ax.legend(fontsize=8)
    fig.suptitle("Connections changed by each mask update")
    return fig


def plot_turnover_itop(mask_updates: list):
    """Left: turnover and drop fraction per update; right: the ITOP rate after each update."""
    steps = [r["step"] for r in mask_updates]
    fig, axes = new_figure(1, 2, panel=(4.5, 3.2))
    turn_ax, itop_ax = axes[0]
    turn_ax.plot(steps, [r["turnover"] for r in mask_updates], "o-", markersize=3,
                 label="turnover (new / active)")
    turn_ax.plot(steps, [r["drop_fraction"] for r in mask_updates], "--", label="drop fraction")
    turn_ax.set_ylabel("fraction of active connections")
    turn_ax.set_title("Mask turnover per update")
    turn_ax.legend(fontsize=8)
    itop_ax.plot(steps, [r["itop_rate"] for r in mask_updates], "o-", markersize=3)
    itop_ax.set_ylabel("fraction of weights ever active")
    itop_ax.set_title("ITOP rate (in-time over-parameterisation)")
    for ax in (turn_ax, itop_ax):
        ax.set_xlabel("step of the update")
        integer_x(ax)
    return fig


def fan_in_out(mask):
    """(fan-in per output neuron, fan-out per input) of a mask; conv inputs are whole channels."""
    fan_in = rows_view(mask).sum(axis=1)                                  # (out,)
    fan_out = mask.reshape(mask.shape[0], mask.shape[1], -1).sum(axis=(0, 2))  # (in,)
    return fan_in, fan_out


def _bins(largest: int, n: int = 30) -> np.ndarray:
    """Integer-aligned bin edges from 0 covering ``largest``, at most about ``n`` bins."""
    width = max(1, math.ceil((largest + 1) / n))
    return np.arange(0, largest + width + 1, width)


def plot_fan_histograms(snapshots: dict, max_steps: int = 6):
    """Rows = layers; columns = fan-in and fan-out histograms, one step line per snapshot step.

    At most ``max_steps`` snapshot steps (first and last always), coloured from dark (early) to
    yellow (late); a mask at step t gives one ``stairs`` histogram of ``fan_in_out(mask)``.
    """
    steps = pick_steps(snapshots, max_steps)
    names = list(snapshots[steps[0]])
    colours = colormaps["viridis"](np.linspace(0, 0.9, len(steps)))
    fig, axes = new_figure(len(names), 2, panel=(4.2, 2.6))
    for row, name in zip(axes, names):
        degrees = [fan_in_out(snapshots[s][name]) for s in steps]
        for col, (ax, what) in enumerate(zip(row, ("fan-in (inputs per neuron)",
                                                   "fan-out (outputs per input)"))):
            edges = _bins(max(int(d[col].max()) for d in degrees))
            for step, d, colour in zip(steps, degrees, colours):
                ax.stairs(np.histogram(d[col], edges)[0], edges, color=colour, label=f"step {step}")
            ax.set_title(f"{name}: {what}", fontsize=9)
            ax.set_xlabel("connections")
            ax.set_ylabel("neurons")
        row[1].legend(fontsize=7)
    fig.suptitle("Fan-in and fan-out over training")
    return fig


def plot_active_neurons(mask_updates: list):
    """Active (not ablated) output neurons per layer after each SRigL update.

    Draws every layer whose records carry "active_neurons"; raises ValueError when none does.
    """
    names = [n for n, v in mask_updates[0]["layers"].items() if "active_neurons" in v]
    if not names:
        raise ValueError("no layer of these mask updates records 'active_neurons' (SRigL only)")
    steps = [r["step"] for r in mask_updates]
    fig, axes = new_figure(1, 1, panel=(5.5, 3.4))
    ax = axes[0, 0]
    for name in names:
        ax.plot(steps, [r["layers"][name]["active_neurons"] for r in mask_updates], "o-",
                markersize=3, label=name)
    ax.set_xlabel("step of the update")
    integer_x(ax)
    ax.set_ylabel("active output neurons")
    ax.set_title("Neurons kept by SRigL's ablation")
    ax.legend(fontsize=8)
    return fig
