"""SRigL: RigL with constant fan-in structured sparsity (Lasby et al., ICLR 2024).

- the constant fan-in structure itself (budgets floor(d * N), random constant fan-in masks) is
  ``rigl_np.masks.fan_in``, next to the other structures; re-exported here;
- update.py: the numbered composer ``srigl_update`` (neuron ablation, drop, regrowth to k');
- condensed.py: ``CondensedLinear`` / ``CondensedConv2d``, the (values, indices) form of a
  constant fan-in layer that is faster and smaller than the dense one.

The mask update is applied to weights and optimizer state by ``rigl_np.masks.apply_update``, the
same helper every method uses. Left out: the official code's dynamic ablation of whole channels in a
following BatchNorm (biases and BatchNorm parameters stay dense here).
"""
from rigl_np.masks.fan_in import constant_fan_in_mask, fan_in, srigl_budget
from rigl_np.masks.select import row_top_k
from rigl_np.srigl.condensed import (CondensedConv2d, CondensedLinear, condensed_backward,
                                     condensed_forward)
from rigl_np.srigl.update import (ablated_neurons, ablation, grow_to_fan_in,
                                  keep_within_fan_in, salient_counts, srigl_update)

__all__ = ["CondensedConv2d", "CondensedLinear", "ablated_neurons", "ablation",
           "condensed_backward", "condensed_forward", "constant_fan_in_mask", "fan_in",
           "grow_to_fan_in", "keep_within_fan_in", "row_top_k", "salient_counts", "srigl_budget",
           "srigl_update"]
