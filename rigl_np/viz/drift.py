"""How a run's layers changed over training: densities that drift, and connectivity.

- ``plot_density_drift``: each sparse layer's density after every mask update (a global
  selection, GraNet and gradual pruning move the layers' shares; a per-layer method keeps them
  flat), from the nnz every update record keeps;
- ``plot_connectivity``: the fraction of inputs with a path to the output and, per layer, the
  fraction of its units on an input-output path, at the start, after every update and at the
  end (``masks.connectivity``); a step where the network is cut is marked and named.

Both read ``metrics.json`` only (``metrics["mask_updates"]``, ``metrics["connectivity"]``, ...).
"""
from __future__ import annotations

import math

from rigl_np.viz.common import integer_x, new_figure


def drifts(mask_updates: list) -> bool:
    """True when some layer's nnz differs between two updates (or a layer appears in only some)."""
    counts = [{n: v["nnz"] for n, v in u["layers"].items()} for u in mask_updates]
    return any(c != counts[0] for c in counts[1:])


def plot_density_drift(mask_updates: list, shapes: dict, start: dict = None):
    """One line per sparse layer: its density (nnz / size, ``shapes``: ``{layer: shape}``)
    after each mask update, from ``start`` (``{layer: nnz}`` of the initial masks) when given."""
    steps = ([0] if start else []) + [u["step"] for u in mask_updates]
    fig, axes = new_figure(1, 1, panel=(5.5, 3.4))
    ax = axes[0, 0]
    for name in mask_updates[0]["layers"]:
        size = math.prod(shapes[name])
        counts = ([start[name]] if start else []) + [u["layers"][name]["nnz"]
                                                     for u in mask_updates]
        ax.plot(steps, [c / size for c in counts], "o-", markersize=3, label=name)
    ax.set_xlabel("step (0: the initial masks)" if start else "step of the update")
    integer_x(ax)
    ax.set_ylabel("density (active / weights)")
    ax.set_title("Per-layer densities over training")
    ax.legend(fontsize=8)
    return fig


def connectivity_series(metrics: dict) -> list:
    """``[(step, connectivity record), ...]``: at the start, after every update, at the end."""
    ends = metrics.get("connectivity") or {}
    series = [(0, ends.get("start"))]
    series += [(u["step"], u.get("connectivity")) for u in metrics["mask_updates"]]
    series.append((metrics["total_steps"], ends.get("end")))
    return [(step, c) for step, c in series if c]


def plot_connectivity(metrics: dict):
    """Left: the fraction of inputs with a path to the output; right: per layer, the fraction
    of its units on an input-output path. A cut network is marked with its cutting layer."""
    series = connectivity_series(metrics)
    if not series:
        raise ValueError("this run recorded no connectivity (a run from before rigl_np did)")
    steps = [s for s, _ in series]
    fig, axes = new_figure(1, 2, panel=(4.5, 3.2))
    path_ax, alive_ax = axes[0]
    path_ax.plot(steps, [c["input_path_fraction"] for _, c in series], "o-", markersize=3)
    path_ax.set_ylabel("fraction of inputs")
    path_ax.set_title("Inputs with a path to the output")
    for name in series[0][1]["layers"]:
        alive_ax.plot(steps, [c["layers"][name]["alive"] / c["layers"][name]["units"]
                              for _, c in series], "o-", markersize=3, label=name)
    alive_ax.set_ylabel("fraction of the layer's units")
    alive_ax.set_title("Units on an input-output path")
    alive_ax.legend(fontsize=8)
    cut = next(((s, c["cut"]) for s, c in series if c["cut"]), None)
    for ax in (path_ax, alive_ax):
        ax.set_xlabel("step")
        integer_x(ax)
        ax.set_ylim(-0.05, 1.05)
        if cut is not None:
            ax.axvline(cut[0], color="tab:red", linestyle=":")
    if cut is not None:
        fig.suptitle(f"The network is cut at {cut[1]} from step {cut[0]}", color="tab:red")
    return fig
