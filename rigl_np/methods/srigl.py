"""SRigL in the trainer (Lasby et al., ICLR 2024): RigL with constant fan-in and neuron ablation.

Like RigL it grows by the dense gradient (``DenseGradientGrowth``: the update batch's, or the mean
of the last ``grad_accumulation``) and skips the optimizer step of that batch. It differs in two
places: the initial masks give every neuron the same fan-in (``srigl.constant_fan_in_mask``), and
the per-layer update is ``srigl.srigl_update``, which may ablate whole neurons (never those of the
output layer, the last sparsifiable weight) and re-spreads the layer's budget over the survivors.
Each layer's update record also holds the surviving ("active") neurons and the new fan-in.
"""
from __future__ import annotations

from rigl_np.methods.dynamic import DenseGradientGrowth
from rigl_np.srigl import constant_fan_in_mask, srigl_budget, srigl_update


class SRigL(DenseGradientGrowth):
    """Constant fan-in masks and SRigL's structured update."""

    name = "srigl"

    def __init__(self, densities, rng, gamma_sal=0.3, **kwargs):
        super().__init__(densities, rng, **kwargs)
        self.gamma_sal = gamma_sal

    @classmethod
    def options(cls, cfg, total_steps: int) -> dict:
        return {**super().options(cfg, total_steps), "gamma_sal": cfg.gamma_sal}

    def initial_masks(self, shapes: dict) -> dict:
        """Constant fan-in masks; each layer may hold floor(d * N) weights (its budget)."""
        self.budgets = {n: srigl_budget(s, self.densities[n]) for n, s in shapes.items()}
        return {n: constant_fan_in_mask(s, self.densities[n], self.rng) for n, s in shapes.items()}

    def update_layer(self, name, step, f):
        output_layer = list(self.shapes)[-1]
        return srigl_update(self.params[name], self.masks[name], self.dense_grads[name], f,
                            self.budgets[name], self.gamma_sal, ablate=name != output_layer)
