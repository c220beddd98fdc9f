"""Top-k selection, the one rule every mask decision in rigl_np goes through.

RigL's drop step keeps the active connections with the largest |W|, its grow step activates the
positions with the largest |G|, SRigL does both row by row (Evci et al. 2020, Section 3; Lasby et
al. 2024, Section 4). All of them choose "the k candidates with the largest score", and equal
scores need a rule, or two runs of the same update could differ (docs/semantics.md
"Conventions").

The tie rule: candidates are ranked by (score descending, flat C-order index ascending) and the
first k are chosen; among equal scores the lower flat index wins. Row by row, the lower column
wins. ``rigl_np.rigl.reference`` writes the same rule as a full sort, slowly and obviously; the tests
check these fast versions against it.

- ``select_top_k``: over a whole layer. It finds the k-th largest candidate score with a
  partition (O(N), where a full sort is O(N log N)) and settles the ties at that threshold by flat
  index with a cumulative sum. When few positions are candidates (dropping: only the active ones)
  it gathers them first: a partition over the whole layer with the non-candidates at -inf would
  meet ~90 % equal values and be ~10x slower. When most are (growing: everything not kept) it ranks
  in place with the rest at -inf, which saves listing and gathering ~90 % of the layer.
- ``row_top_k``: in each row r of an (R, F) array, the counts[r] best candidates (SRigL's
  per-neuron trimming and regrowth, constant fan-in masks).
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


def row_top_k(score, candidates, counts):
    """Boolean (R, F) mask: in row r, the ``counts[r]`` candidates with the largest ``score``.

    score: (R, F) finite floats; candidates: (R, F) bool; counts: (R,) ints, each at most the
    number of candidates in its row. Ties: the lower column wins.
    """
    xp = backend.array_module(score, candidates, counts)
    s = xp.where(candidates, score, -xp.inf)                       # (R, F) non-candidates last
    ranked = -xp.sort(-s, axis=1)                                  # (R, F) each row descending
    rows = xp.arange(s.shape[0])
    threshold = ranked[rows, xp.maximum(counts - 1, 0)][:, None]   # (R, 1) the counts[r]-th score
    above = s > threshold                                          # (R, F) fewer than counts[r]
    at = s == threshold                                            # (R, F) ties at the threshold
    places = counts[:, None] - xp.count_nonzero(above, axis=1)[:, None]  # (R, 1) left for ties
    # Ties in column order. A row with counts 0 has nothing above its maximum and 0 places.
    return above | (at & (xp.cumsum(at, axis=1) <= places))
