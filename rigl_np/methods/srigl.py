"""SRigL in the trainer (Lasby et al., ICLR 2024): RigL with constant fan-in and neuron ablation.

Like RigL it grows by the dense gradient of the update batch, skips the optimizer step of that
batch and re-masks weights and momentum after every other step (``RigL``). It differs in two
places: the initial masks give every neuron the same fan-in (``srigl.constant_fan_in_mask``), and
the update is ``srigl.srigl_update``, which may ablate whole neurons (never those of the output
layer, the last sparsifiable weight) and re-spreads the layer's budget over the survivors.
Each update record also holds, per layer, the surviving ("active") neurons and the new fan-in.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.methods.dynamic import RigL
from rigl_np.rigl import apply_update, drop_fraction
from rigl_np.srigl import constant_fan_in_mask, srigl_budget, srigl_update


class SRigL(RigL):
    name = "srigl"

    def __init__(self, densities, rng, gamma_sal=0.3, **kwargs):
        super().__init__(densities, rng, **kwargs)
        self.gamma_sal = gamma_sal

    def initial_masks(self, shapes: dict) -> dict:
        """Constant fan-in masks; each layer may hold floor(d * N) weights (its budget)."""
        self.budgets = {n: srigl_budget(s, self.densities[n]) for n, s in shapes.items()}
        return {n: constant_fan_in_mask(s, self.densities[n], self.rng) for n, s in shapes.items()}

    def update_masks(self, step: int) -> dict:
        f = drop_fraction(step, self.alpha, self.t_end, self.schedule)
        output_layer = list(self.shapes)[-1]
        layers = {}
        for name, mask in self.masks.items():
            # 1. the structured update: ablation, drop, regrowth to a constant fan-in
            result = srigl_update(self.params[name], mask, self.dense_grads[name], f,
                                  self.budgets[name], self.gamma_sal,
                                  ablate=name != output_layer)
            # 2. zero-init new connections and their optimizer state; re-mask weights and state
            apply_update(self.params, self.masks, name, result, self.optimizer)
            count = lambda a: int(backend.to_scalar(a.sum()))  # noqa: E731
            layers[name] = {"dropped": count(result.dropped), "grown": count(result.grown),
                            "regrown_same": count(result.regrown_same),
                            "nnz": count(self.masks[name]), "fan_in": result.fan_in,
                            "active_neurons": mask.shape[0] - count(result.ablated)}
        return self.records.add(step, f, layers, self.masks)
