"""Constant fan-in masks: every active output neuron has exactly the same number of inputs.

The constant fan-in sparsity of the SRigL paper (Lasby et al., ICLR 2024); docs/semantics.md "SRigL". A row
of a weight is one output neuron's fan-in: ``weight[i]`` for Linear (out, in), ``weight[i].ravel()``
for Conv2d (out, in, kh, kw), so every function here works on the (out, fan_in) view.

- ``srigl_budget``: the weights a layer may hold, floor(d * N), in exact rational arithmetic on the
  decimal the density is written as (``Fraction(str(d))``; in floats, 0.29 * 100 = 28.999...).
  Note that SRigL's budget floors d * N, where the unstructured masks (sparsity.nnz_for) keep
  N - floor((1 - d) * N); the two differ by one when d * N is not an integer.
- ``constant_fan_in_mask``: a random mask with k = budget // n_out inputs in every row, drawn on a
  host NumPy ``Generator`` and moved to the backend, so NumPy and CuPy start from the same mask.
- ``fan_in``: the constant fan-in of a mask, or a clear error when it is not constant.
"""
from __future__ import annotations

import math
from fractions import Fraction

from rigl_np import backend
from rigl_np.masks.select import row_top_k


def srigl_budget(shape, density) -> int:
    """floor(d * N): how many weights a layer of ``shape`` at ``density`` may hold (exact)."""
    if not 0 < density <= 1:
        raise ValueError(f"a density must lie in (0, 1], got {density}")
    return math.floor(Fraction(str(density)) * math.prod(shape))


def constant_fan_in_mask(shape, density, rng):
    """A random boolean mask of ``shape`` whose every row has k = floor(d * N) // n_out inputs.

    shape: (out, in) or (out, in, kh, kw); rng: a host ``numpy.random.Generator``
    (``backend.host_rng(seed)``). Returns the mask on the selected backend. Raises ValueError
    when the budget is smaller than the number of neurons (k would be 0).
    """
    n_out, fan = shape[0], math.prod(shape[1:])
    k = srigl_budget(shape, density) // n_out
    if k == 0:
        raise ValueError(f"density {density} gives {shape} fewer weights than output neurons; "
                         "a constant fan-in mask needs at least one input per neuron")
    xp = backend.xp()
    score = backend.asarray(rng.random((n_out, fan)))              # (out, fan_in) host draw
    everywhere = xp.ones((n_out, fan), dtype=bool)
    mask = row_top_k(score, everywhere, xp.full(n_out, k))         # (out, fan_in), k per row
    return mask.reshape(shape)


def fan_in(mask) -> int:
    """The number of inputs of every active neuron of ``mask`` (rows with none are ablated)."""
    xp = backend.array_module(mask)
    counts = xp.count_nonzero(mask.reshape(mask.shape[0], -1), axis=1)  # (out,)
    active = counts[counts > 0]
    if active.size == 0:
        return 0
    k = int(active[0])
    if int(xp.count_nonzero(active != k)):
        raise ValueError(f"the mask has no constant fan-in: active rows hold between "
                         f"{int(active.min())} and {int(active.max())} inputs")
    return k
