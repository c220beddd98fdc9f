"""What every sparse method shares about masks: selection, structures, the update record.

- select.py: top-k selection and the tie rule (lower flat index first), whole-layer and per row;
- structure.py: mask structures (``Unstructured``, ``ConstantFanIn``): initial masks and budgets;
- fan_in.py: constant fan-in masks (SRigL's structure, Lasby et al. 2024);
- nm.py: N:M masks (exactly N of every M consecutive inputs) and their structure ``NM``;
- update.py: ``MaskUpdate``, the one record of a layer's mask update, and ``apply_update``.
"""
from rigl_np.masks.select import row_top_k, select_top_k
from rigl_np.masks.nm import NM
from rigl_np.masks.structure import ConstantFanIn, Structure, Unstructured
from rigl_np.masks.update import MaskUpdate, apply_update, count, unchanged

__all__ = ["ConstantFanIn", "MaskUpdate", "NM", "Structure", "Unstructured", "apply_update",
           "count", "row_top_k", "select_top_k", "unchanged"]
