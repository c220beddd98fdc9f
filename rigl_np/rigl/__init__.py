"""Dynamic sparse training, one phase per file (RigL, Evci et al. 2020, Section 3).

- drop.py: drop score |W| and the top-k selection with its deterministic tie rule;
- grow.py: grow scores (RigL |G|, SET random, SNFS |EMA of G|) and the grow selection;
- schedule.py: the drop-fraction schedule, the update-step rule, Zhu & Gupta's pruning schedule;
- update.py: the numbered composer ``mask_update`` and ``apply_update``.
"""
from rigl_np.rigl.drop import keep_after_drop, magnitude_score, select_top_k
from rigl_np.rigl.grow import choose_grown, gradient_ema, rigl_score, set_score, snfs_score
from rigl_np.rigl.schedule import drop_fraction, is_update_step, pruning_sparsity
from rigl_np.rigl.update import (MaskUpdate, apply_update, mask_update, rigl_update, set_update,
                                 snfs_update)

__all__ = ["MaskUpdate", "apply_update", "choose_grown", "drop_fraction", "gradient_ema",
           "is_update_step", "keep_after_drop", "magnitude_score", "mask_update",
           "pruning_sparsity", "rigl_score", "rigl_update", "select_top_k", "set_score",
           "set_update", "snfs_score", "snfs_update"]
