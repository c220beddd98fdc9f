"""SNFS (Dettmers & Zettlemoyer 2019), as in the official RigL code: grow by |momentum of G|.

The grow score is |exponential moving average (beta 0.9) of the dense gradients|, updated every
batch before the gradients are masked; no redistribution of density across layers; the optimizer
steps first and the masks change after it. FLOPs: the dense gradient every batch, 2 f_S + f_D.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.flops import forward_flops, snfs_training_flops
from rigl_np.methods.dynamic import DynamicSparse
from rigl_np.rigl import gradient_ema, mask_update, snfs_score


class SNFS(DynamicSparse):
    """Grow by |EMA of dense gradients| (momentum-style, beta 0.9), kept every batch."""

    name = "snfs"
    update_phase = "after_step"
    extra_state = ("ema",)

    def attach(self, model, optimizer):
        super().attach(model, optimizer)
        self.ema = {name: backend.array_module(m).zeros(m.shape, dtype="float32")
                    for name, m in self.masks.items()}

    def training_flops(self, flops, densities) -> float:
        return snfs_training_flops(sum(flops.values()), forward_flops(flops, densities))

    def observe(self, step, grads) -> None:
        for name in self.masks:
            self.ema[name] = gradient_ema(self.ema[name], grads[name])

    def update_layer(self, name, step, f):
        return mask_update(self.params[name], self.masks[name], snfs_score(self.ema[name]), f)
