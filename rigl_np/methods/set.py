"""SET (Mocanu et al. 2018), as the RigL paper runs it: drop the smallest |W|, grow at random.

The random grow scores are drawn on the host RNG; the optimizer steps first and the masks change
after it. Left out: original SET's random non-zero re-initialisation and its separate drop of the
positive and negative weights (docs/semantics.md "Baselines").
"""
from __future__ import annotations

from rigl_np.methods.dynamic import DynamicSparse
from rigl_np.rigl import mask_update, set_score


class SET(DynamicSparse):
    """Grow at random positions; update after the optimizer step."""

    name = "set"
    update_phase = "after_step"

    def update_layer(self, name, step, f):
        mask = self.masks[name]
        return mask_update(self.params[name], mask, set_score(mask.shape, self.rng), f)
