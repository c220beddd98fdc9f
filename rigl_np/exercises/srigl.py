"""Grader of exercise 6: SRigL's regrowth to a constant fan-in.

SRigL paper (Lasby et al., ICLR 2024), the grow step of its update: after the drop, every
neuron that survives (is not ablated) grows new inputs until it has exactly ``fan_in`` of them,
choosing the largest |G| among its *own* inputs that were not kept (just-dropped ones
included); ablated neurons grow nothing (docs/semantics.md "SRigL", step 5). One row of a
weight is one neuron's fan-in: ``w[i]`` for Linear (out, in), ``w[i].ravel()`` for Conv2d
(out, in, kh, kw).
- srigl_grow: fn(grad, kept, ablated, fan_in) -> grown (boolean, the shape of ``grad``).
Each row is judged as a top-k selection (``judge.selection_problem``), so any choice among
exactly equal scores passes; the library's ``rigl_np.srigl.grow_to_fan_in`` is the reference.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.exercises import layer_cases
from rigl_np.exercises.answers import as_mask
from rigl_np.exercises.judge import selection_problem
from rigl_np.exercises.result import grade
from rigl_np.srigl import grow_to_fan_in


def _rows(*arrays):
    """The (out, fan_in) view of each array."""
    return [a.reshape(a.shape[0], -1) for a in arrays]


def _row_problems(score, free, need, grown) -> list:
    """(row, Problem) for every row whose growth is not a top-need[r] of ``score`` in ``free``."""
    problems = [(r, selection_problem(score[r], free[r], int(need[r]), grown[r]))
                for r in range(score.shape[0])]
    return [(r, p) for r, p in problems if p is not None]


def _srigl_mistake(case, answer):
    grad, kept, ablated, fan_in = case.args.values()
    grown = as_mask(answer, kept.shape, case, "the boolean mask of grown inputs")
    xp = backend.array_module(grad, kept)
    g, k, gr = _rows(grad, kept, grown)                            # (out, fan_in) each
    score = xp.abs(g)
    need = xp.where(ablated, 0, fan_in - k.sum(axis=1))            # (out,)
    problems = _row_problems(score, ~k, need, gr)
    if not problems:
        return None
    if (gr & k).any():
        return ("you grew inputs the drop step kept: each neuron grows among its own inputs "
                f"that were not kept (row {int(xp.argwhere(gr & k)[0][0])})")
    if gr[ablated].any():
        return (f"ablated neurons grow nothing: leave their rows empty (row "
                f"{int(xp.flatnonzero(ablated & gr.any(axis=1))[0])})")
    free = ~k & ~ablated[:, None]
    if selection_problem(score, free, int(need.sum()), gr) is None:
        return ("you took the largest |G| over the whole layer: each neuron grows among its own "
                "inputs, up to exactly fan_in")
    ends = k.sum(axis=1) + gr.sum(axis=1)                          # (out,) inputs after growth
    most = xp.minimum(fan_in, (~k).sum(axis=1))                   # (out,) fan_in, or all free
    if bool((gr.sum(axis=1) == most)[~ablated].all()) and bool((need < most)[~ablated].any()):
        return ("grow each surviving neuron up to fan_in inputs in total, fan_in - (inputs it "
                "kept) new ones, not fan_in new ones")
    short = [r for r in range(len(ablated)) if not ablated[r] and ends[r] != fan_in]
    if short:
        return (f"row {short[0]} ends with {int(ends[short[0]])} inputs: every surviving neuron "
                f"must end with exactly fan_in = {fan_in} (kept + grown)")
    if not _row_problems(-score, ~k, need, gr):
        return "you grew the smallest |G| of each row: grow takes the largest"
    if not _row_problems(g, ~k, need, gr):
        return "you ranked G, not |G|: a large negative gradient is as strong a signal"
    r, problem = problems[0]
    return (f"in row {r} you grew input {problem.at[0]} (|G| = "
            f"{float(score[r][problem.at]):.4g}) but not input {problem.other[0]} (|G| = "
            f"{float(score[r][problem.other]):.4g}): grow the largest |G| among the row's "
            "inputs not kept")


def _srigl_same(case, answer) -> bool:
    grad, kept, ablated, fan_in = case.args.values()
    xp = backend.array_module(grad, kept)
    g, k = _rows(grad, kept)
    reference = grow_to_fan_in(g, k, ablated, fan_in).reshape(kept.shape)
    return bool(xp.array_equal(backend.to_numpy(answer), reference))


def grade_srigl_grow(fn, rng) -> str:
    """Exercise 6: fn(grad, kept, ablated, fan_in) -> grown."""
    return grade(fn, layer_cases.srigl_cases(rng), _srigl_mistake, _srigl_same)
