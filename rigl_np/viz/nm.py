"""Group occupancy of an N:M run: how often each position of a group was active over training.

docs/semantics.md "N:M". From a run's mask snapshots (step 0, then after every update, or every
``--snapshot-every`` batches), per N:M layer, each (group, position) pair is active in some
fraction of the snapshots. Static N:M: every pair 0 or 1. Dynamic N:M: the update moves weights
inside the groups, and pairs fill the middle; how far toward N/M they spread is how much of each
group training explored.

- ``group_occupancy``: the (G, M) fractions of one layer;
- ``plot_group_occupancy``: per layer, the histogram of those fractions (top) and the mean
  occupancy of each position 0..M-1 (bottom; N/M at every position when no position is favoured).
"""
from __future__ import annotations

import numpy as np

from rigl_np.masks.nm import groups
from rigl_np.viz.common import new_figure


def group_occupancy(snapshots: dict, name: str, m: int):
    """(G, M) float: for each group and position, the fraction of ``snapshots`` (``{step:
    {layer: bool mask}}``) in which layer ``name`` has it active."""
    stack = [groups(s[name], m) for s in snapshots.values()]     # each (G, M) bool
    return np.mean(stack, axis=0)                                 # (G, M)


def plot_group_occupancy(snapshots: dict, n: int, m: int, title: str = ""):
    """One column per N:M layer of ``snapshots``: the histogram of (group, position) occupancy
    over the snapshots, and the mean occupancy of each position with N/M marked."""
    names = list(next(iter(snapshots.values())))
    fig, axes = new_figure(2, len(names), panel=(3.8, 2.8))
    for column, name in enumerate(names):
        occupancy = group_occupancy(snapshots, name, m)
        top, bottom = axes[0][column], axes[1][column]
        top.hist(occupancy.ravel(), bins=np.linspace(0, 1, 21), color="tab:purple")
        top.set_title(f"{name} ({occupancy.shape[0]} groups)", fontsize=10)
        top.set_xlabel("fraction of snapshots active")
        top.set_ylabel("(group, position) pairs")
        bottom.bar(np.arange(m), occupancy.mean(axis=0), color="tab:purple")
        bottom.axhline(n / m, color="black", linestyle="--", linewidth=1, label=f"N/M = {n}/{m}")
        bottom.set_xticks(np.arange(m))
        bottom.set_xlabel("position in the group")
        bottom.set_ylabel("mean occupancy")
        bottom.set_ylim(0, 1)
        bottom.legend(fontsize=8)
    fig.suptitle(f"{title}: group occupancy over {len(snapshots)} snapshots ({n}:{m})".lstrip(": "))
    return fig
