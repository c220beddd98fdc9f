"""SRigL in the trainer (Lasby et al., ICLR 2024): RigL with constant fan-in and neuron ablation.

The whole method, part by part (docs/semantics.md "SRigL"):
- structure: constant fan-in, every neuron of a layer with the same number of inputs; each layer
  may hold its budget floor(d * N) (``masks.ConstantFanIn``);
- schedule and signal: RigL's (an update every ΔT batches while t < T_end, at the cosine drop
  fraction, instead of that batch's optimizer step; growth by the dense gradient, or the mean of
  the last ``grad_accumulation`` batches);
- update: per layer, ``srigl.srigl_update``, which may ablate whole neurons (never those of the
  output layer, the last sparsifiable weight) and re-spreads the layer's budget over the
  survivors. Each layer's update record also holds the surviving neurons and the new fan-in.
"""
from __future__ import annotations

from dataclasses import dataclass

from rigl_np.masks import ConstantFanIn
from rigl_np.methods.base import Method, Verification
from rigl_np.methods.schedules import DropFractionSchedule
from rigl_np.methods.signals import DenseGradient
from rigl_np.options import check_fields, opt, require
from rigl_np.rigl import rigl_score
from rigl_np.srigl import srigl_update


@dataclass
class Options:
    grad_accumulation: int = opt(1, "batches whose dense gradients are averaged for growth")
    gamma_sal: float = opt(0.3, "neuron ablation threshold (fraction of the fan-in)")

    def __post_init__(self):
        check_fields(self)
        require(self.grad_accumulation >= 1, "grad_accumulation", "be at least 1",
                self.grad_accumulation)
        require(0 <= self.gamma_sal <= 1, "gamma_sal", "lie in [0, 1]", self.gamma_sal)


class SRigL(Method):
    """Constant fan-in masks and SRigL's structured update."""

    name = "srigl"
    colour = "tab:brown"
    Options = Options
    structure = ConstantFanIn()
    schedule = DropFractionSchedule(skip_step=True)
    Signal = DenseGradient
    verification = Verification("grad", "the dense gradient the update grew by, w.r.t. W*M",
                                rigl_score)

    def update(self, step, f):
        grads, output_layer = self.signal.value, list(self.shapes)[-1]
        return {n: srigl_update(self.params[n], m, grads[n], f, self.budgets[n],
                                self.options.gamma_sal, ablate=n != output_layer)
                for n, m in self.masks.items()}
