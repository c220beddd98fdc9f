"""Static sparse training (the RigL paper's "Static"): a random mask that never changes.

Each sparse layer gets an exact-count random mask at its density, drawn once on the host RNG;
the gradients are masked and the weights and momentum re-masked after every step (``Method``).
``--selection global`` (``selection.py``, resolved when the method is built) draws the layers'
total budget uniformly over all sparse layers together instead; ``--nm N:M`` (``nm.py``) a mask
with exactly N of every M consecutive inputs.
"""
from __future__ import annotations

from rigl_np.methods.base import Method
from rigl_np.methods import nm


class Static(Method):
    """A random exact-count mask per layer, never changed."""

    name = "static"
    colour = "tab:blue"
    Options = nm.NMSelection
