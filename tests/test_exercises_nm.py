"""The nm_regrow grader (rigl_np.exercises.nm): right answers in several styles pass on many
seeds (every tie choice). Its typical mistakes (``MISTAKES``, written here beside the right
answers) join tests/exercise_mistakes.py, where each must fail with its catalogue name on 300
seeds."""
import numpy as np
import pytest

from rigl_np.exercises import check
from rigl_np.masks.nm import groups, ungroup
from rigl_np.nm import nm_regrow

SEEDS = range(40)


def library(grad, kept, n, m):
    return nm_regrow(kept, np.abs(grad), n, m)


def loops(grad, kept, n, m):
    """Group by group with Python loops; ties to the *higher* channel (another valid choice)."""
    grown = np.zeros_like(kept)
    out, inputs = kept.shape[:2]
    for o in range(out):
        for pos in np.ndindex(*kept.shape[2:]):
            for j in range(0, inputs, m):
                where = [(o, c, *pos) for c in range(j, j + m)]
                free = [x for x in where if not kept[x]]
                free.sort(key=lambda x: (-abs(grad[x]), -x[1]))
                for x in free[:n - sum(bool(kept[x]) for x in where)]:
                    grown[x] = True
    return grown


def _grouped(fn):
    """An answer that regrows (G, m) rows as ``fn(score_rows, kept_rows, n)`` says."""
    def answer(grad, kept, n, m):
        return ungroup(fn(groups(np.abs(grad), m), groups(kept, m), n), kept.shape)
    return answer


def _top(score, kept, need):
    s = np.where(kept, -np.inf, score)
    order = np.argsort(-s, axis=1, kind="stable")
    ranks = np.argsort(order, axis=1)
    return (ranks < need[:, None]) & ~kept


@pytest.mark.parametrize("fn", [library, loops], ids=["library", "loops"])
def test_right_answers_pass_on_every_seed(fn):
    for seed in SEEDS:
        result = check("nm_regrow", fn, seed)
        assert result.passed, (seed, result.message)


def _flat(grad, kept, n, m):
    s, k = np.abs(grad).reshape(-1, m), kept.reshape(-1, m)
    return _top(s, k, np.clip(n - k.sum(1), 0, None)).reshape(kept.shape)


def _outputs(grad, kept, n, m):
    move = lambda a: np.moveaxis(a, 0, -1).reshape(-1, m)                  # noqa: E731
    s, k = move(np.abs(grad)), move(kept)
    grown = _top(s, k, np.clip(n - k.sum(1), 0, None))
    return np.moveaxis(grown.reshape(*kept.shape[1:], kept.shape[0]), -1, 0)


MISTAKES = {
    "returned_union": lambda grad, kept, n, m: library(grad, kept, n, m) | kept,
    "flat_groups": _flat,
    "out_groups": _outputs,
    # the kept positions not excluded: a group's top |G| may be one it already holds
    "grew_kept": _grouped(lambda s, k, n: _top(s, np.zeros_like(k), n - k.sum(1))),
    "n_new": _grouped(lambda s, k, n: _top(s, k, np.minimum(n, (~k).sum(1)))),
    "across_groups": lambda grad, kept, n, m: _across(grad, kept, n, m),
    "smallest": _grouped(lambda s, k, n: _top(-s, k, n - k.sum(1))),
    "abs": lambda grad, kept, n, m: ungroup(_top(groups(grad, m), groups(kept, m),
                                                  n - groups(kept, m).sum(1)), kept.shape),
}


def _across(grad, kept, n, m):
    need = int((n - groups(kept, m).sum(1)).sum())
    flat = np.where(kept, -np.inf, np.abs(grad)).ravel()
    grown = np.zeros(kept.size, bool)
    grown[np.argsort(-flat, kind="stable")[:need]] = True
    return grown.reshape(kept.shape)
