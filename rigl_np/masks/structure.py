"""Mask structures: which masks a method may hold, how the first ones are drawn, what they keep.

A method declares its structure (``methods.base.Method.structure``); the structure draws the
initial masks on the host RNG (so NumPy and CuPy runs start from the same masks) and knows the
count each layer keeps. The update that keeps a structure is the method's (RigL's ``mask_update``
keeps any mask's count; SRigL's ``srigl_update`` keeps a constant fan-in).

- ``Unstructured``: any positions; each layer holds exactly N - floor((1 - d) N) weights
  (``sparsity.random_masks``; docs/semantics.md "Layer densities");
- ``ConstantFanIn``: every output neuron has the same number of inputs, k = budget // n_out with
  budget floor(d N) (``fan_in.py``; Lasby et al. 2024; docs/semantics.md "SRigL");
- ``nm.NM``: exactly N of every M consecutive inputs (``nm.py``; docs/semantics.md "N:M"); it
  sets the densities itself (N/M, or 1 for a layer it cannot hold) and says which layers stay
  dense.

Every structure is a ``Structure``: ``densities`` (the layer densities it realises, given those
of the run's distribution), ``budgets``, ``initial_masks``, and what a run says and records about
it (``notices``, ``record``).
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.masks.fan_in import constant_fan_in_mask, srigl_budget
from rigl_np.sparsity import nnz_for, random_masks


class Structure:
    """What every structure answers; the defaults are those of a structure with no more to say."""

    def densities(self, shapes: dict, densities: dict) -> dict:
        """``{layer: density}`` the masks will have, given the distribution's ``densities``."""
        return densities

    def notices(self, shapes: dict) -> list:
        """Lines a run says once about the structure (none)."""
        return []

    def record(self, shapes: dict) -> dict:
        """What metrics.json records about it (nothing)."""
        return {}


class Unstructured(Structure):
    """Exact-count random masks, any position."""

    def initial_masks(self, shapes: dict, densities: dict, rng) -> dict:
        host = random_masks(shapes, densities, rng)
        return {n: backend.asarray(m) for n, m in host.items()}

    def budgets(self, shapes: dict, densities: dict) -> dict:
        """``{layer: weights it holds}`` at its density."""
        return {n: nnz_for(math.prod(s), densities[n]) for n, s in shapes.items()}


class ConstantFanIn(Structure):
    """Random masks with the same fan-in in every row (SRigL's structure)."""

    def initial_masks(self, shapes: dict, densities: dict, rng) -> dict:
        return {n: constant_fan_in_mask(s, densities[n], rng) for n, s in shapes.items()}

    def budgets(self, shapes: dict, densities: dict) -> dict:
        """``{layer: floor(d N)}``: what each layer may hold (its neurons share it evenly)."""
        return {n: srigl_budget(s, densities[n]) for n, s in shapes.items()}

