"""Gradual magnitude pruning (Zhu & Gupta 2017): dense to sparse over training.

Every layer starts dense. Every ``delta_t`` batches between ``t0`` and ``t1``, and at ``t1`` (after
the optimizer step), each sparse layer keeps only its largest-magnitude weights, so that its density follows the
cubic schedule ``rigl.pruning_density`` from 1 down to its final density d_l (from the chosen
distribution), which it holds exactly from t1 on. Pruned weights never come back. Our choice (the paper leaves it to the user):
t0 = 0 and t1 = t_end (75 % of training by default), so pruning ends when the sparse methods stop
changing their masks. FLOPs: the mean over the schedule of 3 f_S(t).
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.flops import pruning_training_flops
from rigl_np.methods.base import Method
from rigl_np.rigl import is_pruning_step, magnitude_prune, pruning_density
from rigl_np.sparsity import nnz_for


class Pruning(Method):
    name = "pruning"
    masks_change = True
    update_phase = "after_step"

    def __init__(self, densities, rng, delta_t=100, t0=0, t1=1, total_steps=1, snapshot_every=0):
        super().__init__(densities, rng, snapshot_every)
        self.delta_t, self.t0, self.t1, self.total_steps = delta_t, t0, t1, total_steps

    @classmethod
    def options(cls, cfg, total_steps: int) -> dict:
        t1 = max(1, int(cfg.t_end_fraction * total_steps))       # a short run still prunes
        return dict(delta_t=cfg.delta_t, t0=0, t1=t1, total_steps=total_steps)

    def training_flops(self, flops, densities) -> float:
        return pruning_training_flops(flops, densities, self.total_steps, self.delta_t,
                                      self.t0, self.t1)

    def initial_masks(self, shapes: dict) -> dict:
        """Pruning starts dense: all-ones masks for the layers that will be pruned."""
        return {n: backend.xp().ones(s, dtype=bool) for n, s in shapes.items()}

    def after_step(self, step) -> None:
        super().after_step(step)
        if is_pruning_step(step, self.delta_t, self.t0, self.t1):
            self.update_masks(step)

    def update_layer(self, name, step, f):
        """Keep the layer's largest |W| down to the schedule's density at ``step`` (never grow)."""
        mask = self.masks[name]
        n_keep = nnz_for(math.prod(mask.shape),
                         pruning_density(step, self.densities[name], self.t0, self.t1))
        return magnitude_prune(self.params[name], mask, n_keep)
