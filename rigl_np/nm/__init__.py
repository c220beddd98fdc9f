"""N:M structured sparsity (2:4 and friends): the update and the condensed layer.

docs/semantics.md "N:M". The groups and masks are ``rigl_np.masks.nm``'s.

- update.py: ``nm_update`` (RigL's and SET's N:M update), ``nm_regrow``, ``nm_prune``;
- condensed.py: ``CondensedNMLinear``, values and in-group positions packed in log2(M) bits.
"""
from rigl_np.nm.condensed import CondensedNMLinear
from rigl_np.nm.update import nm_prune, nm_regrow, nm_update

__all__ = ["CondensedNMLinear", "nm_prune", "nm_regrow", "nm_update"]
