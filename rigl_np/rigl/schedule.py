"""When masks change and by how much: the drop-fraction schedule and the update-step rule.

RigL paper, Section 3 "Update Schedule", Eq. (1): the drop fraction decays with cosine annealing
f(t) = alpha / 2 * (1 + cos(pi * t / T_end)); constant and linear decay are the paper's ablations.
(Gradual pruning's cubic schedule is ``rigl_np.prune``'s.)

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
