"""Gradual magnitude pruning (Zhu & Gupta 2017): dense to sparse over training.

Every layer starts dense. Every ``delta_t`` batches between ``t0`` and ``t1`` (after the optimizer
step), each sparse layer keeps only its largest-magnitude weights, so that its sparsity follows the
cubic schedule s_t = s_f + (s_i - s_f)(1 - (t - t0)/(t1 - t0))^3 from s_i = 0 to its final
sparsity s_f = 1 - d_l (d_l from the chosen distribution). Pruned weights never come back.
Our choice (the paper leaves it to the user): t0 = 0 and t1 = t_end (75 % of training by default),
so pruning ends when the sparse methods stop changing their masks.
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.methods.base import Static
from rigl_np.rigl import keep_after_drop, magnitude_score, pruning_sparsity
from rigl_np.sparsity import nnz_for


class Pruning(Static):
    name = "pruning"

    def __init__(self, densities, rng, delta_t=100, t0=0, t1=1, snapshot_every=0):
        super().__init__(densities, rng, snapshot_every)
        self.delta_t, self.t0, self.t1 = delta_t, t0, t1

    def initial_masks(self, shapes: dict) -> dict:
        """Pruning starts dense: all-ones masks for the layers that will be pruned."""
        return {n: backend.xp().ones(s, dtype=bool) for n, s in shapes.items()}

    def after_step(self, step) -> None:
        super().after_step(step)
        if step % self.delta_t == 0 and self.t0 <= step <= self.t1:
            self.prune(step)

    def prune(self, step: int) -> dict:
        """Keep each layer's largest |W| down to the schedule's sparsity at ``step``."""
        layers = {}
        for name, mask in self.masks.items():
            # 1. this layer's target: its final sparsity 1 - d_l, reached along the cubic ramp
            sparsity = pruning_sparsity(step, 0.0, 1 - self.densities[name], self.t0, self.t1)
            n_keep = nnz_for(math.prod(mask.shape), round(1 - sparsity, 12))
            nnz = int(backend.to_scalar(mask.sum()))
            # 2. drop the smallest magnitudes among the active weights (never grow)
            if n_keep < nnz:
                self.masks[name] = keep_after_drop(magnitude_score(self.params[name]), mask, n_keep)
            layers[name] = {"dropped": nnz - min(n_keep, nnz), "grown": 0, "regrown_same": 0,
                            "nnz": min(n_keep, nnz)}
        self.remask()
        return self.records.add(step, 0.0, layers, self.masks)
