"""One mask update of one sparse layer, as numbered steps, and how it is applied to a model.

RigL paper, Section 3 and Algorithm 1; SPEC "The RigL update". ``mask_update`` is the composer
RigL, SET and SNFS share: they drop alike (drop.py) and differ only in the grow score (grow.py),
so ``rigl_update``, ``set_update`` and ``snfs_update`` are one line each.

The update decides masks only. ``apply_update`` then does what the new mask implies for the
parameters and the optimizer: new connections start at weight 0 with zeroed optimizer state,
dropped ones are zeroed, and connections dropped and grown back keep their weight and state.

Optional tie noise (as in the official code): Gaussian, sigma = 1e-5, drawn on the host
``Generator`` given as ``tie_noise_rng`` and added to the drop and the grow score, so that equal
scores (many zero gradients, say) are broken at random instead of by flat index.

Left out: the official code's update at step 0 and its distributed score averaging; gradient
accumulation over several batches is the caller's (average the gradients before calling).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from rigl_np import backend
from rigl_np.rigl import drop, grow

TIE_NOISE_STD = 1e-5


@dataclass
class MaskUpdate:
    """The outcome of one mask update; every array is boolean with the weight's shape."""

    mask: object          # the new mask
    new: object           # active now, inactive before: zero-initialise weight and state
    dropped: object       # active before, not kept by the drop step (n_drop of them)
    grown: object         # chosen by the grow step (n_drop of them; may include dropped ones)
    regrown_same: object  # dropped and grown back in the same update: keep weight and state
    n_active: int         # nnz before and after the update
    n_drop: int           # k = floor(f * n_active): connections dropped, and grown

    @property
    def n_regrown_same(self) -> int:
        return int(self.regrown_same.sum())

    @property
    def n_new(self) -> int:
        return self.n_drop - self.n_regrown_same


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
        none = xp.zeros(mask.shape, dtype=bool)
        return MaskUpdate(mask, none, none, none, none, n_active, 0)
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


def set_update(weight, mask, drop_fraction: float, rng, tie_noise_rng=None) -> MaskUpdate:
    """SET: grow at random positions (scores drawn on the host ``Generator`` ``rng``)."""
    score = grow.set_score(mask.shape, rng)
    return mask_update(weight, mask, score, drop_fraction, tie_noise_rng)


def snfs_update(weight, mask, grad_ema, drop_fraction: float, tie_noise_rng=None) -> MaskUpdate:
    """SNFS: grow where the moving average of the dense gradients ``grad_ema`` is largest."""
    return mask_update(weight, mask, grow.snfs_score(grad_ema), drop_fraction, tie_noise_rng)


def apply_update(params: dict, masks: dict, name: str, result: MaskUpdate, optimizer=None) -> None:
    """Make parameter ``name`` and its optimizer state follow ``result`` (all in place).

    1. New connections start at weight 0 and with every optimizer slot at 0.
    2. ``masks[name]`` becomes the new mask; W <- W * M and state <- state * M zero the dropped
       connections. Regrown-same connections keep their weight and state.
    """
    weight = params[name]
    weight[result.new] = 0
    if optimizer is not None:
        optimizer.reset(name, result.new)
    masks[name] = result.mask
    weight *= result.mask
    if optimizer is not None:
        optimizer.mask_state(name, result.mask)
