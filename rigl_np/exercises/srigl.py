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
from rigl_np.exercises.result import grade, named
from rigl_np.srigl import grow_to_fan_in


def _rows(*arrays):
    """The (out, fan_in) view of each array."""
    return [a.reshape(a.shape[0], -1) for a in arrays]


def _row_problems(score, free, need, grown) -> list:
    """(row, Problem) for every row whose growth is not a top-need[r] of ``score`` in ``free``."""
    problems = [(r, selection_problem(score[r], free[r], int(need[r]), grown[r]))
                for r in range(score.shape[0])]
    return [(r, p) for r, p in problems if p is not None]


CATALOGUE = {  # the mistakes the srigl_grow grader names
    "returned_union": "you returned kept | grown: return only the grown inputs (the update adds "
                      "them to `kept` itself)",
    "columns": "you took columns as neurons: a weight is (out, in), so row i (w[i], all of its "
               "inputs) is neuron i's fan-in, and `ablated` has one entry per row (the TF "
               "code's (in, out) kernels are the transpose)",
    "grew_kept": "you grew inputs the drop step kept: each neuron grows among its own inputs "
                 "that were not kept (row {row}); setting their score to 0 is not enough when "
                 "gradients are 0",
    "in_ablated": "ablated neurons grow nothing: leave their rows empty (row {row})",
    "across_rows": "you took the largest |G| over the whole layer: each neuron grows among its "
                   "own inputs, up to exactly fan_in",
    "fan_in_new": "grow each surviving neuron up to fan_in inputs in total, fan_in - (inputs it "
                  "kept) new ones, not fan_in new ones",
    "wrong_count": "row {row} ends with {count} inputs: every surviving neuron must end with "
                   "exactly fan_in = {fan_in} (kept + grown)",
    "smallest": "you grew the smallest |G| of each row: grow takes the largest",
    "abs": "you ranked G, not |G|: a large negative gradient is as strong a signal",
}


def _as_columns(score, k, ablated, fan_in: int, gr) -> bool:
    """Whether ``gr`` is the regrowth of columns 0..out-1 taken as the neurons."""
    n = len(ablated)
    if n > score.shape[1] or gr[:, n:].any():
        return False
    xp = backend.array_module(score, k)
    cs, ck, cg = score[:, :n].T, k[:, :n].T, gr[:, :n].T           # (out, out) each
    need = xp.where(ablated, 0, xp.clip(fan_in - ck.sum(axis=1), 0, (~ck).sum(axis=1)))
    return not _row_problems(cs, ~ck, need, cg)


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
    if k.any() and bool((gr | ~k).all()) and not _row_problems(score, ~k, need, gr & ~k):
        return named(CATALOGUE, "returned_union")
    if _as_columns(score, k, ablated, fan_in, gr):
        return named(CATALOGUE, "columns")
    if (gr & k).any():
        return named(CATALOGUE, "grew_kept", row=int(xp.argwhere(gr & k)[0][0]))
    if gr[ablated].any():
        return named(CATALOGUE, "in_ablated",
                     row=int(xp.flatnonzero(ablated & gr.any(axis=1))[0]))
    free = ~k & ~ablated[:, None]
    if selection_problem(score, free, int(need.sum()), gr) is None:
        return named(CATALOGUE, "across_rows")
    ends = k.sum(axis=1) + gr.sum(axis=1)                          # (out,) inputs after growth
    most = xp.minimum(fan_in, (~k).sum(axis=1))                   # (out,) fan_in, or all free
    if bool((gr.sum(axis=1) == most)[~ablated].all()) and bool((need < most)[~ablated].any()):
        return named(CATALOGUE, "fan_in_new")
    short = [r for r in range(len(ablated)) if not ablated[r] and ends[r] != fan_in]
    if short:
        return named(CATALOGUE, "wrong_count", row=short[0], count=int(ends[short[0]]),
                     fan_in=fan_in)
    if not _row_problems(-score, ~k, need, gr):
        return named(CATALOGUE, "smallest")
    if not _row_problems(g, ~k, need, gr):
        return named(CATALOGUE, "abs")
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
