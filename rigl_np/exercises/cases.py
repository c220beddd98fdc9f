"""The inputs the graders try, drawn afresh from a host ``Generator`` at every check.

Each builder yields its ``Case`` one by one (a grader stops at the first wrong answer, so the
cases after it are never drawn): a few random ones and the hard ones a function must
get right (RigL paper, Section 3, and the SRigL paper's constant fan-in regrowth): ties exactly
at the k-th score, k = 0, weights that are non-zero at inactive positions, active weights that
are exactly zero, zero gradients where some zero-gradient positions must be grown, a
just-dropped connection with one of the top-k gradients, conv-shaped (out, in, kh, kw) weights,
ERK layers that overflow, and the ends of every range the signature allows (k = 0, k = all
candidates, no candidate at all, density 1). The list of cases is fixed, so every edge case is
in every grading run; every case is random in its shape and values, so a function that memorises
an example cannot pass. Arrays are float32 (weights, gradients) and bool (masks) on
the host.
"""
from __future__ import annotations

import math
from collections.abc import Iterator

from rigl_np import backend
from rigl_np.exercises.result import Case


def random_shape(rng, conv: bool = False) -> tuple:
    if conv:
        return (int(rng.integers(2, 5)), int(rng.integers(2, 4)), 3, 3)  # (out, in, kh, kw)
    return (int(rng.integers(4, 9)), int(rng.integers(5, 11)))            # (out, in)


def exact_mask(rng, shape, n_active: int):
    """A random boolean array of ``shape`` with exactly ``n_active`` True."""
    return (rng.permutation(math.prod(shape)) < n_active).reshape(shape)


def ends(shape, at_start: int, at_end: int):
    """True at the first ``at_start`` and the last ``at_end`` flat (C-order) positions."""
    position = backend.array_module().arange(math.prod(shape))
    return ((position < at_start) | (position >= position.size - at_end)).reshape(shape)


def normal(rng, shape):
    return rng.standard_normal(shape).astype("float32")


def zeros_outside(values, where):
    """``values`` where ``where`` is True, exactly +0.0 elsewhere (a product would leave -0.0)."""
    return backend.array_module(values).where(where, values, 0).astype("float32")


def quantised(rng, shape):
    """Values in {±1, ±2, ±3} / 4: many exactly equal magnitudes."""
    sign = rng.choice([-1.0, 1.0], size=shape)
    return (sign * rng.integers(1, 4, size=shape) / 4).astype("float32")


def distinct(rng, shape):
    """Values whose magnitudes are all different: a random order of 1..N, over N, random signs."""
    n = math.prod(shape)
    sign = rng.choice([-1.0, 1.0], size=shape)
    return (sign * (rng.permutation(n) + 1).reshape(shape) / n).astype("float32")


def negate_largest(values, where) -> None:
    """Among ``where``, make the largest magnitude negative and the second largest positive.

    Ranking by the signed value then keeps (or grows) the second and never the first, while
    ranking by the wrong end of |value| drops (or skips) both: the two mistakes look different.
    """
    xp = backend.array_module(values)
    order = xp.argsort(-xp.where(where, xp.abs(values), -1).ravel())
    values.flat[order[0]] = -abs(values.flat[order[0]])
    values.flat[order[1]] = abs(values.flat[order[1]])


def tie_cut(rng, magnitudes, descending: bool) -> int:
    """A k with the k-th and (k+1)-th of ``magnitudes`` (sorted) exactly equal."""
    xp = backend.array_module(magnitudes)
    s = xp.sort(magnitudes)
    s = s[::-1] if descending else s
    return int(rng.choice(xp.flatnonzero(s[1:] == s[:-1]) + 1))


def random_layer(rng, conv: bool = False):
    """weight, mask (30-50 % active), grad; weights at inactive positions are larger than any
    active one (|W| > 5), so ranking them too, or dropping among them, always shows."""
    shape = random_shape(rng, conv)
    n = math.prod(shape)
    mask = exact_mask(rng, shape, int(rng.integers(3 * n // 10, n // 2 + 1)))
    weight = normal(rng, shape)
    inactive = weight[~mask]
    weight[~mask] = backend.array_module(weight).sign(inactive) * (5 + 10 * abs(inactive))
    negate_largest(weight, mask)                      # inactive |W| above 5, every active one
    return weight, mask, normal(rng, shape)


def drop_k(rng, n: int) -> int:
    """A k in [2, n - 2] with |k - (n - k)| > 1: "kept", "dropped" and "kept, one off" all have
    different sizes."""
    return int(rng.choice([k for k in range(2, n - 1) if abs(2 * k - n) > 1]))


def drop_cases(rng) -> Iterator[Case]:
    """Cases for fn(weight, mask, k) -> kept."""
    weight, mask, _ = random_layer(rng)
    yield Case("random weights, larger ones at inactive positions",
                      dict(weight=weight, mask=mask, k=drop_k(rng, int(mask.sum()))))
    weight, mask, _ = random_layer(rng)
    weight[mask] = quantised(rng, weight.shape)[mask]
    k = tie_cut(rng, abs(weight[mask]), descending=False)
    yield Case("ties exactly at the k-th |W|", dict(weight=weight, mask=mask, k=k))
    shape = (5, 8)
    mask = ~ends(shape, int(rng.integers(3, 8)), int(rng.integers(3, 8)))
    weight = zeros_outside(normal(rng, shape), mask)
    zeros = exact_mask(rng, (int(mask.sum()),), int(rng.integers(4, 8)))
    weight[mask] = zeros_outside(weight[mask], ~zeros)
    yield Case("active weights exactly 0, some kept and some dropped",
                      dict(weight=weight, mask=mask, k=int(rng.integers(1, int(zeros.sum())))))
    weight, mask, _ = random_layer(rng)
    yield Case("k = 0", dict(weight=weight, mask=mask, k=0))
    weight, mask, _ = random_layer(rng)
    yield Case("k = nnz (every connection dropped)",
                      dict(weight=weight, mask=mask, k=int(mask.sum())))
    weight, mask, _ = random_layer(rng, conv=True)
    yield Case("a conv-shaped weight (out, in, kh, kw)",
                      dict(weight=weight, mask=mask, k=drop_k(rng, int(mask.sum()))))
    weight, _, _ = random_layer(rng)
    mask = backend.array_module(weight).ones(weight.shape, dtype=bool)
    yield Case("every position active (density 1)",
                      dict(weight=weight, mask=mask, k=drop_k(rng, mask.size)))
    weight, mask, _ = random_layer(rng)
    yield Case("no active connection (nnz = 0, k = 0)",
                      dict(weight=weight, mask=mask & ~mask, k=0))


def _grow_layer(rng, conv: bool = False):
    """grad, kept (about half the positions); gradients at kept positions are large."""
    shape = random_shape(rng, conv)
    kept = exact_mask(rng, shape, math.prod(shape) // 2)
    grad = normal(rng, shape)
    grad[kept] *= 10
    negate_largest(grad, ~kept)
    return grad, kept


def grow_cases(rng) -> Iterator[Case]:
    """Cases for fn(grad, kept, k) -> grown."""
    grad, kept = _grow_layer(rng)
    yield Case("random gradients, larger ones at kept positions",
                      dict(grad=grad, kept=kept, k=drop_k(rng, int((~kept).sum()))))
    grad, kept = _grow_layer(rng)
    grad[~kept] = quantised(rng, grad.shape)[~kept]
    k = tie_cut(rng, abs(grad[~kept]), descending=True)
    yield Case("ties exactly at the k-th |G|", dict(grad=grad, kept=kept, k=k))
    grad, kept = _grow_layer(rng)
    free = int((~kept).sum())
    nonzero = exact_mask(rng, (free,), int(rng.integers(1, free // 3)))
    grad[~kept] = zeros_outside(grad[~kept], nonzero)
    k = int(nonzero.sum()) + int(rng.integers(1, free - int(nonzero.sum())))
    yield Case("zero gradients where some zero-gradient positions must be grown",
                      dict(grad=grad, kept=kept, k=k))
    shape = (5, 8)
    kept = ends(shape, int(rng.integers(3, 10)), int(rng.integers(3, 10)))
    yield Case("all gradients 0, kept positions first and last",
                      dict(grad=backend.array_module().zeros(shape, dtype="float32"), kept=kept,
                           k=int(rng.integers(1, int((~kept).sum())))))
    grad, kept = _grow_layer(rng)
    yield Case("k = 0", dict(grad=grad, kept=kept, k=0))
    grad, kept = _grow_layer(rng, conv=True)
    yield Case("a conv-shaped gradient (out, in, kh, kw)",
                      dict(grad=grad, kept=kept, k=drop_k(rng, int((~kept).sum()))))
    grad, kept = _grow_layer(rng)
    yield Case("k = every position not kept", dict(grad=grad, kept=kept,
                                                          k=int((~kept).sum())))
    grad, kept = _grow_layer(rng)
    yield Case("every position kept (k = 0)", dict(grad=grad, kept=kept | ~kept, k=0))
