"""The drop phase of a mask update, and the top-k selection every phase uses.

RigL paper, Section 3 "Update Schedule", drop criterion: remove the k = floor(f * nnz) active
connections with the smallest weight magnitude |W| (SPEC "The RigL update", step 2). RigL, SET and
SNFS all drop this way; they differ only in how they grow (grow.py).

The tie rule, used for dropping and growing alike: candidates are ranked by
(score descending, flat index ascending) and the first k are chosen, so among equal scores the
lower flat (C-order) index wins. ``select_top_k`` gathers the candidates, finds the k-th largest
score with a partition (O(N), where a full sort would be O(N log N)) and settles the ties at that
threshold by flat index with a cumulative sum. Gathering first matters: a partition over the
whole layer with the non-candidates set to -inf meets ~90 % equal values and is ~10x slower.

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
    index = xp.flatnonzero(candidates)                            # (C,) ascending flat indices
    s = score.ravel()[index]                                      # (C,) candidates only, so the
    c = index.size                                                # partition meets no filler
    if k < c:
        threshold = xp.partition(s, c - k)[c - k]                 # () the k-th largest score
        above = s > threshold                                     # (C,) fewer than k of these
        at = s == threshold                                       # (C,) the ties at the threshold
        ties_needed = k - int(xp.count_nonzero(above))
        if int(xp.count_nonzero(at)) > ties_needed:               # more ties than places left:
            # take them in flat-index order (int32 counts: NumPy's int64 cumsum is ~10x slower,
            # and a layer has fewer than 2**31 weights)
            at &= xp.cumsum(at, dtype=xp.int32) <= ties_needed
        index = index[above | at]                                 # (k,)
    chosen = xp.zeros(score.size, dtype=bool)
    chosen[index] = True
    return chosen.reshape(score.shape)


def magnitude_score(weight):
    """Drop score: |W|. The connections with the smallest magnitude go first."""
    return backend.array_module(weight).abs(weight)


def keep_after_drop(drop_score, mask, n_keep: int):
    """The mask left after the drop step: the ``n_keep`` active connections with the largest score.

    Only active connections (``mask`` True) compete; everything else is dropped or already off.
    """
    return select_top_k(drop_score, mask, n_keep)
