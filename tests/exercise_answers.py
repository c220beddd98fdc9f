"""Answers to the exercises for the grader tests: rigl_np's own (``LIBRARY``), right answers in
the styles students write (``RIGHT``: loops, lists, float32, textbook argsorts, other tie
choices, answers that write into their arguments), and the building blocks the catalogue of
wrong answers (tests/exercise_mistakes.py) shares with them."""
import heapq
import math

import numpy as np

from rigl_np.optim import SGD
from rigl_np.rigl import (apply_update, choose_grown, drop_fraction, is_update_step,
                          keep_after_drop, rigl_update)
from rigl_np.sparsity import layer_densities
from rigl_np.srigl import grow_to_fan_in


def library_full_update(weight, mask, grad, momentum, f):
    result = rigl_update(weight, mask, grad, f)
    params, masks = {"w": weight.copy()}, {"w": mask.copy()}   # apply_update writes into them
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    optimizer.state["w"]["momentum"][...] = momentum
    apply_update(params, masks, "w", result, optimizer)
    return params["w"], masks["w"], optimizer.state["w"]["momentum"]


def rows(a, n):
    return a.reshape(n, -1)


LIBRARY = {
    "drop": lambda w, m, k: keep_after_drop(np.abs(w), m, int(m.sum()) - k),
    "grow": lambda g, kept, k: choose_grown(np.abs(g), kept, k),
    "drop_fraction": drop_fraction,
    "update_steps": is_update_step,
    "erk": layer_densities,
    "rigl_update": lambda w, m, g, f: rigl_update(w, m, g, f).mask,
    "full_update": library_full_update,
    "srigl_grow": lambda g, kept, ablated, fan_in: grow_to_fan_in(
        rows(g, len(ablated)), rows(kept, len(ablated)), ablated, fan_in).reshape(kept.shape),
}


# -- building blocks -------------------------------------------------------------------------

def top(score, candidates, k, tie_order=None):
    """The k candidates with the largest score; ties by ``tie_order`` (default: flat index)."""
    index = np.flatnonzero(candidates)
    order = np.lexsort((index if tie_order is None else tie_order[index],
                        -score.ravel()[index]))
    chosen = np.zeros(score.size, dtype=bool)
    chosen[index[order[:k]]] = True
    return chosen.reshape(score.shape)


def everywhere(a):
    return np.ones(a.shape, dtype=bool)


def update(w, m, g, f, k_of=math.floor, regrow=True, g_abs=True, grow=True, rank_all=False):
    n = int(m.sum())
    k = min(k_of(f * n), n)
    # rank_all: the drop ranks |W * M| over every position (inactive ones score 0)
    kept = top(np.abs(w * m), everywhere(m), n - k) if rank_all else top(np.abs(w), m, n - k)
    if not grow:
        return kept
    return kept | top(np.abs(g) if g_abs else g, ~kept if regrow else ~m, k)


def full(w, m, g, mom, f, zero_init=True, reset=True, reset_regrown=False, mask_out=True,
         regrow=True, rank_all=False):
    new_mask = update(w, m, g, f, regrow=regrow, rank_all=rank_all)
    k = math.floor(f * int(m.sum()))
    grown = new_mask & ~top(np.abs(w), m, int(m.sum()) - k)
    hit = grown if reset_regrown else new_mask & ~m
    w, mom = w.copy(), mom.copy()
    if zero_init:
        w[hit] = 0
    if reset:
        mom[hit] = 0
    if mask_out:
        w, mom = w * new_mask, mom * new_mask
    return w, new_mask, mom


def erk(shapes, d, loop=True, clip=False, subtract=True, rounds=None, pick=None, all_over=False):
    """ERK with the budget d * N in floats, as the paper writes it; ``pick(over, raw, size)``
    chooses the layer made dense (default: the largest r_l among those that overflow)."""
    raw = {n: sum(s) / math.prod(s) for n, s in shapes.items()}
    size = {n: math.prod(s) for n, s in shapes.items()}
    dense, done = set(), 0
    while True:
        sparse = [n for n in shapes if n not in dense]
        rhs = d * sum(size[n] for n in sparse)
        if subtract:
            rhs -= (1 - d) * sum(size[n] for n in dense)
        eps = rhs / sum(raw[n] * size[n] for n in sparse)
        over = [n for n in sparse if eps * raw[n] > 1]
        done += 1
        if not over or not loop or (rounds and done > rounds):
            break
        if all_over:
            dense |= set(over)
        else:
            dense.add(pick(sparse, raw, size) if pick else max(over, key=raw.get))
    out = {n: 1.0 if n in dense else eps * raw[n] for n in shapes}
    return {n: min(v, 1.0) for n, v in out.items()} if clip else out


def srigl(g, kept, ablated, fan_in, across=False, fan_in_new=False, in_ablated=False,
          g_abs=True, with_kept=False, extra=0):
    n = len(ablated)
    score, kept2 = (np.abs(rows(g, n)) if g_abs else rows(g, n)), rows(kept, n)
    if with_kept:                                 # kept inputs scored 0, but still ranked
        score = score * ~kept2
    if across:
        need = sum(fan_in - int(kept2[r].sum()) for r in range(n) if not ablated[r])
        return top(score, ~kept2 & ~ablated[:, None], need).reshape(kept.shape)
    grown = np.zeros_like(kept2)
    for r in range(n):
        if ablated[r] and not in_ablated:
            continue
        need = fan_in if fan_in_new or ablated[r] else fan_in - int(kept2[r].sum()) + extra
        candidates = np.ones(kept2.shape[1], bool) if with_kept else ~kept2[r]
        grown[r] = top(score[r], candidates, max(0, min(need, int(candidates.sum()))))
    return grown.reshape(kept.shape)


# -- right answers in other styles ------------------------------------------------------------

def drop_other_ties(w, m, k):            # among equal |W|, keep the higher flat index first
    return top(np.abs(w), m, int(m.sum()) - k, tie_order=-np.arange(m.size))


def drop_argsort(w, m, k):               # the textbook: sort the active |W| ascending, drop k
    active = np.flatnonzero(m)
    dropped = active[np.argsort(np.abs(w.ravel()[active]))[:k]]   # quicksort: any tie order
    kept = m.copy().ravel()
    kept[dropped] = False
    return kept.reshape(m.shape)


def drop_loops(w, m, k):                 # plain Python over lists, returned as a nested list
    flat_w, flat_m = w.ravel().tolist(), m.ravel().tolist()
    active = sorted((abs(x), i) for i, (x, on) in enumerate(zip(flat_w, flat_m)) if on)
    dropped = {i for _, i in active[:k]}
    kept = [on and i not in dropped for i, on in enumerate(flat_m)]
    return np.array(kept).reshape(m.shape).tolist()


def drop_in_place(w, m, k):              # writes the answer into its argument: a warning only
    m.ravel()[drop_argsort(w, m, k).ravel() != m.ravel()] = False
    return m


def grow_random_ties(g, kept, k):
    return top(np.abs(g), ~kept, k, tie_order=np.random.default_rng(k).permutation(g.size))


def grow_argsort(g, kept, k):            # -inf for kept, argsort descending, first k
    score = np.where(kept, -np.inf, np.abs(g.astype(np.float32)))
    grown = np.zeros(g.size, dtype=bool)
    grown[np.argsort(-score, axis=None)[:k]] = True
    return grown.reshape(g.shape)


def grow_heap(g, kept, k):               # heapq over (|g|, index) of the free positions
    free = [(abs(float(x)), i) for i, (x, on) in enumerate(zip(g.ravel(), kept.ravel())) if not on]
    grown = np.zeros(g.size, dtype=bool)
    grown[[i for _, i in heapq.nlargest(k, free)]] = True
    return grown.reshape(g.shape)


def grow_argpartition(g, kept, k):       # argpartition, guarded at k = 0 and k = all free
    free = np.flatnonzero(~kept)
    grown = np.zeros(g.size, dtype=bool)
    if 0 < k < free.size:
        grown[free[np.argpartition(-np.abs(g.ravel()[free]), k - 1)[:k]]] = True
    elif k:
        grown[free] = True
    return grown.reshape(g.shape)


def rigl_update_textbook(w, m, g, f):    # exercise 1 and 2 answers in the argsort style
    k = math.floor(f * m.sum())
    kept = drop_argsort(w, m, k)
    return kept | grow_argsort(g, kept, k)


def rigl_update_loops(w, m, g, f):
    k = math.floor(f * int(m.sum()))
    kept = np.array(drop_loops(w, m, k))
    return kept | grow_heap(g, kept, k)


def full_update_textbook(w, m, g, mom, f):   # the example: ascending argsort's ties
    new_mask = rigl_update_textbook(w, m, g, f)
    new = new_mask & ~m
    w, mom = np.where(new, 0, w) * new_mask, np.where(new, 0, mom) * new_mask
    return w.astype(np.float32), new_mask, mom.astype(np.float32)


def full_update_in_place(w, m, g, mom, f):   # writes into w and mom, returns a list
    new_mask = rigl_update_loops(w, m, g, f)
    w[~(m & new_mask)] = 0
    mom[~(m & new_mask)] = 0
    return [w, new_mask, mom]


def full_update_float64(w, m, g, mom, f):    # other ties, float64 arrays, np.where
    k = math.floor(f * m.sum())
    kept = drop_other_ties(w, m, k)
    new_mask = kept | grow_random_ties(g, kept, k)
    stays = m & new_mask
    return (np.where(stays, w.astype(np.float64), 0.0), new_mask,
            np.where(stays, mom.astype(np.float64), 0.0))


def srigl_flipped(g, kept, ablated, fan_in):     # ties: higher input index first
    n = len(ablated)
    return np.flip(srigl(np.flip(rows(g, n), 1), np.flip(rows(kept, n), 1), ablated, fan_in),
                   1).reshape(kept.shape)


def srigl_loops(g, kept, ablated, fan_in):       # a loop over rows, sorted() per row
    n = len(ablated)
    grads, keeps = rows(g, n).tolist(), rows(kept, n).tolist()
    grown = []
    for r in range(n):
        need = 0 if ablated[r] else fan_in - sum(keeps[r])
        free = sorted(((-abs(x), i) for i, (x, on) in enumerate(zip(grads[r], keeps[r]))
                       if not on))
        chosen = {i for _, i in free[:need]}
        grown.append([i in chosen for i in range(len(grads[r]))])
    return np.array(grown).reshape(kept.shape)


def srigl_argsort(g, kept, ablated, fan_in):     # a stable argsort of -|G| per row
    n = len(ablated)
    score = np.where(rows(kept, n), -1.0, np.abs(rows(g, n)))
    order = np.argsort(-score, axis=1, kind="stable")
    need = np.where(ablated, 0, fan_in - rows(kept, n).sum(axis=1))
    grown = np.arange(score.shape[1])[None, :] < need[:, None]      # the first need of each row
    out = np.zeros_like(grown)
    np.put_along_axis(out, order, grown, axis=1)
    return out.reshape(kept.shape)


def erk_arrays(shapes, d):               # numpy float32 densities
    return {n: np.float32(v) for n, v in erk(shapes, d).items()}


RIGHT = [  # (exercise, style, function)
    ("drop", "other tie order", drop_other_ties),
    ("drop", "textbook argsort", drop_argsort),
    ("drop", "loops, a nested list", drop_loops),
    ("drop", "in place", drop_in_place),
    ("grow", "random tie order", grow_random_ties),
    ("grow", "argsort with -inf", grow_argsort),
    ("grow", "heapq", grow_heap),
    ("grow", "guarded argpartition", grow_argpartition),
    ("drop_fraction", "float32",
     lambda t, a, T: np.float32(a / 2 * (1 + np.cos(np.float32(np.pi * t / T)))) if t < T
     else np.float32(0)),
    ("drop_fraction", "one-element array",
     lambda t, a, T: np.array([0.0 if t >= T else a / 2 * (1 + math.cos(math.pi * t / T))])),
    ("drop_fraction", "min(t, T)", lambda t, a, T: a / 2 * (1 + math.cos(math.pi * min(t, T) / T))),
    ("update_steps", "np.bool_", lambda t, d, T: np.bool_(0 < t < T and t % d == 0)),
    ("update_steps", "range", lambda t, d, T: t in range(d, T, d)),
    ("update_steps", "one-element array", lambda t, d, T: np.array([0 < t < T and t % d == 0])),
    ("erk", "paper's budget d * N", erk),
    ("erk", "every overflowing layer dense at once", lambda s, d: erk(s, d, all_over=True)),
    ("erk", "float32 values", erk_arrays),
    ("rigl_update", "other tie orders", lambda w, m, g, f: (lambda kept: kept | grow_random_ties(
        g, kept, int(m.sum()) - int(kept.sum())))(drop_other_ties(w, m, math.floor(f * m.sum())))),
    ("rigl_update", "textbook argsorts", rigl_update_textbook),
    ("rigl_update", "loops", rigl_update_loops),
    ("full_update", "textbook argsorts", full_update_textbook),
    ("full_update", "in place, a list", full_update_in_place),
    ("full_update", "other ties, float64", full_update_float64),
    ("srigl_grow", "flipped ties", srigl_flipped),
    ("srigl_grow", "loops", srigl_loops),
    ("srigl_grow", "stable argsort per row", srigl_argsort),
]
