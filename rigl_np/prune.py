"""Gradual magnitude pruning (Zhu & Gupta 2017): the cubic density schedule and the pruning step.

Pruning (``methods.pruning``) uses both; so do the methods that prune to a schedule and regrow.

- ``pruning_density``: Eq. (1) of the paper written as a density, from 1 at t0 to the final
  density d at t1, exactly d from t1 on;
- ``is_pruning_step`` / ``last_pruning_step``: every ``delta_t`` batches in [t0, t1], and at t1
  itself, so the final density is reached whatever ΔT and t1 are;
- ``magnitude_prune``: one layer's step, keep the largest |W| among active connections, grow
  nothing (ties: ``masks.select``'s rule, lower flat index first).
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.masks.update import MaskUpdate, count, unchanged
from rigl_np.rigl.drop import keep_after_drop, magnitude_score


def is_pruning_step(step: int, delta_t: int, t0: int, t1: int) -> bool:
    """True when gradual pruning prunes after batch ``step``: every ``delta_t`` batches in
    [t0, t1], and at t1 itself, so the final density is reached whatever ΔT and t1 are."""
    return t0 <= step <= t1 and (step % delta_t == 0 or step == t1)


def last_pruning_step(step: int, delta_t: int, t0: int, t1: int) -> int:
    """The latest pruning step at or before ``step`` (``t0`` before the first: still dense)."""
    if step >= t1:
        return t1
    return max(step // delta_t * delta_t, t0)


def pruning_density(step: int, final_density: float, t0: int, t1: int,
                    initial_density: float = 1.0) -> float:
    """The density Zhu & Gupta's schedule asks of a layer at ``step``, from ``initial_density``
    d_i (1: dense) at t0 to ``final_density`` d at t1: d + (d_i - d) * (1 - progress)**3,
    exactly d from t1 on (Eq. 1 of the paper, written for the density 1 - s_t with
    s_i = 1 - d_i). t1 = t0 prunes at once."""
    if t1 <= t0:
        return final_density if step >= t1 else initial_density
    progress = min(max((step - t0) / (t1 - t0), 0.0), 1.0)
    return final_density + (initial_density - final_density) * (1 - progress) ** 3


def magnitude_prune(weight, mask, n_keep: int) -> MaskUpdate:
    """A pruning step: keep the ``n_keep`` active connections with the largest |W| and grow
    nothing. ``n_keep`` at or above the current count changes nothing."""
    n_active = count(mask)
    if n_keep >= n_active:
        return unchanged(mask)
    kept = keep_after_drop(magnitude_score(weight), mask, n_keep)
    none = backend.array_module(mask).zeros(mask.shape, dtype=bool)
    return MaskUpdate(kept, none, mask & ~kept, none, none, n_active, n_active - n_keep)
