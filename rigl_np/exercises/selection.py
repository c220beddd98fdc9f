"""Graders of exercises 1 and 2: the drop step and the grow step of one RigL update.

RigL paper (Evci et al. 2020), Section 3, "Drop criterion" and "Grow criterion"; rigl_np's rule
is docs/semantics.md "The RigL update", steps 2 and 3, with the tie rule of "Conventions":
- drop: fn(weight, mask, k) -> kept, all active connections but the k with the smallest |W|;
- grow: fn(grad, kept, k) -> grown, the k positions outside ``kept`` with the largest |G|
  (the connections just dropped are outside ``kept``, so they may come back).
An answer is right when it is *a* correct selection (``judge.selection_problem``): any choice
among exactly equal scores passes. A wrong answer is compared with the selections that common
mistakes make, to name the mistake.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.exercises import cases
from rigl_np.exercises.answers import as_mask
from rigl_np.exercises.judge import selection_problem
from rigl_np.exercises.result import grade
from rigl_np.rigl import choose_grown, keep_after_drop, select_top_k

RANKED_INACTIVE = ("you ranked inactive positions too: only active connections (mask True) can "
                   "be kept, whatever value an inactive position holds")
RANKED_KEPT = ("you ranked kept positions too: grow only among the positions the drop step did "
               "not keep (~kept); setting their score to 0 is not enough when gradients are 0")


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


def _drop_mistake(case, answer):
    weight, mask, k = case.args.values()
    kept = as_mask(answer, mask.shape, case, "the boolean mask of kept connections")
    xp = backend.array_module(weight, mask)
    score, keep = xp.abs(weight), int(mask.sum()) - k
    problem = selection_problem(score, mask, keep, kept)
    if problem is None:
        return None
    if k == 0 and problem.kind == "count":
        return (f"with k = 0 nothing is dropped: return the mask unchanged; you kept "
                f"{problem.count} of {keep} (careful: a[:-0] is empty)")
    if unbroken_ties(kept, score, mask, keep):
        return (f"you kept every connection tied at the threshold |W|, {problem.count} instead of "
                f"nnz - k = {keep}: break the ties so that exactly nnz - k are kept")
    everywhere = xp.ones(mask.shape, dtype=bool)
    found = first_match(kept, [
        (RANKED_INACTIVE, score, everywhere, keep),
        (RANKED_INACTIVE, score * mask, everywhere, keep),
        ("you ranked W, not |W|: a large negative weight is a strong connection",
         weight, mask, keep),
        ("you dropped the largest |W|: drop removes the k smallest", -score, mask, keep),
        ("you returned the k dropped connections; return the nnz - k kept ones", -score, mask, k),
        (f"k is off by one: you kept {problem.count}, keep nnz - k = {keep}", score, mask,
         keep - 1),
        (f"k is off by one: you kept {problem.count}, keep nnz - k = {keep}", score, mask,
         keep + 1)])
    if found:
        return found
    if problem.kind == "outside":
        return f"{RANKED_INACTIVE} (you kept {problem.at})"
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
    if k == 0:
        return f"with k = 0 nothing is grown: return an all-False mask; you grew {problem.count}"
    nonzero = free & (score > 0)
    if int(nonzero.sum()) < k and problem.count < k and not (grown & ~nonzero).any():
        return ("positions with zero gradient can be grown too: when fewer than k free "
                "positions have a non-zero gradient, the rest are zero-gradient ones "
                f"(you grew {problem.count}, grow exactly k = {k})")
    if unbroken_ties(grown, score, free, k):
        return (f"you grew every position tied at the threshold |G|, {problem.count} instead of "
                f"k = {k}: break the ties so that exactly k are grown")
    everywhere = xp.ones(kept.shape, dtype=bool)
    found = first_match(grown, [
        (RANKED_KEPT, score, everywhere, k),
        (RANKED_KEPT, score * free, everywhere, k),
        ("you ranked G, not |G|: a large negative gradient is as strong a signal", grad, free, k),
        ("you grew the smallest |G|: grow takes the k largest", -score, free, k),
        (f"k is off by one: you grew {problem.count}, grow exactly k = {k}", score, free, k - 1),
        (f"k is off by one: you grew {problem.count}, grow exactly k = {k}", score, free, k + 1)])
    if found:
        return found
    if problem.kind == "outside":
        return f"{RANKED_KEPT} (you grew {problem.at})"
    return describe_problem(problem, "grew", "|G|", score,
                            f"grow the k = {k} positions outside `kept` with the largest |G|")


def _grow_same(case, grown) -> bool:
    grad, kept, k = case.args.values()
    xp = backend.array_module(grad, kept)
    return bool(xp.array_equal(backend.to_numpy(grown), choose_grown(xp.abs(grad), kept, k)))


def grade_grow(fn, rng) -> str:
    """Exercise 2: fn(grad, kept, k) -> grown."""
    return grade(fn, cases.grow_cases(rng), _grow_mistake, _grow_same)
