"""Gradual magnitude pruning (Zhu & Gupta 2017): dense to sparse over training.

The whole method, part by part:
- structure: unstructured, but every layer starts dense (all-ones masks);
- schedule: ``PruningSchedule``, after the optimizer step of every ΔT-th batch between t0 = 0 and
  t1 = T_end (75 % of training by default) and at t1; the density of each layer follows the cubic
  ``prune.pruning_density`` from 1 down to its final density d_l (from the chosen distribution),
  held exactly from t1 on;
- signal: none;
- update: per layer, ``prune.magnitude_prune``: keep the largest |W| down to the scheduled count.
  Pruned weights never come back. FLOPs: each batch at the masks it trained with.
  ``--selection global`` (``selection.py``): one ranking over all sparse layers keeps the sum of
  the layers' scheduled counts (``rigl.global_prune``), so per-layer densities drift.
  ``--nm N:M`` (``nm.py``, resolved when the method is built): every N:M layer's final density
  is N/M, and each step is ``nm.nm_prune``: the N largest |W| of every group are protected, the
  rest pruned layer-wide to the schedule's count, exactly N per group at t1.
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.methods.base import Method
from rigl_np.methods import nm
from rigl_np.methods.schedules import PruningSchedule
from rigl_np.nm import nm_prune
from rigl_np.prune import magnitude_prune
from rigl_np.rigl.drop import magnitude_score
from rigl_np.rigl.global_update import global_prune, layer_scores
from rigl_np.sparsity import nnz_for


class Pruning(Method):
    name = "pruning"
    colour = "tab:green"
    schedule = PruningSchedule()
    Options = nm.NMSelection

    def initial_masks(self, shapes: dict) -> dict:
        """Pruning starts dense: all-ones masks for the layers that will be pruned."""
        return {n: backend.xp().ones(s, dtype=bool) for n, s in shapes.items()}

    def update(self, step, f):
        """Each layer keeps its largest |W| down to the schedule's density at ``step``; a global
        selection keeps the sum of those counts over all layers together."""
        counts = {n: nnz_for(math.prod(m.shape), self.schedule.density(step, self.densities[n]))
                  for n, m in self.masks.items()}
        if self.options.nm:
            s = self.structure
            return {n: nm_prune(self.params[n], m, counts[n], s.n, s.m)
                    for n, m in self.masks.items()}
        if self.options.selection == "global":
            scores = {n: magnitude_score(self.params[n]) for n in self.masks}
            return global_prune(layer_scores(scores, self.options.global_scores), self.masks,
                                sum(counts.values()))
        return {n: magnitude_prune(self.params[n], m, counts[n]) for n, m in self.masks.items()}
