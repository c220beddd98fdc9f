"""RigL (Evci et al. 2020, Section 3): drop the smallest |W|, grow the largest |dense gradient|.

The growth signal and the skipped optimizer step of the update batch are ``DenseGradientGrowth``'s
(as in the official code and rigl-torch); what is RigL's own is the per-layer update,
``rigl.rigl_update``.
"""
from __future__ import annotations

from rigl_np.methods.dynamic import DenseGradientGrowth
from rigl_np.rigl import rigl_update


class RigL(DenseGradientGrowth):
    """Grow by the dense gradient; the update batch takes no optimizer step."""

    name = "rigl"

    def update_layer(self, name, step, f):
        return rigl_update(self.params[name], self.masks[name], self.dense_grads[name], f)
