"""SNFS (Dettmers & Zettlemoyer 2019), as in the official RigL code: grow by |momentum of G|.

The whole method, part by part (docs/semantics.md "Baselines"):
- structure: unstructured, exact-count random initial masks;
- schedule: RigL's, the update following the batch's optimizer step;
- signal: the exponential moving average (beta 0.9) of the dense gradients, kept every batch
  before they are masked; FLOPs: the dense gradient every batch, 2 f_S + f_D;
- update: per layer, ``rigl.mask_update`` growing by |EMA|. No redistribution of density across
  layers.
"""
from __future__ import annotations

from rigl_np.methods.base import Method, Verification
from rigl_np.methods.schedules import DropFractionSchedule
from rigl_np.methods.signals import GradientEMA
from rigl_np.rigl import mask_update, snfs_score


class SNFS(Method):
    """Grow by |EMA of dense gradients| (momentum-style, beta 0.9), kept every batch."""

    name = "snfs"
    colour = "tab:purple"
    schedule = DropFractionSchedule(skip_step=False)
    Signal = GradientEMA
    verification = Verification("grad", "the moving average of the dense gradients", snfs_score)

    def update(self, step, f):
        ema = self.signal.value
        return {n: mask_update(self.params[n], m, snfs_score(ema[n]), f)
                for n, m in self.masks.items()}
