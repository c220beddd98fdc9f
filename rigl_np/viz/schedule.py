"""The drop-fraction schedule: how many connections each mask update replaces, and when.

RigL paper, Section 3 "Update Schedule", Eq. (1): every delta_t batches until T_end, each layer
drops (and regrows) the fraction f(t) of its active connections; f decays from alpha to 0 by
cosine annealing (constant and linear decay are the paper's ablations). The curve and the update
steps come from ``rigl_np.rigl.drop_fraction`` and ``rigl_np.rigl.is_update_step``.
"""
from __future__ import annotations

import numpy as np

from rigl_np.rigl import drop_fraction, is_update_step
from rigl_np.rigl.schedule import SCHEDULES
from rigl_np.viz.common import new_figure


def draw_drop_schedule(ax, alpha: float, delta_t: int, t_end: int, total_steps: int,
                       schedules=SCHEDULES, recorded=None) -> list:
    """``plot_drop_schedule``'s panel, drawn into ``ax``; returns the update steps."""
    steps = np.arange(1, total_steps + 1)
    updates = np.array([t for t in steps if is_update_step(int(t), delta_t, t_end)], dtype=int)
    for schedule in schedules:
        f = [drop_fraction(int(t), alpha, t_end, schedule) for t in steps]
        line, = ax.plot(steps, f, label=schedule)
        ax.plot(updates, [f[t - 1] for t in updates], "o", color=line.get_color(), markersize=3)
    if recorded:
        ax.plot([r["step"] for r in recorded], [r["drop_fraction"] for r in recorded], "kx",
                label="this run's updates")
    ax.axvline(t_end, color="grey", linestyle="--", label=f"T_end = {t_end}")
    ax.set_xlabel("batch t")
    ax.set_ylabel("drop fraction f(t)")
    ax.set_title(f"Drop fraction: alpha = {alpha:g}, an update every {delta_t} batches "
                 f"({len(updates)} updates)")
    ax.legend(fontsize=8)
    return list(updates)


def plot_drop_schedule(alpha: float, delta_t: int, t_end: int, total_steps: int,
                       schedules=SCHEDULES, recorded=None):
    """f(t) for every batch t = 1..total_steps, one line per schedule, dots on the update steps.

    A dashed line marks T_end (no updates from there on). ``recorded``, a run's
    ``metrics["mask_updates"]``, adds black crosses at (step, drop_fraction) of each update the
    run really made: they must sit on the run's schedule.
    """
    fig, axes = new_figure(1, 1, panel=(6.5, 3.6))
    draw_drop_schedule(axes[0, 0], alpha, delta_t, t_end, total_steps, schedules, recorded)
    return fig
