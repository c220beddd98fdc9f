"""Dynamic sparse training, one phase per file (RigL, Evci et al. 2020, Section 3).

- drop.py: drop score |W| and which active connections stay;
- grow.py: grow scores (RigL |G|, SET random, SNFS |EMA of G|) and the grow selection;
- schedule.py: the drop-fraction schedule and the update-step rule;
- update.py: the numbered composer ``mask_update`` (and its steps 2-4 with the choices as
  parameters, ``drop_and_grow``) and ``rigl_update``;
- reference.py: the same update as slow full sorts, to check the fast one against.

What every method shares lives in ``rigl_np.masks``: top-k selection and its tie rule
(``select_top_k``, ``row_top_k``), the update record ``MaskUpdate`` and ``apply_update``
(zero-init and optimizer-state reset); they are re-exported here, where RigL's readers look.
"""
from rigl_np.masks.select import row_top_k, select_top_k
from rigl_np.masks.update import MaskUpdate, apply_update, unchanged
from rigl_np.rigl.drop import keep_after_drop, magnitude_score
from rigl_np.rigl.grow import choose_grown, gradient_ema, rigl_score, set_score, snfs_score
from rigl_np.rigl.reference import reference_mask_update
from rigl_np.rigl.schedule import drop_fraction, is_update_step
from rigl_np.rigl.update import drop_and_grow, mask_update, rigl_update

__all__ = ["MaskUpdate", "apply_update", "choose_grown", "drop_and_grow", "drop_fraction",
           "gradient_ema", "is_update_step", "keep_after_drop", "magnitude_score", "mask_update",
           "reference_mask_update", "rigl_score", "rigl_update", "row_top_k", "select_top_k",
           "set_score", "snfs_score", "unchanged"]
