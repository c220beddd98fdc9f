"""The drop phase of a mask update, and the top-k selection every phase uses.

RigL paper, Section 3 "Update Schedule", drop criterion: remove the k = floor(f * nnz) active
connections with the smallest weight magnitude |W| (SPEC "The RigL update", step 2). RigL, SET and
SNFS all drop this way; they differ only in how they grow (grow.py).

The tie rule, used for dropping and growing alike: candidates are ranked by
(score descending, flat index ascending) and the first k are chosen, so among equal scores the
lower flat (C-order) index wins. ``select_top_k`` finds the k-th largest candidate score with a
partition (O(N), where a full sort would be O(N log N)) and settles the ties at that threshold by
flat index with a cumulative sum. When few positions are candidates (dropping: only the active
ones) it gathers them first: a partition over the whole layer with the non-candidates at -inf
would meet ~90 % equal values and be ~10x slower. When most are (growing: everything not kept)
it ranks in place with the rest at -inf, which saves listing and gathering ~90 % of the layer.

Differences from the official code and rigl-torch, which rank |W| over *all* positions (inactive
ones score 0): here only active connections can be kept, so a zero-valued active weight never
trades places with an inactive position.
"""
from __future__ import annotations

from rigl_np import backend


def select_top_k(score, candidates, k: int):
    """Boolean mask (``score.shape``) of the ``k`` candidates with the largest ``score``.

    ``candidates`` is a boolean array of ``score``'s shape; ``k`` must not exceed its count.
    Ties: lower flat index first. Scores must be finite (no NaN).
    """
    xp = backend.array_module(score, candidates)
    if k <= 0:
        return xp.zeros(score.shape, dtype=bool)
    flat = candidates.ravel()                                     # (N,)
    c = int(xp.count_nonzero(flat))
    if 2 * c > flat.size:
        # 1a. most positions compete (growth): rank in place, the rest at -inf
        index, s = None, xp.where(flat, score.ravel(), -xp.inf)   # (N,)
    else:
        # 1b. few compete (drop): gather them, so the partition meets no filler
        index = xp.flatnonzero(flat)                              # (C,) ascending flat indices
        s = score.ravel()[index]                                  # (C,)
    if k < c:
        # 2. the k-th largest score, then the ties at it in flat-index order
        threshold = xp.partition(s, s.size - k)[s.size - k]       # () a candidate's score
        above = s > threshold                                     # fewer than k of these
        at = s == threshold                                       # the ties at the threshold
        ties_needed = k - int(xp.count_nonzero(above))
        if int(xp.count_nonzero(at)) > ties_needed:               # more ties than places left:
            # take them in flat-index order (int32 counts: NumPy's int64 cumsum is ~10x slower,
            # and a layer has fewer than 2**31 weights)
            at &= xp.cumsum(at, dtype=xp.int32) <= ties_needed
        picked = above | at
    else:
        picked = flat.copy() if index is None else xp.ones(c, dtype=bool)
    # 3. back to the layer's shape
    if index is None:
        return picked.reshape(score.shape)
    chosen = xp.zeros(score.size, dtype=bool)
    chosen[index[picked]] = True
    return chosen.reshape(score.shape)


def magnitude_score(weight):
    """Drop score: |W|. The connections with the smallest magnitude go first."""
    return backend.array_module(weight).abs(weight)


def keep_after_drop(drop_score, mask, n_keep: int):
    """The mask left after the drop step: the ``n_keep`` active connections with the largest score.

    Only active connections (``mask`` True) compete; everything else is dropped or already off.
    """
    return select_top_k(drop_score, mask, n_keep)
