"""Graders of exercises 1 and 2: the drop step and the grow step of one RigL update.

RigL paper (Evci et al. 2020), Section 3, "Drop criterion" and "Grow criterion"; rigl_np's rule
is docs/semantics.md "The RigL update", steps 2 and 3, with the tie rule of "Conventions":
- drop: fn(weight, mask, k) -> kept, all active connections but the k with the smallest |W|;
- grow: fn(grad, kept, k) -> grown, the k positions outside ``kept`` with the largest |G|
  (the connections just dropped are outside ``kept``, so they may come back).
An answer is right when it is *a* correct selection (``judge.selection_problem``): any choice
among exactly equal scores passes. A wrong answer is compared with the selections that common
mistakes make (``DROP`` and ``GROW``, the catalogues), to name the mistake.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.exercises import cases
from rigl_np.exercises.answers import as_mask
from rigl_np.exercises.judge import selection_problem
from rigl_np.exercises.result import grade, named
from rigl_np.rigl import choose_grown, keep_after_drop, select_top_k

RANKED_INACTIVE = ("you ranked inactive positions too: only active connections (mask True) can "
                   "be kept, whatever value an inactive position holds")
DROP = {  # the mistakes the drop grader names
    "ranked_inactive": RANKED_INACTIVE,
    "k_zero": "with k = 0 nothing is dropped: return the mask unchanged; you kept {count} of "
              "{keep} (careful: a[:-0] is empty)",
    "ties_kept": "you kept every connection tied at the threshold |W|, {count} instead of "
                 "nnz - k = {keep}: break the ties so that exactly nnz - k are kept",
    "abs": "you ranked W, not |W|: a large negative weight is a strong connection",
    "dropped_largest": "you dropped the largest |W|: drop removes the k smallest",
    "returned_dropped": "you returned the k dropped connections; return the nnz - k kept ones",
    "kept_k": "you kept the k largest |W|: k is the number to drop, keep the other nnz - k",
    "off_by_one": "k is off by one: you kept {count}, keep nnz - k = {keep}",
    "active_zeros": "you dropped every active weight that is exactly 0: a connection is active "
                    "when its mask is True, whatever its weight (rank within `mask`, not "
                    "`weight != 0`); zeros are dropped first, but only k of them",
    "inactive_in_kept": "your mask is True at inactive positions ({at}): return mask & ~dropped, "
                        "not ~dropped; an inactive position is not a kept connection",
    "dropped_inactive": "you chose the k smallest |W| among every position, inactive ones "
                        "included, so fewer than k active connections were dropped: only active "
                        "connections can be dropped",
}
RANKED_KEPT = ("you ranked kept positions too: grow only among the positions the drop step did "
               "not keep (~kept); setting their score to 0 is not enough when gradients are 0")
GROW = {  # the mistakes the grow grader names
    "ranked_kept": RANKED_KEPT,
    "k_zero": "with k = 0 nothing is grown: return an all-False mask; you grew {count}",
    "zero_gradients": "positions with zero gradient can be grown too: when fewer than k free "
                      "positions have a non-zero gradient, the rest are zero-gradient ones (you "
                      "grew {count}, grow exactly k = {k})",
    "ties_grown": "you grew every position tied at the threshold |G|, {count} instead of k = "
                  "{k}: break the ties so that exactly k are grown",
    "abs": "you ranked G, not |G|: a large negative gradient is as strong a signal",
    "grew_smallest": "you grew the smallest |G|: grow takes the k largest",
    "off_by_one": "k is off by one: you grew {count}, grow exactly k = {k}",
    "returned_union": "you returned kept | grown: return only the k grown positions (the "
                      "update adds them to `kept` itself)",
    "returned_free": "you returned every position not kept: grow only the k of them with the "
                     "largest |G|",
}


def first_match(chosen, variants):
    """The message of the first (message, score, candidates, k) that ``chosen`` solves."""
    for message, score, candidates, k in variants:
        if 0 <= k <= int(candidates.sum()) and \
                selection_problem(score, candidates, k, chosen) is None:
            return message
    return None


def unbroken_ties(chosen, score, candidates, k: int):
    """True when candidates tie at the k-th score and ``chosen`` holds all or none of them.

    That is the answer of a threshold test (score >= or > the k-th score) that never breaks
    the ties, so it chooses more or fewer than k.
    """
    xp = backend.array_module(score, chosen)
    if k == 0 or int(xp.count_nonzero(chosen)) == k:
        return False
    threshold = score[select_top_k(score, candidates, k)].min()
    if int(xp.count_nonzero(candidates & (score == threshold))) < 2:
        return False
    return bool(xp.array_equal(chosen, candidates & (score >= threshold))
                or xp.array_equal(chosen, candidates & (score > threshold)))


def describe_problem(problem, verb: str, score_name: str, score, rule: str) -> str:
    """The generic message for a Problem of a selection (``verb``: "kept" or "grew")."""
    if problem.kind == "count":
        return f"you {verb} {problem.count} positions; {rule}"
    return (f"you {verb} {problem.at} ({score_name} = {float(score[problem.at]):.4g}) but not "
            f"{problem.other} ({score_name} = {float(score[problem.other]):.4g}); {rule}")


def _dropped_everywhere(score, mask, k: int, kept) -> bool:
    """Whether ``kept`` is mask & ~E for E some k smallest ``score`` over every position."""
    xp = backend.array_module(score, mask)
    dropped = mask & ~kept
    extra = k - int(xp.count_nonzero(dropped))
    if (kept & ~mask).any() or not 0 < extra <= int(xp.count_nonzero(~mask)):
        return False
    chosen = dropped | select_top_k(-score, ~mask, extra)
    return selection_problem(-score, xp.ones(mask.shape, dtype=bool), k, chosen) is None


def _drop_mistake(case, answer):
    weight, mask, k = case.args.values()
    kept = as_mask(answer, mask.shape, case, "the boolean mask of kept connections")
    xp = backend.array_module(weight, mask)
    score, keep = xp.abs(weight), int(mask.sum()) - k
    problem = selection_problem(score, mask, keep, kept)
    if problem is None:
        return None
    count = problem.count
    if k == 0 and problem.kind == "count":
        return named(DROP, "k_zero", count=count, keep=keep)
    if (kept & ~mask).any() and (kept | mask).all() and \
            selection_problem(score, mask, keep, kept & mask) is None:
        return named(DROP, "inactive_in_kept", at=tuple(int(i) for i in
                                                       xp.argwhere(kept & ~mask)[0]))
    nonzero = mask & (weight != 0)
    if count < keep and count == min(keep, int(nonzero.sum())) and \
            selection_problem(score, nonzero, count, kept) is None:
        return named(DROP, "active_zeros")
    if _dropped_everywhere(score, mask, k, kept):
        return named(DROP, "dropped_inactive")
    if unbroken_ties(kept, score, mask, keep):
        return named(DROP, "ties_kept", count=count, keep=keep)
    everywhere = xp.ones(mask.shape, dtype=bool)
    off = named(DROP, "off_by_one", count=count, keep=keep)
    found = first_match(kept, [
        (named(DROP, "ranked_inactive"), score, everywhere, keep),
        (named(DROP, "ranked_inactive"), score * mask, everywhere, keep),
        (named(DROP, "abs"), weight, mask, keep),
        (named(DROP, "dropped_largest"), -score, mask, keep),
        (named(DROP, "returned_dropped"), -score, mask, k),
        (named(DROP, "kept_k"), score, mask, k),
        (off, score, mask, keep - 1), (off, score, mask, keep + 1)])
    if found:
        return found
    if problem.kind == "outside":
        return named(DROP, "ranked_inactive")
    return describe_problem(problem, "kept", "|W|", score,
                            f"keep the nnz - k = {keep} active connections with the largest |W|")


def _drop_same(case, kept) -> bool:
    weight, mask, k = case.args.values()
    xp = backend.array_module(weight, mask)
    reference = keep_after_drop(xp.abs(weight), mask, int(mask.sum()) - k)
    return bool(xp.array_equal(backend.to_numpy(kept), reference))


def grade_drop(fn, rng) -> str:
    """Exercise 1: fn(weight, mask, k) -> kept."""
    return grade(fn, cases.drop_cases(rng), _drop_mistake, _drop_same)


def _grow_mistake(case, answer):
    grad, kept, k = case.args.values()
    grown = as_mask(answer, kept.shape, case, "the boolean mask of grown positions")
    xp = backend.array_module(grad, kept)
    score, free = xp.abs(grad), ~kept
    problem = selection_problem(score, free, k, grown)
    if problem is None:
        return None
    count = problem.count
    if k == 0:
        return named(GROW, "k_zero", count=count)
    if kept.any() and (grown & kept).sum() == kept.sum() and \
            selection_problem(score, free, k, grown & free) is None:
        return named(GROW, "returned_union")
    nonzero = free & (score > 0)
    if int(nonzero.sum()) < k and count < k and not (grown & ~nonzero).any():
        return named(GROW, "zero_gradients", count=count, k=k)
    if unbroken_ties(grown, score, free, k):
        return named(GROW, "ties_grown", count=count, k=k)
    if xp.array_equal(grown, free):
        return named(GROW, "returned_free")
    everywhere = xp.ones(kept.shape, dtype=bool)
    off = named(GROW, "off_by_one", count=count, k=k)
    found = first_match(grown, [
        (named(GROW, "ranked_kept"), score, everywhere, k),
        (named(GROW, "ranked_kept"), score * free, everywhere, k),
        (named(GROW, "abs"), grad, free, k),
        (named(GROW, "grew_smallest"), -score, free, k),
        (off, score, free, k - 1), (off, score, free, k + 1)])
    if found:
        return found
    if problem.kind == "outside":
        return named(GROW, "ranked_kept")
    return describe_problem(problem, "grew", "|G|", score,
                            f"grow the k = {k} positions outside `kept` with the largest |G|")


def _grow_same(case, grown) -> bool:
    grad, kept, k = case.args.values()
    xp = backend.array_module(grad, kept)
    return bool(xp.array_equal(backend.to_numpy(grown), choose_grown(xp.abs(grad), kept, k)))


def grade_grow(fn, rng) -> str:
    """Exercise 2: fn(grad, kept, k) -> grown."""
    return grade(fn, cases.grow_cases(rng), _grow_mistake, _grow_same)
