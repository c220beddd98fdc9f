"""GraNet (Liu et al. 2021, "Sparse Training via Boosting Pruning Plasticity with
Neuroregeneration", NeurIPS 2021): gradual global magnitude pruning with zero-cost regrowth.

The whole method, part by part (docs/semantics.md "GraNet", with the official code's choices in
a differences table):
- structure: unstructured; every layer starts dense (the paper's dense-to-sparse GraNet,
  s_i = 0);
- schedule: ``GraNetSchedule``: pruning's (after the optimizer step of every ΔT-th batch in
  [t0, t1] and at t1; t0 = 0, t1 = T_end), plus RigL's cosine drop fraction f(t) from alpha to 0
  at t1 for the regrowth;
- signal: the dense gradient of the update batch (``DenseGradient``);
- update, at each of those batches:
  1. global magnitude pruning (``rigl.global_prune``): keep the sum over layers of Zhu & Gupta's
     cubic counts (``prune.pruning_density`` of each layer's final density), so the total is
     exactly the final budget at t1, while the layers' shares drift;
  2. per layer, neuroregeneration (``rigl.rigl_update``): drop k = floor(f * nnz) more by |W|
     and grow k by |dense gradient| among the positions not kept (just-pruned ones may return);
  3. one ``MaskUpdate`` per layer for both steps (``compose``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from rigl_np import backend
from rigl_np.masks import MaskUpdate, count
from rigl_np.methods.base import Method
from rigl_np.methods.schedules import PruningSchedule
from rigl_np.methods.signals import DenseGradient
from rigl_np.options import check_fields, opt, require
from rigl_np.rigl import drop_fraction, magnitude_score, rigl_update
from rigl_np.rigl.global_update import global_prune
from rigl_np.sparsity import nnz_for


@dataclass
class Options:
    grad_accumulation: int = opt(1, "batches whose dense gradients are averaged for growth")

    def __post_init__(self):
        check_fields(self)
        require(self.grad_accumulation >= 1, "grad_accumulation", "be at least 1",
                self.grad_accumulation)


@dataclass(frozen=True)
class GraNetSchedule(PruningSchedule):
    """Pruning's schedule and, for the regrowth, RigL's drop fraction decayed to 0 at t1."""

    alpha: float = 0.3
    decay: str = "cosine"
    drop_schedule = True          # the regrowth follows the drop fraction (figures draw it)

    def configure(self, cfg, total_steps: int) -> "GraNetSchedule":
        return replace(super().configure(cfg, total_steps), alpha=cfg.alpha,
                       decay=cfg.drop_schedule)

    def fraction(self, step: int) -> float:
        return drop_fraction(step, self.alpha, self.t1, self.decay)

    def feeds_update(self, step: int, n: int) -> bool:
        """True when ``step`` is one of the last ``n`` batches up to an update (itself included):
        a multiple of ΔT, or t1."""
        return step <= self.t1 and ((-step) % self.delta_t < n or self.t1 - step < n)


def compose(before, pruned: MaskUpdate, regrown: MaskUpdate) -> MaskUpdate:
    """One layer's record of a prune step followed by a drop-and-grow step on its result:
    everything either step took away is dropped, what the second grew is grown."""
    dropped = before & ~(pruned.mask & ~regrown.dropped)
    return MaskUpdate(mask=regrown.mask, new=regrown.mask & ~before, dropped=dropped,
                      grown=regrown.grown, regrown_same=dropped & regrown.grown,
                      n_active=count(before), n_drop=count(dropped))


class GraNet(Method):
    """Prune globally to the cubic schedule, then regrow per layer by the dense gradient."""

    name = "granet"
    colour = "goldenrod"
    Options = Options
    schedule = GraNetSchedule()
    Signal = DenseGradient

    def initial_masks(self, shapes: dict) -> dict:
        """GraNet here goes dense to sparse: all-ones masks for the layers it will prune."""
        return {n: backend.xp().ones(s, dtype=bool) for n, s in shapes.items()}

    def update(self, step, f):
        # 1. global magnitude pruning to the sum of the layers' cubic counts
        target = sum(nnz_for(math.prod(m.shape), self.schedule.density(step, self.densities[n]))
                     for n, m in self.masks.items())
        scores = {n: magnitude_score(self.params[n]) for n in self.masks}
        pruned = global_prune(scores, self.masks, target)
        # 2. per layer, drop k = floor(f * nnz) more and regrow as many by |G|
        grads = self.signal.value
        regrown = {n: rigl_update(self.params[n], p.mask, grads[n], f) for n, p in pruned.items()}
        # 3. one record per layer for both steps
        return {n: compose(self.masks[n], pruned[n], regrown[n]) for n in self.masks}
