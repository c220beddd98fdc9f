"""When masks change and by how much: the drop-fraction schedule and the update-step rule.

RigL paper, Section 3 "Update Schedule", Eq. (1): the drop fraction decays with cosine annealing
f(t) = alpha / 2 * (1 + cos(pi * t / T_end)); constant and linear decay are the paper's ablations.
Zhu & Gupta (2017), Eq. (1): the cubic schedule of gradual magnitude pruning, as a density.

Step counting follows rigl-torch (docs/semantics.md "Schedule"): the batch counter t starts at 1 and counts
every batch; a mask update is due when t % delta_t == 0 and t < t_end. The official TF code also
updates at t = 0 and does not count update batches in its step; we do neither.
"""
from __future__ import annotations

import math

SCHEDULES = ("cosine", "constant", "linear")


def drop_fraction(step: int, alpha: float, t_end: int, schedule: str = "cosine") -> float:
    """The fraction of active connections to drop at batch ``step``; 0 from ``t_end`` on.

    cosine: alpha/2 * (1 + cos(pi * step / t_end)) (written in rigl-torch's order of operations,
    so both give the same float); constant: alpha; linear: alpha * (1 - step / t_end).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown drop-fraction schedule {schedule!r}; choose one of {SCHEDULES}")
    if step >= t_end:
        return 0.0
    if schedule == "cosine":
        return alpha / 2 * (1 + math.cos((step * math.pi) / t_end))
    if schedule == "constant":
        return alpha
    return alpha * (1 - step / t_end)


def is_update_step(step: int, delta_t: int, t_end: int) -> bool:
    """True when batch ``step`` (from 1) updates the masks: 0 < step < t_end and
    step % delta_t == 0."""
    return 0 < step < t_end and step % delta_t == 0


def is_pruning_step(step: int, delta_t: int, t0: int, t1: int) -> bool:
    """True when gradual pruning prunes after batch ``step``: every ``delta_t`` batches in
    [t0, t1], and at t1 itself, so the final density is reached whatever ΔT and t1 are."""
    return t0 <= step <= t1 and (step % delta_t == 0 or step == t1)


def last_pruning_step(step: int, delta_t: int, t0: int, t1: int) -> int:
    """The latest pruning step at or before ``step`` (``t0`` before the first: still dense)."""
    if step >= t1:
        return t1
    return max(step // delta_t * delta_t, t0)


def pruning_density(step: int, final_density: float, t0: int, t1: int) -> float:
    """The density Zhu & Gupta's schedule asks of a layer at ``step``, from 1 (dense) at t0 to
    ``final_density`` at t1: d + (1 - d) * (1 - progress)**3, exactly d from t1 on (Eq. 1 of
    the paper, written for the density 1 - s_t with s_i = 0). t1 = t0 prunes at once."""
    if t1 <= t0:
        return final_density if step >= t1 else 1.0
    progress = min(max((step - t0) / (t1 - t0), 0.0), 1.0)
    return final_density + (1 - final_density) * (1 - progress) ** 3
