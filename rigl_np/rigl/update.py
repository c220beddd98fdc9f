"""One mask update of one unstructured sparse layer, as numbered steps.

RigL paper, Section 3 and Algorithm 1; docs/semantics.md "The RigL update". ``mask_update`` is
the composer RigL, SET and SNFS share: they drop alike (drop.py) and differ only in the grow score
(grow.py), so ``rigl_update`` is one line. Every one returns a ``masks.MaskUpdate``, the record
every method's update returns; ``masks.apply_update`` applies it to weights and optimizer state.

Optional tie noise (as in the official code): Gaussian, sigma = 1e-5, drawn on the host
``Generator`` given as ``tie_noise_rng`` and added to the drop and the grow score, so that equal
scores (many zero gradients, say) are broken at random instead of by flat index.

Left out: the official code's update at step 0 and its distributed score averaging; gradient
accumulation over several batches is the caller's (average the gradients before calling).
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.masks.update import MaskUpdate, unchanged
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
    # 2. Drop: keep the n - k active connections with the largest |W| (+ tie noise).
    drop_score = _with_tie_noise(drop.magnitude_score(weight), tie_noise_rng)
    kept = drop.keep_after_drop(drop_score, mask, n_active - k)
    # 3. Grow: the k positions not kept, just-dropped ones included, with the largest score.
    grown = grow.choose_grown(_with_tie_noise(grow_score, tie_noise_rng), kept, k)
    # 4. The new mask, and what changed: new connections are those that were inactive before.
    new_mask = kept | grown
    dropped = mask & ~kept
    return MaskUpdate(mask=new_mask, new=grown & ~mask, dropped=dropped, grown=grown,
                      regrown_same=dropped & grown, n_active=n_active, n_drop=k)


def rigl_update(weight, mask, grad, drop_fraction: float, tie_noise_rng=None) -> MaskUpdate:
    """RigL: grow where the dense gradient ``grad`` (of the loss w.r.t. W * M) is largest."""
    return mask_update(weight, mask, grow.rigl_score(grad), drop_fraction, tie_noise_rng)
