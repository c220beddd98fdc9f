"""The inputs of the graders that take a whole layer: rigl_update, full_update, srigl_grow.

Built from the pieces of ``cases.py``, drawn afresh at every check. The hard cases of a full
RigL update (RigL paper, Section 3 and Algorithm 1): a just-dropped connection with the largest
|G| (it must come back), ties at the k-th |W| and |G|, zero gradients, active weights exactly 0,
k = 0, drop fractions 0 and 1, a layer at density 1, conv-shaped weights; drop fractions whose
f * nnz lies between two integers well away from both, so that rounding k up or to the nearest
is caught. full_update takes the same cases with a momentum buffer. SRigL's regrowth (Lasby et
al. 2024): rows that need 0, some or all of the fan-in, ablated rows, one row whose gradients
beat every other row's (caught when growth crosses rows), a row that keeps its first and last
inputs and must grow zero-gradient ones (caught when kept inputs are ranked at score 0), rows
wider than the layer is tall (caught when columns are taken as neurons), and fan_in = the whole
row with no neuron ablated.
"""
from __future__ import annotations

import math
from collections.abc import Iterator

from rigl_np import backend
from rigl_np.exercises.cases import (distinct, ends, exact_mask, negate_largest, normal,
                                     quantised, random_layer, random_shape, tie_cut,
                                     zeros_outside)
from rigl_np.exercises.result import Case
from rigl_np.rigl import keep_after_drop


def _fraction(rng, n: int, k: int) -> float:
    """A drop fraction f with floor(f * n) = k and f * n - k in [0.55, 0.9]."""
    return (k + float(rng.uniform(0.55, 0.9))) / n


def _regrowable(weight, mask, grad) -> None:
    """Give the active connection with the smallest |W| (always dropped) the largest |G|.

    And an inactive position the second largest, negative: with k >= 2 both must be grown,
    and ranking by G instead of |G| skips the second, while excluding just-dropped connections
    skips the first. The two largest |W| (one negative, one positive: ``negate_largest``) get
    |G| = 0, so dropping the largest |W| and dropping the most negative W end differently.
    """
    xp = backend.array_module(weight, mask, grad)
    top = float(xp.abs(grad).max())
    grad.flat[int(xp.where(mask, xp.abs(weight), xp.inf).argmin())] = top + 2
    grad.flat[int(xp.flatnonzero(~mask)[0])] = -(top + 1)
    largest = xp.argsort(-xp.where(mask, xp.abs(weight), -1).ravel())[:2]
    grad.flat[largest] = 0                  # dropped by mistake, never regrown


def _kept_only_if_k_is_floor(weight, mask, grad, k: int) -> None:
    """Zero the |G| of the active connections ranked k+1 to nnz/2 by |W|: kept by the right k,
    never regrown when a wrong, larger k (rounded up, or f times the layer size) drops them, so
    no wrong k can end in the right mask."""
    xp = backend.array_module(weight, mask, grad)
    active = xp.flatnonzero(mask)
    ranked = active[xp.argsort(xp.abs(weight.ravel()[active]), kind="stable")]   # (n,) by |W|
    grad.flat[ranked[k:max(k + 1, int(active.size) // 2)]] = 0


def _active_zeros(rng, weight, mask, grad, k: int) -> None:
    """Set k + 1 or k + 2 active weights to exactly 0 (so some are kept, some dropped), all
    after an inactive position in flat order whose gradient is 0: ranking |W * M| over every
    position, inactive ones included, would then keep that inactive position in place of an
    active zero, and growth would never have chosen it."""
    xp = backend.array_module(weight, mask, grad)
    first_off = int(xp.flatnonzero(~mask)[0])
    grad.flat[first_off] = 0
    later = xp.flatnonzero(mask.ravel() & (xp.arange(mask.size) > first_off))    # (C,)
    count = min(k + int(rng.integers(1, 3)), int(later.size))
    weight.flat[later[rng.permutation(int(later.size))[:count]]] = 0


def rigl_update_cases(rng) -> Iterator[Case]:
    """Cases for fn(weight, mask, grad, drop_fraction) -> new mask."""

    def case(label, weight, mask, grad, k, f=None):
        f = _fraction(rng, int(mask.sum()), k) if f is None else f
        return Case(label, dict(weight=weight, mask=mask, grad=grad, drop_fraction=f))

    first = "a just-dropped connection with the largest |G|, large weights at inactive positions"
    for label, conv in ((first, False), ("a conv-shaped layer (out, in, kh, kw)", True)):
        weight, mask, grad = random_layer(rng, conv)
        k = int(rng.integers(2, int(mask.sum()) // 2 + 1))
        _regrowable(weight, mask, grad)
        _kept_only_if_k_is_floor(weight, mask, grad, k)
        yield case(label, weight, mask, grad, k)
    weight, mask, grad = random_layer(rng)
    weight[mask] = quantised(rng, weight.shape)[mask]
    grad = quantised(rng, weight.shape)
    k = tie_cut(rng, abs(weight[mask]), descending=False)
    free = backend.array_module(mask).flatnonzero(
        ~keep_after_drop(abs(weight), mask, int(mask.sum()) - k))
    order = free[(-abs(grad.ravel()[free])).argsort(kind="stable")]
    grad.flat[order[k]] = grad.flat[order[k - 1]]                 # a tie at the k-th |G| too
    yield case("ties at the k-th |W| and at the k-th |G|", weight, mask, grad, k)
    weight, mask, grad = random_layer(rng)
    k = int(rng.integers(3, int(mask.sum()) // 2 + 1))
    grad = zeros_outside(grad, exact_mask(rng, grad.shape, int(rng.integers(1, k))))
    yield case("zero gradients where some zero-gradient positions must be grown", weight, mask,
               grad, k)
    weight, mask, grad = random_layer(rng)
    k = int(rng.integers(2, int(mask.sum()) // 2 + 1))
    _active_zeros(rng, weight, mask, grad, k)
    yield case("active weights exactly 0, some kept and some dropped", weight, mask, grad, k)
    weight, mask, grad = random_layer(rng)
    yield case("k = 0 (f * nnz < 1)", weight, mask, grad, 0,
               float(rng.uniform(0.1, 0.9)) / int(mask.sum()))
    weight, mask, grad = random_layer(rng)
    yield case("drop fraction 0", weight, mask, grad, 0, 0.0)
    weight, _, grad = random_layer(rng)
    yield case("a layer at density 1", weight,
               backend.array_module(weight).ones(weight.shape, bool), grad,
               int(rng.integers(2, weight.size // 2 + 1)))
    weight, mask, grad = random_layer(rng)
    yield case("drop fraction 1 (every connection dropped, the k = nnz largest |G| grown)",
               weight, mask, grad, int(mask.sum()), 1.0)


def full_update_cases(rng) -> Iterator[Case]:
    """Cases for fn(weight, mask, grad, momentum, drop_fraction) -> (weight, mask, momentum):
    every case of ``rigl_update_cases`` with a momentum buffer (non-zero everywhere, old values
    at inactive positions), and k = 0 on a layer re-masked after its last step."""
    for case in rigl_update_cases(rng):
        weight, mask, grad, f = case.args.values()
        yield Case(case.label, dict(weight=weight, mask=mask, grad=grad,
                                           momentum=distinct(rng, mask.shape), drop_fraction=f))
    weight, mask, grad = random_layer(rng)
    momentum = distinct(rng, mask.shape)
    yield Case("k = 0 on a layer re-masked after its last step",
                      dict(weight=zeros_outside(weight, mask), mask=mask, grad=grad,
                           momentum=zeros_outside(momentum, mask),
                           drop_fraction=float(rng.uniform(0.1, 0.9)) / int(mask.sum())))


def _srigl_layer(rng, conv: bool = False):
    """grad, kept, ablated, fan_in: rows needing 0, 1, some and all of fan_in; 1-2 ablated.

    Kept inputs and ablated rows have large gradients; one row needing all of fan_in has
    gradients above every other row's.
    """
    xp = backend.array_module()
    n_out = int(rng.integers(6, 10))
    width = int(rng.integers(10, 14))                              # wider than n_out
    shape = (n_out, int(rng.integers(2, 4)), 3, 3) if conv else (n_out, width)
    width = math.prod(shape[1:])                                   # the dense fan-in
    fan_in = int(rng.integers(3, width - 2))
    ablated = exact_mask(rng, (n_out,), int(rng.integers(1, 3)))
    survivors = rng.permutation(xp.flatnonzero(~ablated))
    counts = rng.integers(0, fan_in + 1, size=n_out) * ~ablated    # (out,) inputs kept
    counts[survivors[:3]] = (0, fan_in, fan_in - 1)
    kept = xp.stack([exact_mask(rng, (width,), int(c)) for c in counts])   # (out, fan_in)
    grad = normal(rng, (n_out, width))                             # (out, fan_in)
    grad[kept] *= 10                                               # kept inputs must not regrow
    grad[ablated] *= 10
    big = survivors[0]                                             # needs all of fan_in
    grad[big] = xp.sign(grad[big]) * (abs(grad).max() + 1 + abs(grad[big]))
    negate_largest(grad[big], ~kept[big])
    return grad, kept, ablated, fan_in, survivors, shape


def srigl_cases(rng) -> Iterator[Case]:
    """Cases for fn(grad, kept, ablated, fan_in) -> grown."""
    for label, conv in (("random rows, one neuron's gradients above all others'", False),
                        ("a conv-shaped layer (out, in, kh, kw)", True)):
        grad, kept, ablated, fan_in, _, shape = _srigl_layer(rng, conv)
        yield Case(label + ", ablated neurons with large gradients",
                          dict(grad=grad.reshape(shape), kept=kept.reshape(shape),
                               ablated=ablated, fan_in=fan_in))
    grad, kept, ablated, fan_in, survivors, shape = _srigl_layer(rng)
    xp = backend.array_module(kept)
    row = survivors[2]                                             # needs exactly 1
    grad[row] = quantised(rng, grad[row].shape)
    need = fan_in - int(kept[row].sum())
    free = xp.flatnonzero(~kept[row])
    order = free[(-abs(grad[row, free])).argsort(kind="stable")]
    grad[row, order[need]] = grad[row, order[need - 1]]            # a tie at the row's cut
    grad[survivors[0]] = 0                                         # all zero, needs fan_in
    row = survivors[3]                 # keeps its first and last input, grows zero-gradient ones
    kept[row] = ends((kept.shape[1],), 1, 1)
    grad[row] = 0
    yield Case("ties at a row's cut, a row of zero gradients that must grow, and one "
                      "that keeps its first and last inputs and must grow zero-gradient ones",
                      dict(grad=grad, kept=kept, ablated=ablated, fan_in=fan_in))
    n_out = int(rng.integers(4, 8))
    width = n_out + int(rng.integers(1, 4))                        # wider than tall
    kept = xp.stack([exact_mask(rng, (width,), int(c)) for c in rng.integers(0, width + 1,
                                                                             size=n_out)])
    kept[0], kept[1] = False, True                                 # needs all, needs none
    grad = normal(rng, (n_out, width))
    grad[kept] *= 10
    yield Case("fan_in = the whole row, no neuron ablated",
                      dict(grad=grad, kept=kept, ablated=xp.zeros(n_out, dtype=bool),
                           fan_in=width))
