"""Grader of the N:M exercise: regrow every group of M to exactly N.

docs/semantics.md "N:M", the grow step of the N:M RigL update: after the layer-wide drop, each
group (M consecutive inputs of one row; for a conv (out, in, kh, kw), M consecutive input
channels at one kernel position) grows its largest |G| among its positions not kept (just-dropped
ones included) until it holds exactly N again.
- nm_regrow: fn(grad, kept, n, m) -> grown (boolean, the shape of ``grad``).
Each group is judged as a top-k selection (``judge.selection_problem``), so any choice among
exactly equal scores passes; the library's ``rigl_np.nm.nm_regrow`` is the reference.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.exercises.answers import as_mask
from rigl_np.exercises.cases import normal, quantised
from rigl_np.exercises.judge import selection_problem
from rigl_np.exercises.result import Case, grade, named
from rigl_np.masks.nm import group_name, groups, nm_mask
from rigl_np.nm import nm_regrow

CATALOGUE = {  # the mistakes the nm_regrow grader names
    "returned_union": "you returned kept | grown: return only the grown positions",
    "flat_groups": "you cut the flattened weight into groups of m: for a conv (out, in, kh, kw) "
                   "that groups kernel positions, not input channels. A group is m consecutive "
                   "input channels at one kernel position (move the in axis last, then cut)",
    "out_groups": "you took groups along the outputs (down the columns of a (out, in) weight, "
                  "as a transposed (in, out) kernel would): a group is m consecutive inputs of "
                  "one row",
    "grew_kept": "you grew a position the drop kept (group {group}): grow only among the "
                 "positions not kept; a full group grows nothing",
    "n_new": "grow each group back to n in total, n - (what it kept) new ones, not n new ones",
    "across_groups": "you took the largest |G| over the whole layer: each group grows among its "
                     "own m positions, up to exactly n",
    "smallest": "you grew the smallest |G| of each group: grow takes the largest",
    "abs": "you ranked G, not |G|: a large negative gradient is as strong a signal",
}


def _groups_problems(score, free, need, grown) -> list:
    """(group, Problem) for every group whose growth is not a top-need[g] of ``score``."""
    found = [(g, selection_problem(score[g], free[g], int(need[g]), grown[g]))
             for g in range(score.shape[0])]
    return [(g, p) for g, p in found if p is not None]


def _valid(score, kept, grown, n, m, how) -> bool:
    """Whether ``grown`` is a correct regrowth to n when the groups are cut by ``how``."""
    xp = backend.array_module(score, kept)
    s, k, gr = how(score, m), how(kept, m), how(grown, m)
    need = xp.clip(n - k.sum(axis=1), 0, (~k).sum(axis=1))
    return not _groups_problems(s, ~k, need, gr)


def _flat(a, m):
    return a.reshape(-1, m)                                        # (size / m, m), C order


def _outputs(a, m):
    return backend.array_module(a).moveaxis(a, 0, -1).reshape(-1, m)   # m consecutive outputs


def _mistake(case, answer):
    grad, kept, n, m = case.args.values()
    grown = as_mask(answer, kept.shape, case, "the boolean mask of grown positions")
    xp = backend.array_module(grad, kept)
    score = xp.abs(grad)
    s, k, gr = groups(score, m), groups(kept, m), groups(grown, m)       # (G, m) each
    need = n - k.sum(axis=1)                                              # (G,)
    problems = _groups_problems(s, ~k, need, gr)
    if not problems:
        return None
    if k.any() and (grown | ~kept).all() and not _groups_problems(s, ~k, need, gr & ~k):
        return named(CATALOGUE, "returned_union")
    if kept.ndim == 4 and _valid(score, kept, grown, n, m, _flat):
        return named(CATALOGUE, "flat_groups")
    if _valid(score, kept, grown, n, m, _outputs):
        return named(CATALOGUE, "out_groups")
    if (gr & k).any():
        first = int(xp.flatnonzero((gr & k).any(axis=1))[0])
        return named(CATALOGUE, "grew_kept", group=group_name(first, kept.shape, m))
    free = xp.minimum(n, (~k).sum(axis=1))
    if (gr.sum(axis=1) == free).all() and (need < free).any():
        return named(CATALOGUE, "n_new")
    if selection_problem(score, ~kept, int(need.sum()), grown) is None:
        return named(CATALOGUE, "across_groups")
    if not _groups_problems(-s, ~k, need, gr):
        return named(CATALOGUE, "smallest")
    if not _groups_problems(groups(grad, m), ~k, need, gr):
        return named(CATALOGUE, "abs")
    g, problem = problems[0]
    where = group_name(g, kept.shape, m)
    if problem.kind == "count":
        return (f"group {where} ends with {int(k[g].sum()) + problem.count} active: every group "
                f"must end with exactly n = {n} (kept + grown)")
    return (f"in group {where} you grew position {problem.at[0]} (|G| = "
            f"{float(s[g][problem.at]):.4g}) but not position {problem.other[0]} (|G| = "
            f"{float(s[g][problem.other]):.4g}): grow the largest |G| among the group's "
            "positions not kept")


def _kept_after_drop(rng, shape, n, m):
    """An N:M mask after a layer-wide drop of about a third: groups full, partial and empty."""
    mask = nm_mask(shape, n, m, rng)
    drop = rng.random(shape) < 0.35
    return mask & ~drop


def cases(rng):
    """Cases for fn(grad, kept, n, m) -> grown: Linear and conv, 2:4, 1:4 and 2:8, ties, zero
    gradients, just-dropped positions with the top gradient."""
    for label, shape, n, m in (("2:4 Linear", (6, 16), 2, 4), ("1:4 Linear", (8, 12), 1, 4),
                               ("2:4 conv (out, in, kh, kw)", (4, 8, 3, 3), 2, 4),
                               ("2:8 Linear, 8 rows", (8, 16), 2, 8)):
        kept = _kept_after_drop(rng, shape, n, m)
        yield Case(label, dict(grad=normal(rng, shape), kept=kept, n=n, m=m))
    shape = (4, 8, 2, 2)
    kept = _kept_after_drop(rng, shape, 2, 4)
    grad = quantised(rng, shape)
    grad[0] = 0                                                    # a row of zero gradients
    yield Case("2:4 conv with equal |G| inside groups and a filter of zero gradients",
               dict(grad=grad, kept=kept, n=2, m=4))
    before = nm_mask((6, 8), 2, 4, rng)
    kept = before.copy()
    kept[:, :4] = False                                            # the first groups emptied
    grad = normal(rng, (6, 8))
    grad[before & ~kept] *= 100                                    # just dropped: top |G|
    yield Case("just-dropped positions with the largest |G|", dict(grad=grad, kept=kept, n=2,
                                                                   m=4))


def _same(case, answer) -> bool:
    grad, kept, n, m = case.args.values()
    xp = backend.array_module(grad, kept)
    return bool(xp.array_equal(backend.to_numpy(answer), nm_regrow(kept, xp.abs(grad), n, m)))


def grade_nm_regrow(fn, rng) -> str:
    """The N:M exercise: fn(grad, kept, n, m) -> grown."""
    return grade(fn, cases(rng), _mistake, _same)
