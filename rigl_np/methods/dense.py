"""Dense training: every layer at density 1, no masks; the reference the others are measured by.

FLOPs: 3 f_D per example (``Method.training_flops`` at density 1).
"""
from __future__ import annotations

from rigl_np.methods.base import Method


class Dense(Method):
    """No masks: every hook leaves the model to the optimizer."""

    name = "dense"
    colour = "black"
    has_masks = False
    dense_baseline = True

    @classmethod
    def layer_densities(cls, cfg, shapes: dict) -> dict:
        return {name: 1.0 for name in shapes}
