"""Static sparse training (the RigL paper's "Static"): a random mask that never changes.

Each sparse layer gets an exact-count random mask at its density, drawn once on the host RNG;
the gradients are masked and the weights and momentum re-masked after every step (``Method``).
"""
from __future__ import annotations

from rigl_np.methods.base import Method


class Static(Method):
    """A random exact-count mask per layer, never changed."""

    name = "static"
    colour = "tab:blue"
