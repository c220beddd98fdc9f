"""When a method changes its masks, and by how much: the schedule part of a method.

A method declares a schedule with only its structural choice filled in (whether the update batch
takes the optimizer step); ``configure(cfg, total_steps)`` returns the same schedule with the
run's numbers. The trainer's hooks ask it one thing each batch, ``due(step)``; the update asks
``fraction(step)``. Batches are counted from 1 (docs/semantics.md "Schedule").

- ``DropFractionSchedule``: every ΔT batches while t < T_end, drop fraction f(t) from
  ``rigl.drop_fraction`` (cosine, constant or linear decay from alpha; RigL paper, Eq. 1).
- ``PruningSchedule``: Zhu & Gupta's cubic schedule (``rigl_np.prune``): every ΔT batches in
  [t0, t1] and at t1, the density falling from 1 to the layer's final density.

``skip_step``: the update replaces that batch's optimizer step (RigL and SRigL, as in the official
code and rigl-torch), or follows it (False: SET, SNFS, pruning).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from rigl_np.prune import is_pruning_step, pruning_density
from rigl_np.rigl.schedule import drop_fraction, is_update_step


@dataclass(frozen=True)
class DropFractionSchedule:
    """RigL's schedule: an update every ``delta_t`` batches while t < ``t_end``."""

    skip_step: bool = False
    delta_t: int = 100
    alpha: float = 0.3
    t_end: int = 1
    decay: str = "cosine"
    drop_schedule = True          # a fact runs record: the updates follow the drop fraction

    def configure(self, cfg, total_steps: int) -> "DropFractionSchedule":
        """This schedule with ``cfg``'s (a ``SparseConfig``) numbers for a run of
        ``total_steps`` batches; T_end = int(t_end_fraction * total_steps)."""
        return replace(self, delta_t=cfg.delta_t, alpha=cfg.alpha, decay=cfg.drop_schedule,
                       t_end=int(cfg.t_end_fraction * total_steps))

    def due(self, step: int) -> bool:
        return is_update_step(step, self.delta_t, self.t_end)

    def fraction(self, step: int) -> float:
        """The drop fraction of an update at ``step`` (0 from T_end on)."""
        return drop_fraction(step, self.alpha, self.t_end, self.decay)

    def feeds_update(self, step: int, n: int) -> bool:
        """True when ``step`` is one of the last ``n`` batches up to an update (itself
        included), before T_end: the batches a growth signal of n batches averages."""
        return (-step) % self.delta_t < n and step < self.t_end


@dataclass(frozen=True)
class PruningSchedule:
    """Gradual pruning's schedule: prune after the step of every ``delta_t``-th batch in
    [t0, t1] and of t1. Our choice: t0 = 0, t1 = T_end (75 % of training by default), at
    least 1, so that pruning ends when the sparse methods stop changing their masks."""

    skip_step: bool = False
    delta_t: int = 100
    t0: int = 0
    t1: int = 1
    drop_schedule = False

    def configure(self, cfg, total_steps: int) -> "PruningSchedule":
        return replace(self, delta_t=cfg.delta_t, t0=0,
                       t1=max(1, int(cfg.t_end_fraction * total_steps)))  # a short run prunes

    def due(self, step: int) -> bool:
        return is_pruning_step(step, self.delta_t, self.t0, self.t1)

    def fraction(self, step: int) -> float:
        """Pruning has no drop fraction; its updates record 0."""
        return 0.0

    def density(self, step: int, final_density: float) -> float:
        """The density the schedule asks of a layer whose final density is ``final_density``."""
        return pruning_density(step, final_density, self.t0, self.t1)
