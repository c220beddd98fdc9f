"""Static sparse training (the RigL paper's "Static"): a random mask that never changes.

Each sparse layer gets an exact-count random mask at its density, drawn once on the host RNG;
the gradients are masked and the weights and momentum re-masked after every step (``Method``).
``--selection global`` (``selection.py``, resolved when the method is built) draws the layers'
total budget uniformly over all sparse layers together instead.
"""
from __future__ import annotations

from rigl_np.methods import selection
from rigl_np.methods.base import Method


class Static(Method):
    """A random exact-count mask per layer, never changed."""

    name = "static"
    colour = "tab:blue"
    Options = selection.Selection

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.structure = selection.structure(self.options)
