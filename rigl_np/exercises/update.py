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
weights and momenta are compared with ``rigl_np.rigl.apply_update`` driving ``rigl_np.optim.SGD``.
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.exercises import layer_cases
from rigl_np.exercises.answers import as_floats, as_mask, as_tuple
from rigl_np.exercises.judge import update_problem
from rigl_np.exercises.result import grade
from rigl_np.exercises.selection import RANKED_INACTIVE
from rigl_np.optim import SGD
from rigl_np.rigl import apply_update, rigl_update

JUST_DROPPED = ("just-dropped connections must be allowed to come back: grow among every "
                "position not kept by the drop step, the ones you just dropped included")


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
        return "with k = floor(f * nnz) = 0 nothing changes: return the mask unchanged"
    everywhere = xp.ones(mask.shape, dtype=bool)
    up = math.ceil(drop_fraction * n)
    by_size = min(math.floor(drop_fraction * mask.size), n)      # at most every connection
    for message, args in [
            (JUST_DROPPED, (w, mask, n - k, g, k, mask)),
            (RANKED_INACTIVE, (w, everywhere, n - k, g, k)),
            (RANKED_INACTIVE, (w * mask, everywhere, n - k, g, k)),
            ("you ranked W, not |W|, to drop: a large negative weight is a strong connection",
             (weight, mask, n - k, g, k)),
            ("you ranked G, not |G|, to grow: a large negative gradient is as strong a signal",
             (w, mask, n - k, grad, k)),
            ("you dropped the largest |W|: drop removes the k smallest", (-w, mask, n - k, g, k)),
            ("you grew the smallest |G|: grow takes the k largest", (w, mask, n - k, -g, k)),
            (f"k = floor(f * nnz) = {k}: you rounded f * nnz = {drop_fraction * n:.2f} up to {up}",
             (w, mask, n - up, g, up)),
            (f"k counts the active connections: floor(f * nnz) = {k}, not f times the layer "
             f"size ({by_size})", (w, mask, n - by_size, g, by_size)),
            ("you dropped k connections but grew none back: grow k", (w, mask, n - k, g, 0)),
            ("you grew k connections but dropped none: drop the k smallest |W| first",
             (w, mask, n, g, k))]:
        if update_problem(new_mask, *args) is None:
            return message
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


def _library_update(weight, mask, grad, momentum, drop_fraction):
    """rigl_update, then apply_update with an SGD whose momentum buffer is ``momentum``."""
    result = rigl_update(weight, mask, grad, drop_fraction)
    params, masks = {"w": weight.copy()}, {"w": mask.copy()}
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    optimizer.state["w"]["momentum"][...] = momentum
    apply_update(params, masks, "w", result, optimizer)
    return result, params["w"], optimizer.state["w"]["momentum"]


def _parameter_rule(kind: str, what: str, kept_old: bool) -> str:
    """What the ``what`` ("weight" or "momentum") of a ``kind`` of connection must be."""
    if kind == "new":
        rule = ("new connections must start at weight 0" if what == "weight"
                else "reset the momentum of new connections to 0")
        return rule + (f": yours kept the old {what} stored there" if kept_old else "")
    masked = f"must hold 0 in the {what} (W <- W * M, momentum <- momentum * M)"
    return {"regrown": "connections dropped and grown back in the same update keep their "
                       f"weight and momentum: they are not new (your {what} there changed)",
            "kept": f"kept connections keep their {what} unchanged",
            "dropped": f"dropped connections {masked}",
            "inactive": f"positions inactive before and after the update {masked}"}[kind]


def _full_update_mistake(case, answer):
    weight, mask, grad, momentum, f = case.args.values()
    xp = backend.array_module(weight, mask)
    new_weight, new_mask, new_momentum = as_tuple(
        answer, 3, "a tuple (new_weight, new_mask, new_momentum)", case)
    new_mask = as_mask(new_mask, mask.shape, case, "new_mask (the second item)")
    message = mask_mistake(weight, mask, grad, f, new_mask)
    if message is not None:
        return f"the new mask: {message}"
    result, expected_weight, expected_momentum = _library_update(weight, mask, grad, momentum, f)
    got = {"weight": (as_floats(new_weight, mask.shape, case, "new_weight (the first item)"),
                      weight, expected_weight),
           "momentum": (as_floats(new_momentum, mask.shape, case,
                                  "new_momentum (the third item)"), momentum, expected_momentum)}
    regrown = result.regrown_same
    kinds = [("new", result.new), ("regrown", regrown), ("kept", mask & result.mask & ~regrown),
             ("dropped", result.dropped & ~result.grown), ("inactive", ~mask & ~result.mask)]
    for kind, where in kinds:
        for what, (answer_, old, expected) in got.items():
            if xp.allclose(answer_[where], expected[where], rtol=1e-6, atol=1e-7):
                continue
            at = tuple(int(i) for i in xp.argwhere(where & ~xp.isclose(
                answer_, expected, rtol=1e-6, atol=1e-7))[0])
            kept_old = bool(xp.allclose(answer_[where], old[where]))
            return f"{_parameter_rule(kind, what, kept_old)} (at {at})"
    return None


def grade_full_update(fn, rng) -> str:
    """Exercise 5b: fn(weight, mask, grad, momentum, drop_fraction) -> (weight, mask, momentum)."""
    return grade(fn, layer_cases.full_update_cases(rng), _full_update_mistake)
