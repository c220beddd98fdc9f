"""The small-dense baseline: a dense model narrowed until it has as many parameters as the sparse one.

The sparse model's parameter count is its active sparsifiable weights (each layer's exact count at
its density from the chosen distribution) plus every dense parameter (biases, BatchNorm). We
search the width multiplier w of ``rigl_np.models`` (every hidden width scaled by w, inputs and
classes fixed) by bisection for the largest model whose parameter count does not exceed that
budget. It trains with no masks; its FLOPs are those of the narrower model, as multiples of the
full dense one.
"""
from __future__ import annotations

import math

from rigl_np import models
from rigl_np.flops import layer_flops
from rigl_np.methods.base import Method
from rigl_np.sparsity import nnz_for


def parameter_count(name, input_shape, num_classes, width=1.0, densities=None) -> int:
    """Parameters of model ``name`` at ``width``; sparsifiable weights counted at ``densities``."""
    model = models.build_model(name, input_shape, num_classes, width=width)
    densities = densities or {}
    sparse = set(model.sparsifiable())
    return sum(nnz_for(p.size, densities.get(n, 1.0)) if n in sparse else p.size
               for n, p in model.params().items())


def matched_width(name, input_shape, num_classes, densities, tolerance=1e-3) -> float:
    """The largest width multiplier whose dense parameter count fits the sparse model's count."""
    budget = parameter_count(name, input_shape, num_classes, 1.0, densities)
    lo, hi = 0.0, 1.0
    while hi - lo > tolerance:
        mid = (lo + hi) / 2
        if parameter_count(name, input_shape, num_classes, mid) <= budget:
            lo = mid
        else:
            hi = mid
    return max(lo, math.ulp(1.0))


class SmallDense(Method):
    """A narrower dense model with the sparse model's parameter count; no masks."""

    name = "small-dense"
    colour = "tab:gray"
    has_masks = False

    def build_model(self, model_name, input_shape, num_classes, rng):
        self.input_shape = tuple(input_shape)
        self.width = matched_width(model_name, input_shape, num_classes, self.densities)
        model = models.build_model(model_name, input_shape, num_classes, rng, self.width)
        self.forward_flops = sum(layer_flops(model, input_shape).values())   # f of the narrow one
        return model

    def inference_flops(self, flops, densities) -> float:
        return self.forward_flops

    def training_flops(self, flops, densities) -> float:
        return 3 * self.inference_flops(flops, densities)
