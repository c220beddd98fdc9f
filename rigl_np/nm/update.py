"""One N:M mask update of one layer, as numbered steps: RigL's and SET's, and a pruning step.

docs/semantics.md "N:M". The groups are ``masks.nm``'s: M consecutive inputs of one row (at one
kernel position for a conv). The drop is RigL's, over the whole layer (Evci et al. 2020,
Section 3): k = floor(f * nnz) active weights with the smallest |W|. A per-group floor(f * N)
would drop nothing at N <= 2, which is why the drop is layer-wide. The grow is per group: every
group regrows to exactly N from its positions not kept (just-dropped ones may come back), by the
largest grow score, so nnz is unchanged and every group ends with N.

- ``nm_regrow``: step 3, each group of a kept mask filled back to N by the grow score;
- ``nm_update``: the composer (RigL: grow score |G|; SET: uniform random scores);
- ``nm_prune``: gradual N:M pruning's step: protect the N largest |W| of every group, keep the
  largest |W| of the rest layer-wide up to the schedule's count.

Ties follow ``masks.select`` (lower flat index first; inside a group, the lower input). There is
no tie noise.
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.masks.nm import groups, ungroup
from rigl_np.masks.select import row_top_k, select_top_k
from rigl_np.masks.update import MaskUpdate, count, unchanged
from rigl_np.rigl.drop import keep_after_drop, magnitude_score


def nm_regrow(kept, grow_score, n: int, m: int, closed=None, cut=groups, uncut=ungroup):
    """Boolean mask of ``kept``'s shape: in every group, the positions outside ``kept`` with
    the largest ``grow_score``, as many as bring the group back to exactly ``n``.

    kept: (*shape) bool with at most ``n`` per group; grow_score: (*shape) finite floats.
    closed: the positions that may not grow (default ``kept``; ``kept | mask`` when just-dropped
    ones may not return), a group short of places grows what it can. cut(a, m) -> (G, M) and
    uncut(g, shape): how the groups are taken (default ``masks.nm``'s; ``verify`` passes other
    implementations' groupings).
    """
    xp = backend.array_module(kept, grow_score)
    open_ = ~cut(kept if closed is None else closed, m)               # (G, M) may be grown
    missing = n - xp.count_nonzero(cut(kept, m), axis=1)              # (G,) to fill per group
    missing = xp.clip(missing, 0, xp.count_nonzero(open_, axis=1))
    grown = row_top_k(cut(grow_score, m), open_, missing)             # (G, M)
    return uncut(grown, kept.shape)


def nm_update(weight, mask, grow_score, drop_fraction: float, n: int, m: int) -> MaskUpdate:
    """Drop the k = floor(f * nnz) smallest |W| of the layer, regrow every group to ``n`` by
    ``grow_score``. weight, grow_score: (*shape) float; mask: (*shape) bool, N:M already."""
    # 1. n_active connections, k of them to drop (the layer's count, not a group's)
    n_active = count(mask)
    k = math.floor(drop_fraction * n_active)
    if k == 0:
        return unchanged(mask)
    # 2. drop: keep the n_active - k largest |W| among the active connections, layer-wide
    kept = keep_after_drop(magnitude_score(weight), mask, n_active - k)
    # 3. grow: every group back to n from its positions not kept (just-dropped ones included)
    grown = nm_regrow(kept, grow_score, n, m)
    # 4. the new mask, and what changed; grown = dropped in number, so nnz is unchanged
    dropped = mask & ~kept
    return MaskUpdate(mask=kept | grown, new=grown & ~mask, dropped=dropped, grown=grown,
                      regrown_same=dropped & grown, n_active=n_active, n_drop=k)


def nm_prune(weight, mask, n_keep: int, n: int, m: int) -> MaskUpdate:
    """A gradual N:M pruning step: keep the ``n`` largest |W| of every group (among its active
    weights) and, of the other active weights, the largest |W| layer-wide, ``n_keep`` in all
    (never fewer than n per group: ``n_keep`` below G * n keeps G * n). Grows nothing."""
    xp = backend.array_module(weight, mask)
    n_active = count(mask)
    score = magnitude_score(weight)
    # 1. protected: the n largest |W| of every group
    n_groups = mask.size // m
    protected = ungroup(row_top_k(groups(score, m), groups(mask, m),
                                  xp.full(n_groups, n)), mask.shape)
    # 2. the rest compete layer-wide for what the schedule leaves
    n_keep = max(n_keep, n_groups * n)
    if n_keep >= n_active:
        return unchanged(mask)
    kept = protected | select_top_k(score, mask & ~protected, n_keep - n_groups * n)
    none = xp.zeros(mask.shape, dtype=bool)
    return MaskUpdate(kept, none, mask & ~kept, none, none, n_active, n_active - n_keep)
