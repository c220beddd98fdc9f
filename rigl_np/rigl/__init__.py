"""Dynamic sparse training, one phase per file (RigL, Evci et al. 2020, Section 3).

- select.py: the top-k selection every mask decision uses, and its tie rule;
- drop.py: drop score |W| and which active connections stay;
- grow.py: grow scores (RigL |G|, SET random, SNFS |EMA of G|) and the grow selection;
- schedule.py: the drop-fraction schedule, the update-step rule, Zhu & Gupta's pruning schedule;
- update.py: the ``MaskUpdate`` record, the numbered composer ``mask_update``, ``rigl_update``,
  a pruning step, and ``apply_update`` (zero-init and optimizer-state reset);
- reference.py: the same update as slow full sorts, to check the fast one against.
"""
from rigl_np.rigl.drop import keep_after_drop, magnitude_score
from rigl_np.rigl.grow import choose_grown, gradient_ema, rigl_score, set_score, snfs_score
from rigl_np.rigl.reference import reference_mask_update
from rigl_np.rigl.schedule import (drop_fraction, is_pruning_step, is_update_step,
                                   last_pruning_step, pruning_density)
from rigl_np.rigl.select import row_top_k, select_top_k
from rigl_np.rigl.update import (MaskUpdate, apply_update, magnitude_prune, mask_update,
                                 rigl_update, unchanged)

__all__ = ["MaskUpdate", "apply_update", "choose_grown", "drop_fraction", "gradient_ema",
           "is_pruning_step", "is_update_step", "keep_after_drop", "last_pruning_step", "magnitude_prune",
           "magnitude_score", "mask_update", "pruning_density",
           "reference_mask_update", "rigl_score", "rigl_update", "row_top_k", "select_top_k",
           "set_score", "snfs_score", "unchanged"]
