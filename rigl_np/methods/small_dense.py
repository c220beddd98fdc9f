"""The small-dense baseline: a dense model narrowed until it has as many parameters as the sparse one.

The sparse model's parameter count is its active sparsifiable weights (each layer's exact count at
its density) plus every dense parameter (biases, BatchNorm). We search the width multiplier w of
``rigl_np.models`` (every hidden width scaled by w, inputs and classes fixed) by bisection for the
largest model whose parameter count does not exceed that budget.
"""
from __future__ import annotations

import math

from rigl_np import models
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
