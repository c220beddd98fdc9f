"""A slow, obviously correct RigL mask update: the rule written as full sorts, for checking.

RigL paper, Section 3 (docs/semantics.md "The RigL update" and the tie rule in "Conventions").
Every position is listed with its score, the list is sorted by (score descending, flat index
ascending), and the first entries are taken: no partition, no thresholds, no cumulative sums.
``rigl_np.rigl.mask_update`` must choose exactly what this chooses; the tests and notebook 03
check it. O(N log N) and Python-level: for small layers only.
"""
from __future__ import annotations

import math

from rigl_np import backend


def _top(score_of: dict, k: int) -> set:
    """The k positions of ``{position: score}`` with the largest score, lower position first."""
    ranked = sorted(score_of, key=lambda p: (-score_of[p], p))
    return set(ranked[:k])


def reference_mask_update(weight, mask, grow_score, drop_fraction: float):
    """(new mask, grown) as host boolean arrays, for one RigL update of one layer.

    weight, grow_score: float arrays; mask: bool array of the same shape; 0 <= drop_fraction <= 1.
    """
    w, m, g = (backend.to_numpy(a).ravel() for a in (weight, mask, grow_score))
    # 1. n active connections, k of them to drop and as many to grow; a dense layer never changes
    active = [p for p in range(m.size) if m[p]]
    n = len(active)
    k = math.floor(drop_fraction * n)
    if k == 0 or n == m.size:
        return backend.to_numpy(mask).copy(), backend.to_numpy(mask) & False
    # 2. drop: keep the n - k active positions with the largest |W|
    kept = _top({p: abs(float(w[p])) for p in active}, n - k)
    # 3. grow: the k positions not kept (just-dropped ones included) with the largest score
    grown = _top({p: float(g[p]) for p in range(m.size) if p not in kept}, k)
    # 4. the new mask
    new_mask, grown_mask = m & False, m & False
    new_mask[sorted(kept | grown)] = True
    grown_mask[sorted(grown)] = True
    shape = backend.to_numpy(mask).shape
    return new_mask.reshape(shape), grown_mask.reshape(shape)
