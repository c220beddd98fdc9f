"""Is an answer *a* correct top-k selection? Judged by properties, so every tie choice passes.

A top-k selection of ``score`` among ``candidates`` is correct when it chooses exactly k
candidates and no unchosen candidate scores more than a chosen one; which of several exactly
equal scores is taken does not matter. ``selection_problem`` checks that (drop and grow,
RigL paper Section 3); ``update_problem`` checks a whole new mask: some valid drop followed by a
valid growth among the positions it did not keep (Algorithm 1). Both answer ``None`` when the
answer is correct and a ``Problem`` saying where it is not otherwise. The graders also use them
with deliberately wrong settings (other scores, candidates or k) to recognise a mistake: an
answer that is a correct selection for the wrong problem shows which wrong problem was solved.
"""
from __future__ import annotations

from dataclasses import dataclass

from rigl_np import backend
from rigl_np.rigl import select_top_k


@dataclass
class Problem:
    """Why an answer is not a valid selection."""

    kind: str            # "outside" | "count" | "order" | "missing" | "excluded"
    count: int           # how many positions the answer chose
    at: tuple = None     # the offending chosen (or, for "missing", unchosen) position
    other: tuple = None  # "order": the unchosen candidate that scores more than ``at``


def _index(flat: int, shape) -> tuple:
    xp = backend.array_module()
    return tuple(int(i) for i in xp.unravel_index(flat, shape))


def _first(where, shape) -> tuple:
    return _index(int(backend.array_module(where).flatnonzero(where)[0]), shape)


def _order_problem(score, chosen, rest, count: int):
    """An "order" Problem when the lowest chosen score is below the highest score in ``rest``."""
    xp = backend.array_module(score, chosen, rest)
    if not chosen.any() or not rest.any():
        return None
    low = xp.where(chosen, score, xp.inf)
    high = xp.where(rest, score, -xp.inf)
    if low.min() >= high.max():
        return None
    return Problem("order", count, _index(int(low.argmin()), score.shape),
                   _index(int(high.argmax()), score.shape))


def selection_problem(score, candidates, k: int, chosen):
    """None when ``chosen`` is some top-``k`` of ``score`` among ``candidates``; else a Problem."""
    xp = backend.array_module(score, candidates, chosen)
    count = int(xp.count_nonzero(chosen))
    outside = chosen & ~candidates
    if outside.any():
        return Problem("outside", count, _first(outside, chosen.shape))
    if count != k:
        return Problem("count", count)
    return _order_problem(score, chosen, candidates & ~chosen, count)


def update_problem(new_mask, drop_score, drop_candidates, n_keep: int, grow_score, k_grow: int,
                   not_growable=None):
    """None when ``new_mask`` = K | G for some valid drop K and growth G; else a Problem.

    K: a top-``n_keep`` of ``drop_score`` among ``drop_candidates``; G: a top-``k_grow`` of
    ``grow_score`` among the positions outside K and outside ``not_growable`` (None: outside K
    only, so just-dropped connections may come back). Ties are free in both steps.
    """
    xp = backend.array_module(new_mask, drop_score, grow_score)
    count = int(xp.count_nonzero(new_mask))
    if count != n_keep + k_grow or not 0 <= n_keep <= int(xp.count_nonzero(drop_candidates)):
        return Problem("count", count)
    barred = xp.zeros(new_mask.shape, dtype=bool) if not_growable is None else not_growable
    # 1. The drop threshold: scores above it must be kept, scores at it are ties.
    reference = select_top_k(drop_score, drop_candidates, n_keep)
    threshold = drop_score[reference].min() if n_keep else xp.inf
    must = drop_candidates & (drop_score > threshold)
    ties = drop_candidates & (drop_score == threshold)
    if (must & ~new_mask).any():
        return Problem("missing", count, _first(must & ~new_mask, new_mask.shape))
    needed = n_keep - int(xp.count_nonzero(must))
    tied_in = ties & new_mask
    if int(xp.count_nonzero(tied_in)) < needed:
        return Problem("missing", count, _first(ties & ~new_mask, new_mask.shape))
    # 2. Count as kept the tied positions that could not be grown, then those least worth
    #    growing; whatever the answer holds beyond K must be a valid growth.
    low = grow_score.min() - 1
    worth = xp.where(barred, low, grow_score)
    kept = must | select_top_k(-worth, tied_in, needed)
    grown = new_mask & ~kept
    if (grown & barred).any():
        return Problem("excluded", count, _first(grown & barred, new_mask.shape))
    return _order_problem(grow_score, grown, ~new_mask & ~barred, count)
