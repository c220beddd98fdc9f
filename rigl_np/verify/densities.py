"""Checking another implementation's layer densities (a file of ``kind = "densities"``).

RigL paper, Section 3 "Sparsity Distribution"; docs/semantics.md "Layer densities". rigl_np's
answer is ``rigl_np.sparsity.layer_densities`` (uniform, ER, ERK; layers in ``dense_layers`` at
density 1 and outside the budget) with exact counts ``nnz_for`` = N - floor((1 - d) N). Two
conventions differ between implementations (docs/verify.md):

- ``--density-count``: the count a density gives, N - floor((1 - d) N) (``complement``, ours),
  floor(d N) or round(d N), or a random count from masks drawn per position with probability d
  (``bernoulli``, as SNFS's code draws them: within 4 standard deviations of d N); only checked
  where the file holds masks;
- ``--excluded``: whether the ``dense_layers`` stay outside the global budget (ours: the other
  layers still spend d of their own weights) or inside it (the other layers share what d leaves
  of the whole model: density d* = (budget - dense weights) / their weights).

Every combination is tried, fewest changes first; the one that makes every layer agree explains
the file. One result per layer. A file with every layer's mask also gets its connectivity
(``masks.connectivity``: the layers read as a chain in the file's order) in each layer's counts,
and the detail says when the masks cut the network: a finding, which leaves the verdict as it is.
"""
from __future__ import annotations

import math

import numpy as np

from rigl_np.masks.connectivity import connectivity
from rigl_np.sparsity import layer_densities, nnz_for
from rigl_np.verify import fileformat as ff
from rigl_np.verify.conventions import option_text
from rigl_np.verify.layout import layout_shape, to_canonical
from rigl_np.verify.report import Result, accept
from rigl_np.verify.schema import LAYOUTS

ALIASES = {"uniform": "uniform", "random": "uniform", "er": "er", "erdos_renyi": "er",
           "erk": "erk", "erdos_renyi_kernel": "erk"}
TOLERANCE = 1e-6          # densities given as floats agree within this (float32 files)
BERNOULLI_SIGMAS = 4      # --density-count bernoulli: counts within this many sigma of d N


def _count(rule: str, n: int, d: float) -> int:
    if rule == "complement":
        return nnz_for(n, min(max(d, 0.0), 1.0))
    return min(n, math.floor(d * n) if rule == "floor" else round(d * n))


def _read(archive):
    """(shapes, theirs, target density, distribution, dense layers, power scale, masks)."""
    layout = ff.scalar_str(archive, "layout", LAYOUTS) if "layout" in archive else "out_in"
    shapes, theirs, masks = {}, {}, {}
    for key in archive.keys():
        if key.startswith("shape/"):
            if key == "shape/":
                raise archive.fail(key, "names no layer; write shape/<layer> for each layer")
            a = ff.numeric_array(archive, key)
            if a.ndim != 1 or a.size == 0 or a.dtype.kind not in "iu" or (a < 1).any():
                raise archive.fail(key, "must be a 1-D array of positive integers (a shape)")
            shape = tuple(int(v) for v in a)
            if layout == "in_out" and len(shape) not in (2, 4):
                raise archive.fail(key, f"is {shape}: layout in_out is defined for (in, out) "
                                   "and (kh, kw, in, out) weights only")
            if layout == "in_out":                    # back to (out, in[, kh, kw])
                shape = shape[::-1] if len(shape) == 2 else (shape[3], shape[2], shape[0], shape[1])
            shapes[key[len("shape/"):]] = shape
    if not shapes:
        raise ff.InputError(f"{archive.path}: a densities file needs shape/<layer> keys")
    for name, shape in shapes.items():
        entry = {}
        if f"density/{name}" in archive:
            entry["density"] = ff.scalar_float(archive, f"density/{name}", 0.0, 1.0)
        if f"mask/{name}" in archive:
            stored = ff.bool_array(archive, f"mask/{name}", layout_shape(shape, layout)
                                   if layout == "in_out" else shape)
            entry["count"] = int(np.count_nonzero(stored))
            masks[name] = to_canonical(stored, layout)
        if not entry:
            raise ff.InputError(f"{archive.path}: layer {name!r} has a shape but neither "
                                f"density/{name} nor mask/{name}")
        theirs[name] = entry
    for key in ("density", "distribution"):
        if key not in archive:
            raise ff.InputError(f"{archive.path}: missing key {key!r} (see verify --help)")
    density = ff.scalar_float(archive, "density", 0.0, 1.0)
    if density == 0:
        raise archive.fail("density", "must be above 0")
    distribution = ALIASES[ff.scalar_str(archive, "distribution", tuple(ALIASES))]
    dense = []
    if "dense_layers" in archive:
        names = archive.array("dense_layers")
        if names.dtype.kind not in "US" or names.ndim > 1:
            raise archive.fail("dense_layers", "must be a 1-D array of layer names")
        dense = [str(n) for n in np.atleast_1d(names)]
        unknown = [n for n in dense if n not in shapes]
        if unknown:
            raise archive.fail("dense_layers", f"names layers without a shape: {unknown}")
    power = (ff.scalar_float(archive, "power_scale", 0.0, 10.0) if "power_scale" in archive
             else 1.0)
    return shapes, theirs, density, distribution, dense, power, masks


def expected(shapes, density, distribution, dense, power, excluded: str) -> dict:
    """``{layer: density}`` rigl_np gives, with ``dense`` outside or inside the budget."""
    if excluded == "inside" and dense:
        budget = sum(nnz_for(math.prod(s), density) for s in shapes.values())
        spent = sum(math.prod(shapes[n]) for n in dense)
        rest = {n: s for n, s in shapes.items() if n not in dense}
        share = (budget - spent) / sum(math.prod(s) for s in rest.values())
        if share <= 0:
            return {n: (1.0 if n in dense else 0.0) for n in shapes}
        solved = layer_densities(rest, min(share, 1.0), distribution, power_scale=power)
        return {n: 1.0 if n in dense else solved[n] for n in shapes}
    return layer_densities(shapes, density, distribution, dense_layers=dense, power_scale=power)


def _agrees(entry, n, d, rule) -> bool:
    ok = "density" not in entry or abs(entry["density"] - d) <= TOLERANCE
    if "count" not in entry or not ok:
        return ok
    if rule == "bernoulli":          # a Binomial(n, d) count: within 4 standard deviations
        return abs(entry["count"] - d * n) <= BERNOULLI_SIGMAS * math.sqrt(n * d * (1 - d)) + 1
    return entry["count"] == _count(rule, n, d)


def check(archive, selected: dict) -> list:
    """One ``Result`` per layer of a densities file."""
    shapes, theirs, density, distribution, dense, power, masks = _read(archive)
    paths = connectivity(masks, shapes) if len(masks) == len(shapes) else None
    has_counts = any("count" in e for e in theirs.values())
    combos = [(c, x) for x in ("outside", "inside") if x == "outside" or dense
              for c in (("complement", "floor", "round", "bernoulli") if has_counts
                        else ("complement",))]
    chosen = (selected.get("density_count", "complement"), selected.get("excluded", "outside"))
    combos.sort(key=lambda cx: ((cx[0] != chosen[0]) + (cx[1] != chosen[1]),
                                (cx[0] != "complement") + (cx[1] != "outside")))
    ours = expected(shapes, density, distribution, dense, power, "outside")
    match = None
    for rule, excluded in combos:
        ds = ours if excluded == "outside" else expected(shapes, density, distribution, dense,
                                                         power, excluded)
        if all(_agrees(theirs[n], math.prod(s), ds[n], rule) for n, s in shapes.items()):
            match = (rule, excluded, ds)
            break
    total = sum(math.prod(s) for s in shapes.values())
    counts_theirs = sum(e.get("count", 0) for e in theirs.values())
    results = []
    for name, shape in shapes.items():
        n, entry, d = math.prod(shape), theirs[name], ours[name]
        mine = _count("complement", n, d)
        said = ", ".join(f"{k} {v:.6g}" if k == "density" else f"{k} {v:,}"
                         for k, v in entry.items())
        detail = f"{distribution} at d = {density:g}: rigl_np density {d:.6g} ({mine:,} of {n:,}); yours {said}"
        if _agrees(entry, n, d, "complement"):
            verdict, causes, applied = "identical", [], {}
        elif match is not None:
            rule, excluded, _ = match
            applied = {k: v for k, v in (("density_count", rule), ("excluded", excluded))
                       if v not in ("complement", "outside")}
            verdict, causes = "explained", ["density"]
            detail += "; identical with " + ", ".join(option_text(k, v) for k, v in applied.items())
        else:
            verdict, causes, applied = "differs", ["density"], {}
            detail += "; no count rule or budget convention gives it"
        if has_counts:
            detail += (f"; global density yours {counts_theirs / total:.6g}, rigl_np "
                       f"{sum(_count('complement', math.prod(s), ours[k]) for k, s in shapes.items()) / total:.6g}")
        n_differ = abs(entry["count"] - mine) if "count" in entry else int(verdict != "identical")
        counts = {}
        if paths is not None:                     # a finding about the masks, not a verdict
            counts = {"connectivity": {**paths["layers"][name], "cut": paths["cut"],
                                       "input_path_fraction": paths["input_path_fraction"]}}
            if paths["cut"] == name:
                detail += (f"; connectivity: these masks cut the network here (no path from "
                           f"the input to the output crosses {name})")
        results.append(accept(Result(archive.path, name, "densities", verdict, causes, n_differ,
                                     detail, applied=applied, counts=counts), selected))
    return results
