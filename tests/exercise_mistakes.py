"""Wrong answers to the exercises, written the way students write them, each with the key of
the grader's catalogue (``rigl_np.exercises.CATALOGUES``) its message must name; None for a
mistake the grader reports without a catalogue name (an exception it raises)."""
import math

import numpy as np

from exercise_answers import (drop_argsort, erk, everywhere, full, full_update_textbook,
                              grow_argsort, srigl, top, update)
from rigl_np.sparsity import layer_densities


def _slice_minus_k(w, m, k):
    active = np.flatnonzero(m)
    order = active[np.argsort(-np.abs(w.ravel()[active]), kind="stable")]
    kept = np.zeros(m.size, dtype=bool)
    kept[order[:-k]] = True                                 # empty when k = 0
    return kept.reshape(m.shape)


def _ties_kept(w, m, k):
    if k == 0:
        return m.copy()
    threshold = np.sort(np.abs(w[m]))[k] if k < m.sum() else np.inf
    return m & (np.abs(w) >= threshold)


def _drop_nonzero(w, m, k):              # active = weight != 0: active zeros always dropped
    active = m & (w != 0)
    return top(np.abs(w), active, min(int(m.sum()) - k, int(active.sum())))


def _drop_not_dropped(w, m, k):          # ~dropped over the whole layer
    return ~(m & ~drop_argsort(w, m, k))


def _drop_everywhere(w, m, k):           # the k smallest |W| of every position
    return m & ~top(-np.abs(w), everywhere(m), k)


def _grow_slice(g, kept, k):             # ascending argsort, the last k: all of it at k = 0
    order = np.argsort(np.where(kept, -np.inf, np.abs(g)), axis=None, kind="stable")
    grown = np.zeros(g.size, dtype=bool)
    grown[order[-k:]] = True
    return grown.reshape(g.shape)


def _grow_ties(g, kept, k):              # >= the k-th largest free |G|
    threshold = np.sort(np.abs(g[~kept]))[::-1][k - 1] if k else np.inf
    return ~kept & (np.abs(g) >= threshold)


def _grow_argpartition(g, kept, k):      # unguarded: k = every free position is out of range
    free = np.flatnonzero(~kept)
    grown = np.zeros(g.size, dtype=bool)
    grown[free[np.argpartition(-np.abs(g.ravel()[free]), k)[:k]]] = True
    return grown.reshape(g.shape)


def _update_slice(w, m, g, f):           # kept = sorted[:-k]: nothing kept at k = 0
    k = math.floor(f * m.sum())
    kept = _slice_minus_k(w, m, k)
    return kept | top(np.abs(g), ~kept, k)


def _update_grow_everywhere(w, m, g, f):
    k = math.floor(f * m.sum())
    kept = top(np.abs(w), m, int(m.sum()) - k)
    return kept | top(np.abs(g), everywhere(m), k)


def _update_only_grown(w, m, g, f):
    k = math.floor(f * m.sum())
    return top(np.abs(g), ~top(np.abs(w), m, int(m.sum()) - k), k)


def _full_reset_all(w, m, g, mom, f):    # momentum reset for every connection of the new mask
    new_w, new_mask, _ = full_update_textbook(w, m, g, mom, f)
    return new_w, new_mask, np.zeros_like(mom)


def _full_zero_dropped_only(w, m, g, mom, f):   # zeroes the dropped ones, not W * M
    new_mask = update(w, m, g, f)
    new, gone = new_mask & ~m, m & ~new_mask
    w, mom = w.copy(), mom.copy()
    w[new | gone], mom[new | gone] = 0, 0
    return w, new_mask, mom


def _full_step(w, m, g, mom, f):         # an SGD step (weight decay 5e-4) on the update batch
    new_w, new_mask, new_mom = full_update_textbook(w, m, g, mom, f)
    step = 0.1 * (g + 5e-4 * new_w) * (m & new_mask)
    return (new_w - step).astype(np.float32), new_mask, new_mom


def _srigl_columns(g, kept, ablated, fan_in):   # the TF layout: neurons as columns
    n = len(ablated)
    g2, k2 = np.abs(g.reshape(n, -1)), kept.reshape(n, -1)
    grown = np.zeros_like(k2)
    for j in range(n):
        if ablated[j]:
            continue
        need = max(0, min(fan_in - int(k2[:, j].sum()), int((~k2[:, j]).sum())))
        grown[:, j] = top(g2[:, j], ~k2[:, j], need)
    return grown.reshape(kept.shape)


def _srigl_union(*a):
    return srigl(*a) | a[1]


def _pick_smallest(sparse, raw, size):
    return min(sparse, key=size.get)


def _pick_last(sparse, raw, size):
    return sparse[-1]


def _pick_first(sparse, raw, size):
    return sparse[0]


def _cos(t, a, T):
    return a / 2 * (1 + math.cos(math.pi * t / T))


def _before(f):                          # a wrong schedule, 0 from T_end on
    return lambda t, a, T: f(t, a, T) if t < T else 0.0


MISTAKES = [  # (exercise, mistake, function, catalogue key)
    ("drop", "ranked all positions",
     lambda w, m, k: top(np.abs(w), everywhere(m), int(m.sum()) - k), "ranked_inactive"),
    ("drop", "ranked |W * M| everywhere",
     lambda w, m, k: top(np.abs(w * m), everywhere(m), int(m.sum()) - k), "ranked_inactive"),
    ("drop", "dropped the largest", lambda w, m, k: top(-np.abs(w), m, int(m.sum()) - k),
     "dropped_largest"),
    ("drop", "forgot abs", lambda w, m, k: top(w, m, int(m.sum()) - k), "abs"),
    ("drop", "k off by one", lambda w, m, k: top(np.abs(w), m, max(int(m.sum()) - k - 1, 0)),
     "off_by_one"),
    ("drop", "returned the dropped", lambda w, m, k: top(-np.abs(w), m, k), "returned_dropped"),
    ("drop", "kept the k largest", lambda w, m, k: top(np.abs(w), m, k), "kept_k"),
    ("drop", "a[:-k] with k = 0", _slice_minus_k, "k_zero"),
    ("drop", "kept all ties", _ties_kept, "ties_kept"),
    ("drop", "active = weight != 0", _drop_nonzero, "active_zeros"),
    ("drop", "returned ~dropped", _drop_not_dropped, "inactive_in_kept"),
    ("drop", "dropped among every position", _drop_everywhere, "dropped_inactive"),
    ("grow", "ranked kept positions", lambda g, kept, k: top(np.abs(g), everywhere(kept), k),
     "ranked_kept"),
    ("grow", "kept scored 0 but ranked",
     lambda g, kept, k: top(np.abs(g) * ~kept, everywhere(kept), k), "ranked_kept"),
    ("grow", "grew the smallest", lambda g, kept, k: top(-np.abs(g), ~kept, k), "grew_smallest"),
    ("grow", "forgot abs", lambda g, kept, k: top(g, ~kept, k), "abs"),
    ("grow", "non-zero gradients only",
     lambda g, kept, k: top(np.abs(g), ~kept & (g != 0), min(k, int((~kept & (g != 0)).sum()))),
     "zero_gradients"),
    ("grow", "k off by one", lambda g, kept, k: top(np.abs(g), ~kept, k + 1), "off_by_one"),
    ("grow", "order[-k:] with k = 0", _grow_slice, "k_zero"),
    ("grow", "grew all ties", _grow_ties, "ties_grown"),
    ("grow", "returned kept | grown", lambda g, kept, k: kept | grow_argsort(g, kept, k),
     "returned_union"),
    ("grow", "returned ~kept", lambda g, kept, k: ~kept, "returned_free"),
    ("grow", "unguarded argpartition", _grow_argpartition, None),
    ("drop_fraction", "starts at alpha/2",
     _before(lambda t, a, T: a / 2 * math.cos(math.pi * t / T)), "starts_half"),
    ("drop_fraction", "sin", _before(lambda t, a, T: a / 2 * (1 + math.sin(math.pi * t / T))),
     "sin"),
    ("drop_fraction", "linear", _before(lambda t, a, T: a * (1 - t / T)), "linear"),
    ("drop_fraction", "not 0 after T_end", _cos, "after_t_end"),
    ("drop_fraction", "integer division",
     _before(lambda t, a, T: a / 2 * (1 + math.cos(math.pi * (t // T)))), "floor_division"),
    ("drop_fraction", "constant", _before(lambda t, a, T: a), "floor_division"),
    ("drop_fraction", "no pi", _before(lambda t, a, T: a / 2 * (1 + math.cos(t / T))), "no_pi"),
    ("drop_fraction", "alpha fixed at 0.3", _before(lambda t, a, T: _cos(t, 0.3, T)),
     "fixed_alpha"),
    ("drop_fraction", "a percent", _before(lambda t, a, T: 100 * _cos(t, a, T)), "percent"),
    ("drop_fraction", "1 - f", _before(lambda t, a, T: 1 - _cos(t, a, T)), "kept_fraction"),
    ("drop_fraction", "t + 1", _before(lambda t, a, T: _cos(t + 1, a, T)), "step_ahead"),
    ("drop_fraction", "t - 1", _before(lambda t, a, T: _cos(t - 1, a, T)), "step_behind"),
    ("drop_fraction", "1 - cos", _before(lambda t, a, T: a / 2 * (1 - math.cos(math.pi * t / T))),
     "wrong_phase"),
    ("drop_fraction", "2 pi", _before(lambda t, a, T: _cos(2 * t, a, T)), "wrong_phase"),
    ("drop_fraction", "a quarter period",
     _before(lambda t, a, T: a * math.cos(math.pi * t / (2 * T))), "wrong_phase"),
    ("update_steps", "updates at T_end", lambda t, d, T: 0 < t <= T and t % d == 0, "at_t_end"),
    ("update_steps", "updates at 0", lambda t, d, T: t < T and t % d == 0, "at_zero"),
    ("update_steps", "updates at 0 and T_end", lambda t, d, T: t <= T and t % d == 0,
     "at_both_ends"),
    ("update_steps", "one step off", lambda t, d, T: 0 < t < T and (t + 1) % d == 0, "one_off"),
    ("update_steps", "counted from 0", lambda t, d, T: 0 < t < T and (t - 1) % d == 0,
     "one_off"),
    ("update_steps", "never stops", lambda t, d, T: t > 0 and t % d == 0, "never_stops"),
    ("update_steps", "every step", lambda t, d, T: 0 < t < T, "every_step"),
    ("update_steps", "delta_t as a number of updates",
     lambda t, d, T: 0 < t < T and t % (T // d) == 0, "count_of_updates"),
    ("erk", "no overflow loop", lambda s, d: erk(s, d, loop=False), "not_dense"),
    ("erk", "one extra pass only", lambda s, d: erk(s, d, rounds=1), "not_dense"),
    ("erk", "capped at 1, not solved again", lambda s, d: erk(s, d, loop=False, clip=True),
     "budget_low"),
    ("erk", "dense layers' zeros not subtracted", lambda s, d: erk(s, d, subtract=False),
     "budget_high"),
    ("erk", "ER's dims", lambda s, d: layer_densities(s, d, "er"), "er"),
    ("erk", "uniform", lambda s, d: {n: d for n in s}, "uniform"),
    ("erk", "sparsity for density", lambda s, d: erk(s, 1 - d), "sparsity"),
    ("erk", "the smallest layer made dense", lambda s, d: erk(s, d, pick=_pick_smallest),
     "wrong_dense"),
    ("erk", "the last layer made dense", lambda s, d: erk(s, d, pick=_pick_last), "wrong_dense"),
    ("erk", "the first layer made dense", lambda s, d: erk(s, d, pick=_pick_first),
     "wrong_dense"),
    ("erk", "solved for d - 1", lambda s, d: erk(s, d - 1), "not_positive"),
    ("erk", "r_l = sum of dims", lambda s, d: (lambda r: {n: d * sum(r.values()) / len(r) / v
                                                         for n, v in r.items()})(
        {n: float(sum(x)) for n, x in s.items()}), "proportional"),
    ("rigl_update", "excluded just-dropped", lambda w, m, g, f: update(w, m, g, f, regrow=False),
     "just_dropped"),
    ("rigl_update", "k rounded up", lambda w, m, g, f: update(w, m, g, f, k_of=math.ceil),
     "rounded"),
    ("rigl_update", "k rounded to nearest", lambda w, m, g, f: update(w, m, g, f, k_of=round),
     "rounded"),
    ("rigl_update", "k from the layer size",
     lambda w, m, g, f: update(w, m, g, f, k_of=lambda x: math.floor(x / m.sum() * m.size)),
     "layer_size"),
    ("rigl_update", "grew by G", lambda w, m, g, f: update(w, m, g, f, g_abs=False), "abs_g"),
    ("rigl_update", "dropped by W", lambda w, m, g, f: (lambda kept: kept | top(
        np.abs(g), ~kept, int(m.sum()) - int(kept.sum())))(top(w, m, int(m.sum()) - math.floor(
            f * m.sum()))), "abs_w"),
    ("rigl_update", "ranked |W * M| everywhere",
     lambda w, m, g, f: update(w, m, g, f, rank_all=True), "ranked_inactive"),
    ("rigl_update", "no growth", lambda w, m, g, f: update(w, m, g, f, grow=False), "no_growth"),
    ("rigl_update", "no drop", lambda w, m, g, f: m | top(np.abs(g), ~m, math.floor(f * m.sum())),
     "no_drop"),
    ("rigl_update", "dropped the largest", lambda w, m, g, f: (lambda kept: kept | top(
        np.abs(g), ~kept, int(m.sum()) - int(kept.sum())))(top(-np.abs(w), m, int(m.sum()) -
                                                               math.floor(f * m.sum()))),
     "dropped_largest"),
    ("rigl_update", "grew the smallest",
     lambda w, m, g, f: update(w, m, -np.abs(g), f, g_abs=False),
     "grew_smallest"),
    ("rigl_update", "grew among every position", _update_grow_everywhere, "grew_kept"),
    ("rigl_update", "returned the grown only", _update_only_grown, "only_grown"),
    ("rigl_update", "sorted[:-k] with k = 0", _update_slice, "k_zero"),
    ("full_update", "no zero-init", lambda *a: full(*a, zero_init=False), "zero_init"),
    ("full_update", "no momentum reset", lambda *a: full(*a, reset=False), "reset"),
    ("full_update", "reset regrown-same", lambda *a: full(*a, reset_regrown=True), "regrown"),
    ("full_update", "dropped not zeroed", lambda *a: full(*a, mask_out=False), "dropped"),
    ("full_update", "momentum reset everywhere", _full_reset_all, "kept"),
    ("full_update", "an SGD step on the update batch", _full_step, "kept"),
    ("full_update", "only new and dropped zeroed", _full_zero_dropped_only, "inactive"),
    ("full_update", "ranked |W * M| everywhere", lambda *a: full(*a, rank_all=True),
     "ranked_inactive"),
    ("full_update", "excluded just-dropped", lambda *a: full(*a, regrow=False), "just_dropped"),
    ("srigl_grow", "across rows", lambda *a: srigl(*a, across=True), "across_rows"),
    ("srigl_grow", "fan_in new per row", lambda *a: srigl(*a, fan_in_new=True), "fan_in_new"),
    ("srigl_grow", "grew in ablated rows", lambda *a: srigl(*a, in_ablated=True), "in_ablated"),
    ("srigl_grow", "forgot abs", lambda *a: srigl(*a, g_abs=False), "abs"),
    ("srigl_grow", "kept scored 0 but ranked", lambda *a: srigl(*a, with_kept=True), "grew_kept"),
    ("srigl_grow", "grew the smallest", lambda g, *a: srigl(-np.abs(g), *a, g_abs=False),
     "smallest"),
    ("srigl_grow", "one input too many", lambda *a: srigl(*a, extra=1), "wrong_count"),
    ("srigl_grow", "columns as neurons", _srigl_columns, "columns"),
    ("srigl_grow", "returned kept | grown", _srigl_union, "returned_union"),
]

# nm_regrow's wrong answers are written next to its right ones (test_exercises_nm.py)
from test_exercises_nm import MISTAKES as _NM  # noqa: E402

MISTAKES += [("nm_regrow", key.replace("_", " "), fn, key) for key, fn in sorted(_NM.items())]
