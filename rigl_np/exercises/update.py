"""Graders of exercise 5: the whole RigL update of one layer, mask first, then the parameters.

RigL paper (Evci et al. 2020), Section 3 and Algorithm 1: k = floor(f * nnz) active
connections with the smallest |W| are dropped, the k positions not kept with the largest |G|
are grown (the ones just dropped included), new connections start at weight 0, and their
optimizer state (here SGD's momentum buffer) starts at 0; connections dropped and grown back in
the same update are not new and keep both (docs/semantics.md "The RigL update", steps 1-5).
- rigl_update: fn(weight, mask, grad, drop_fraction) -> new boolean mask;
- full_update: fn(weight, mask, grad, momentum, drop_fraction)
  -> (new_weight, new_mask, new_momentum), both arrays 0 outside the new mask (W <- W * M).
The mask is judged by ``judge.update_problem`` (any choice among equal scores passes); the
weights and momenta are then judged on the student's own mask, as ``rigl_np verify`` does: a
connection in both the old and the new mask keeps its weight and momentum (kept, or dropped and
grown back), a new one starts at 0 for both, and every position outside the new mask holds 0.
So a drop or a growth that breaks ties the other way is judged by what it chose.
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.exercises import layer_cases
from rigl_np.exercises.answers import as_floats, as_mask, as_tuple
from rigl_np.exercises.judge import update_problem
from rigl_np.exercises.result import grade, named, reworded
from rigl_np.exercises.selection import RANKED_INACTIVE
from rigl_np.rigl import keep_after_drop, rigl_update, select_top_k

CATALOGUE = {  # the mistakes the rigl_update grader (and full_update's mask) names
    "just_dropped": "just-dropped connections must be allowed to come back: grow among every "
                    "position not kept by the drop step, the ones you just dropped included",
    "ranked_inactive": RANKED_INACTIVE,
    "abs_w": "you ranked W, not |W|, to drop: a large negative weight is a strong connection",
    "abs_g": "you ranked G, not |G|, to grow: a large negative gradient is as strong a signal",
    "dropped_largest": "you dropped the largest |W|: drop removes the k smallest",
    "grew_smallest": "you grew the smallest |G|: grow takes the k largest",
    "rounded": "k = floor(f * nnz) = {k}: you rounded f * nnz = {fn:.2f} up to {up}",
    "layer_size": "k counts the active connections: floor(f * nnz) = {k}, not f times the "
                  "layer size ({by_size})",
    "no_growth": "you dropped k connections but grew none back: grow k",
    "no_drop": "you grew k connections but dropped none: drop the k smallest |W| first",
    "grew_kept": "you grew among every position, kept ones included, so fewer than k "
                 "connections are new: grow among the positions the drop did not keep",
    "only_grown": "you returned only the k grown connections: the new mask is kept | grown",
    "k_zero": "with k = floor(f * nnz) = 0 nothing changes: return the mask unchanged",
}
PARAMETERS = {  # the mistakes full_update names in the new weight and momentum
    "zero_init": "new connections must start at weight 0{old}",
    "reset": "reset the momentum of new connections to 0{old}",
    "regrown": "connections dropped and grown back in the same update keep their weight and "
               "momentum: they are not new (your {what} there changed)",
    "kept": "kept connections keep their {what} unchanged",
    "dropped": "dropped connections must hold 0 in the {what} (W <- W * M, momentum <- "
               "momentum * M)",
    "inactive": "positions inactive before and after the update must hold 0 in the {what} "
                "(W <- W * M, momentum <- momentum * M)",
}


def _alternatives(new_mask, w, g, mask, k: int):
    """(key, matches) for the shapes a wrong mask takes that the judge cannot describe."""
    xp = backend.array_module(new_mask, w, g)
    n = int(mask.sum())
    kept = keep_after_drop(w, mask, n - k)                       # rigl_np's ties
    everywhere = xp.ones(mask.shape, dtype=bool)
    yield "grew_kept", xp.array_equal(new_mask, kept | select_top_k(g, everywhere, k))
    yield "only_grown", xp.array_equal(new_mask, select_top_k(g, ~kept, k))


def mask_mistake(weight, mask, grad, drop_fraction: float, new_mask):
    """None when ``new_mask`` is a correct RigL update of the layer, else what is wrong."""
    xp = backend.array_module(weight, mask, grad)
    n = int(mask.sum())
    k = math.floor(drop_fraction * n)
    w, g = xp.abs(weight), xp.abs(grad)
    problem = update_problem(new_mask, w, mask, n - k, g, k)
    if problem is None:
        return None
    if k == 0:
        return named(CATALOGUE, "k_zero")
    for key, matches in _alternatives(new_mask, w, g, mask, k):
        if matches:
            return named(CATALOGUE, key)
    everywhere = xp.ones(mask.shape, dtype=bool)
    up = math.ceil(drop_fraction * n)
    by_size = min(math.floor(drop_fraction * mask.size), n)      # at most every connection
    for key, args in [
            ("just_dropped", (w, mask, n - k, g, k, mask)),
            ("ranked_inactive", (w, everywhere, n - k, g, k)),
            ("ranked_inactive", (w * mask, everywhere, n - k, g, k)),
            ("abs_w", (weight, mask, n - k, g, k)), ("abs_g", (w, mask, n - k, grad, k)),
            ("dropped_largest", (-w, mask, n - k, g, k)),
            ("grew_smallest", (w, mask, n - k, -g, k)), ("rounded", (w, mask, n - up, g, up)),
            ("layer_size", (w, mask, n - by_size, g, by_size)),
            ("no_growth", (w, mask, n - k, g, 0)), ("no_drop", (w, mask, n, g, k))]:
        if update_problem(new_mask, *args) is None:
            return named(CATALOGUE, key, k=k, fn=drop_fraction * n, up=up, by_size=by_size)
    if problem.kind == "count":
        return (f"your new mask has {problem.count} active connections; an update keeps "
                f"nnz = {n} (it drops k = floor(f * nnz) = {k} and grows k)")
    if problem.kind == "missing":
        return (f"{problem.at} (|W| = {float(w[problem.at]):.4g}) is among the nnz - k largest "
                "|W| but not in your new mask: drop removes only the k smallest")
    return (f"you grew {problem.at} (|G| = {float(g[problem.at]):.4g}) but not {problem.other} "
            f"(|G| = {float(g[problem.other]):.4g}): grow takes the k largest |G| among the "
            "positions not kept")


def _rigl_update_mistake(case, answer):
    weight, mask, grad, f = case.args.values()
    return mask_mistake(weight, mask, grad, f, as_mask(answer, mask.shape, case, "the new mask"))


def _rigl_update_same(case, answer) -> bool:
    xp = backend.array_module(case.args["mask"])
    return bool(xp.array_equal(backend.to_numpy(answer), rigl_update(*case.args.values()).mask))


def grade_rigl_update(fn, rng) -> str:
    """Exercise 5a: fn(weight, mask, grad, drop_fraction) -> new mask."""
    return grade(fn, layer_cases.rigl_update_cases(rng), _rigl_update_mistake, _rigl_update_same)


def _kinds(weight, mask, new_mask, k: int):
    """(kind, where) for the student's own new mask: new, kept, possibly dropped and grown
    back (in both masks, but |W| low enough to be dropped), dropped, inactive before and
    after."""
    xp = backend.array_module(weight, mask, new_mask)
    n = int(mask.sum())
    w = xp.abs(weight)
    # A connection in both masks may have been dropped and grown back when its |W| is not
    # above the (nnz - k)-th largest |W|: a drop could have chosen it.
    threshold = w[keep_after_drop(w, mask, n - k)].min() if k < n else xp.inf
    droppable = (w <= threshold) if k else xp.zeros(mask.shape, dtype=bool)
    both = mask & new_mask
    return [("new", new_mask & ~mask), ("kept", both & ~droppable), ("regrown", both & droppable),
            ("dropped", mask & ~new_mask), ("inactive", ~mask & ~new_mask)]


def _parameter_mistake(kind: str, what: str, kept_old: bool):
    old = f": yours kept the old {what} stored there" if kept_old else ""
    if kind == "new":
        return named(PARAMETERS, "zero_init" if what == "weight" else "reset", old=old)
    return named(PARAMETERS, kind, what=what)


def _full_update_mistake(case, answer):
    weight, mask, grad, momentum, f = case.args.values()
    xp = backend.array_module(weight, mask)
    new_weight, new_mask, new_momentum = as_tuple(
        answer, 3, "a tuple (new_weight, new_mask, new_momentum)", case)
    new_mask = as_mask(new_mask, mask.shape, case, "new_mask (the second item)")
    message = mask_mistake(weight, mask, grad, f, new_mask)
    if message is not None:
        return reworded(f"the new mask: {message}", message)
    both = mask & new_mask
    got = {"weight": (as_floats(new_weight, mask.shape, case, "new_weight (the first item)"),
                      weight, xp.where(both, weight, 0)),
           "momentum": (as_floats(new_momentum, mask.shape, case,
                                  "new_momentum (the third item)"), momentum,
                        xp.where(both, momentum, 0))}
    wrong = {what: ~xp.isclose(answer_, expected, rtol=1e-6, atol=1e-7)
             for what, (answer_, _, expected) in got.items()}
    for kind, where in _kinds(weight, mask, new_mask, math.floor(f * int(mask.sum()))):
        for what, (answer_, old, _) in got.items():
            if not (wrong[what] & where).any():
                continue
            at = tuple(int(i) for i in xp.argwhere(where & wrong[what])[0])
            kept_old = bool(xp.allclose(answer_[where], old[where]))
            message = _parameter_mistake(kind, what, kept_old)
            return reworded(f"{message} (at {at})", message)
    return None


def grade_full_update(fn, rng) -> str:
    """Exercise 5b: fn(weight, mask, grad, momentum, drop_fraction) -> (weight, mask, momentum)."""
    return grade(fn, layer_cases.full_update_cases(rng), _full_update_mistake)
