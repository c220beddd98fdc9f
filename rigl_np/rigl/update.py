"""One mask update of one unstructured sparse layer, as numbered steps.

RigL paper, Section 3 and Algorithm 1; docs/semantics.md "The RigL update". ``mask_update`` is
the composer RigL, SET and SNFS share: they drop alike (drop.py) and differ only in the grow score
(grow.py), so ``rigl_update`` is one line. Every one returns a ``masks.MaskUpdate``, the record
every method's update returns; ``masks.apply_update`` applies it to weights and optimizer state.

``drop_and_grow`` is steps 2-4 for a given k, with rigl_np's choices as parameters that other
implementations choose differently (which positions compete in the drop, whether just-dropped
connections may come back, how many grow); ``mask_update`` calls it with rigl_np's, and
``rigl_np.verify`` with theirs, so both run this one composer.

Optional tie noise (as in the official code): Gaussian, sigma = 1e-5, drawn on the host
``Generator`` given as ``tie_noise_rng`` and added to the drop and the grow score, so that equal
scores (many zero gradients, say) are broken at random instead of by flat index.

Left out: the official code's update at step 0 and its distributed score averaging; gradient
accumulation over several batches is the caller's (average the gradients before calling).
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.masks.update import MaskUpdate, count, unchanged
from rigl_np.rigl import drop, grow

TIE_NOISE_STD = 1e-5


def _with_tie_noise(score, rng):
    if rng is None:
        return score
    noise = rng.normal(0.0, TIE_NOISE_STD, size=score.shape)
    return score + backend.asarray(noise, dtype=score.dtype)


def mask_update(weight, mask, grow_score, drop_fraction: float, tie_noise_rng=None) -> MaskUpdate:
    """Drop the smallest |W| among active connections, grow the largest ``grow_score`` elsewhere.

    weight, grow_score: (*shape) float; mask: (*shape) bool; 0 <= drop_fraction <= 1.
    A layer at density 1 and a drop fraction giving k = 0 come back unchanged.
    """
    xp = backend.array_module(weight, mask, grow_score)
    # 1. n active connections, k of them to drop (and as many to grow).
    n_active = int(xp.count_nonzero(mask))
    k = math.floor(drop_fraction * n_active)
    if k == 0 or n_active == mask.size:
        return unchanged(mask)
    # 2.-4. Drop by |W| (+ tie noise) among the active connections, grow by the grow score among
    #       the positions not kept, just-dropped ones included; the record of what changed.
    drop_score = _with_tie_noise(drop.magnitude_score(weight), tie_noise_rng)
    return drop_and_grow(drop_score, _with_tie_noise(grow_score, tie_noise_rng), mask, k)


def drop_and_grow(drop_score, grow_score, mask, k: int, drop_among=None,
                  regrow_dropped: bool = True, n_grow: int | None = None) -> MaskUpdate:
    """Drop k of the n active connections, keeping the n - k largest ``drop_score``, and grow
    the largest ``grow_score`` outside those kept. The defaults are rigl_np's choices:

    drop_among: the positions that compete to be kept (default ``mask``, the active ones; every
    position, inactive ones scoring what ``drop_score`` gives them, is another choice);
    regrow_dropped: whether just-dropped connections may be grown straight back (default True);
    n_grow: how many to grow (default k, so nnz stays; at most the positions open to growth).

    drop_score, grow_score: (*shape) float; mask: (*shape) bool. k <= 0 comes back unchanged; a
    layer at density 1 is updated like any other (only what was dropped can grow back), which
    ``mask_update`` never asks for. Ties: ``select_top_k``'s rule (lower flat index first).
    """
    n_active = count(mask)
    if k <= 0:
        return unchanged(mask)
    # 2. Drop: keep the n - k candidates with the largest drop score.
    kept = drop.keep_after_drop(drop_score, mask if drop_among is None else drop_among,
                                n_active - k)
    # 3. Grow: the n_grow positions not kept (nor just dropped, if they may not return) with the
    #    largest grow score.
    closed = kept if regrow_dropped else kept | mask
    n_grow = k if n_grow is None else min(n_grow, mask.size - count(closed))
    grown = grow.choose_grown(grow_score, closed, n_grow)
    # 4. The new mask, and what changed: new connections are those that were inactive before.
    dropped = mask & ~kept
    return MaskUpdate(mask=kept | grown, new=grown & ~mask, dropped=dropped, grown=grown,
                      regrown_same=dropped & grown, n_active=n_active, n_drop=k)


def rigl_update(weight, mask, grad, drop_fraction: float, tie_noise_rng=None) -> MaskUpdate:
    """RigL: grow where the dense gradient ``grad`` (of the loss w.r.t. W * M) is largest."""
    return mask_update(weight, mask, grow.rigl_score(grad), drop_fraction, tie_noise_rng)
