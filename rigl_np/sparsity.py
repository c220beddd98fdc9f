"""How sparse each layer is: the sparsity distribution, exact-count random masks, density reports.

RigL paper, Section 3 "Sparsity Distribution" (docs/semantics.md "Layer densities"):

- ``uniform``: every sparse layer gets the global density d;
- ``er`` (Erdős–Rényi, Mocanu et al. 2018): a layer's density is proportional to
  (n_in + n_out) / (n_in * n_out), using only the output and input channel counts (the first two
  dims in our PyTorch layout; the official TF code takes the last two);
- ``erk`` (Erdős–Rényi-Kernel): proportional to (sum of all dims / product of all dims) ** p, the
  kernel dims included; ``power_scale`` p = 0 turns it into uniform.

ER and ERK are solved the way google-research/rigl ``sparse_utils.get_sparsities_erdos_renyi`` does
it: find the scale eps that spends the same number of weights as uniform would, force the layer
with the largest density dense whenever eps * r_l exceeds 1, and solve again.

Masks are exact-count, never Bernoulli: a layer of N weights at density d holds exactly
N - floor((1 - d) * N) active weights (``nnz_for``). Every random draw happens on a host NumPy
``Generator`` (``backend.host_rng``), so NumPy and CuPy runs start from the same masks.

Left out: SNIP/GraSP-style data-driven allocations, and SRigL's constant fan-in masks (srigl/).
"""
from __future__ import annotations

import math
from fractions import Fraction

DISTRIBUTIONS = ("uniform", "er", "erk")


def nnz_for(n: int, density) -> int:
    """Active weights in a layer of ``n`` weights at ``density``: n - floor((1 - d) * n).

    Float error must not move the count by one, so:
    1. d is read as the decimal it prints as (``Fraction(str(d))``): float32 0.3 is 3/10;
    2. z = (1 - d) * n is computed exactly, and snapped to the nearest integer when within
       n * 1e-12 of it: density 1 - 0.7 = 0.30000000000000004 of 1000 weights gives 300, and
       density 0.9 gives 900 (in floats, (1 - 0.9) * 1000 = 99.99999999999997 floors to 99).
    """
    if not 0 <= density <= 1:
        raise ValueError(f"a density must lie in [0, 1], got {density}")
    zeros = (1 - Fraction(str(density))) * n
    nearest = round(zeros)
    if abs(zeros - nearest) <= n * Fraction(1, 10**12):
        return n - nearest
    return n - math.floor(zeros)


def _raw_score(shape, distribution: str, power_scale: float) -> float:
    """r_l, the unnormalised density of one layer: ER uses (out, in) only, ERK every dim."""
    if distribution == "er":
        n_out, n_in = shape[0], shape[1]
        return (n_out + n_in) / (n_out * n_in)
    return (sum(shape) / math.prod(shape)) ** power_scale


def _erdos_renyi(shapes: dict, density: float, distribution: str, power_scale: float) -> dict:
    """eps * r_l for every layer of ``shapes`` (all in the budget); overflowing layers go dense."""
    forced_dense = set()
    while True:
        # We want the same number of active weights as uniform density d would give:
        #   sum_l (N_l - z_l)                         over every layer l (z_l = floor((1-d) N_l))
        #     = sum_{l dense} N_l + sum_{l sparse} eps * r_l * N_l
        # so, moving the forced-dense layers to the left (N_l - (N_l - z_l) = z_l extra each):
        #   eps * sum_{l sparse} r_l * N_l = sum_{l sparse} (N_l - z_l) - sum_{l dense} z_l
        #   eps = rhs / divisor
        rhs, divisor, raw = 0, 0.0, {}
        for name, shape in shapes.items():
            n = math.prod(shape)
            ones = nnz_for(n, density)             # N_l - z_l
            if name in forced_dense:
                rhs -= n - ones                    # - z_l
            else:
                rhs += ones
                raw[name] = _raw_score(shape, distribution, power_scale)
                divisor += raw[name] * n
        if not raw:                                # every layer is dense: nothing left to solve
            return {name: 1.0 for name in shapes}
        eps = rhs / divisor
        if eps <= 0:
            raise ValueError(f"density {density} cannot be met: the dense layers use the budget")
        max_raw = max(raw.values())
        if eps * max_raw <= 1:                     # every density eps * r_l is a valid density
            break
        # The layer(s) with the largest r_l would exceed 1: make them dense and solve again.
        forced_dense |= {name for name, r in raw.items() if r == max_raw}
    return {name: 1.0 if name in forced_dense else eps * raw[name] for name in shapes}


def layer_densities(shapes: dict, density: float, distribution: str = "erk",
                    dense_layers=(), power_scale: float = 1.0, overrides: dict | None = None,
                    first_layer_dense: bool = False) -> dict:
    """``{name: density}`` for the sparsifiable weights ``shapes`` (``{name: shape tuple}``).

    ``density`` is the global density d of the layers inside the budget. Layers named in
    ``dense_layers`` get density 1 and layers in ``overrides`` (``{name: density}``) get the given
    density; both stay outside the budget, so the remaining layers still spend d of their own
    weights. ``first_layer_dense`` adds the first layer of ``shapes`` to ``dense_layers`` when
    there is more than one layer: this is how rigl-torch allocates (it does it for "uniform"
    always), and the paper's ImageNet convention. ``power_scale`` applies to ERK only, as in the
    official code. Use ``density_report`` for what a model really gets overall.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}; choose one of {DISTRIBUTIONS}")
    if not 0 < density <= 1:
        raise ValueError(f"the global density must lie in (0, 1], got {density}")
    fixed = {name: 1.0 for name in dense_layers}
    if first_layer_dense and len(shapes) > 1:
        fixed[next(iter(shapes))] = 1.0
    fixed.update(overrides or {})
    unknown = set(fixed) - set(shapes)
    if unknown:
        raise ValueError(f"dense_layers/overrides name layers not in shapes: {sorted(unknown)}")
    budget = {name: tuple(shape) for name, shape in shapes.items() if name not in fixed}
    if distribution == "uniform":
        solved = {name: float(density) for name in budget}
    else:
        solved = _erdos_renyi(budget, density, distribution, power_scale)
    return {name: fixed[name] if name in fixed else solved[name] for name in shapes}


def random_masks(shapes: dict, densities: dict, rng) -> dict:
    """``{name: bool host array}``, each with exactly ``nnz_for(N, d)`` active entries at random.

    Drawn on the host NumPy ``Generator`` ``rng`` (one permutation per layer, in the order of
    ``shapes``; dense layers draw too, so the stream does not depend on which layers are dense).
    Move the masks to the backend with ``backend.asarray``.
    """
    masks = {}
    for name, shape in shapes.items():
        n = math.prod(shape)
        masks[name] = (rng.permutation(n) < nnz_for(n, densities[name])).reshape(shape)
    return masks


def density_report(masks: dict, shapes: dict) -> dict:
    """Per-layer and global density and nnz actually achieved.

    ``shapes`` lists every sparsifiable weight; a layer without a mask counts as dense, so the
    global density is the real one over all sparsifiable weights (dense layers included).
    Returns ``{"layers": {name: {"density", "nnz", "size"}}, "nnz", "size", "global_density"}``.
    """
    layers = {}
    for name, shape in shapes.items():
        size = math.prod(shape)
        nnz = int(masks[name].sum()) if name in masks else size
        layers[name] = {"density": nnz / size, "nnz": nnz, "size": size}
    nnz = sum(layer["nnz"] for layer in layers.values())
    size = sum(layer["size"] for layer in layers.values())
    return {"layers": layers, "nnz": nnz, "size": size, "global_density": nnz / size}
