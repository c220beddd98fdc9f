"""One mask update of one sparse layer, as numbered steps, and how it is applied to a model.

RigL paper, Section 3 and Algorithm 1; docs/semantics.md "The RigL update". ``mask_update`` is
the composer RigL, SET and SNFS share: they drop alike (drop.py) and differ only in the grow score
(grow.py), so ``rigl_update`` is one line. ``magnitude_prune`` is gradual pruning's step (drop,
no growth). Every one returns a ``MaskUpdate``, the record SRigL's update returns too.

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
    """The outcome of one mask update of one layer (RigL, SET, SNFS, SRigL, a pruning step).

    Every array is boolean with the weight's shape, except ``ablated`` (one flag per neuron).
    ``record()`` is the per-layer record every run keeps of the update (``methods.records``).
    """

    mask: object          # the new mask
    new: object           # active now, inactive before: zero-initialise weight and state
    dropped: object       # active before, not kept by the drop step
    grown: object         # chosen by the grow step (may include just-dropped connections)
    regrown_same: object  # dropped and grown back in the same update: keep weight and state
    n_active: int         # nnz before the update (RigL keeps it; SRigL and pruning may not)
    n_drop: int           # k = floor(f * n_active): the drop step's count (RigL grows as many)
    ablated: object = None   # SRigL only: (out,) bool, neurons left without inputs
    fan_in: int = None       # SRigL only: k', the inputs of every surviving neuron

    @property
    def n_regrown_same(self) -> int:
        return _count(self.regrown_same)

    @property
    def n_new(self) -> int:
        return _count(self.new)

    def record(self) -> dict:
        """The layer's entry in a run's update record (docs/semantics.md "Metrics"):
        dropped, grown, regrown_same, nnz after; SRigL adds fan_in and active_neurons."""
        record = {"dropped": _count(self.dropped), "grown": _count(self.grown),
                  "regrown_same": self.n_regrown_same, "nnz": _count(self.mask)}
        if self.fan_in is not None:
            record.update(fan_in=self.fan_in,
                          active_neurons=self.ablated.size - _count(self.ablated))
        return record


def _count(flags) -> int:
    return int(backend.array_module(flags).count_nonzero(flags))


def unchanged(mask, **srigl) -> MaskUpdate:
    """An update that changes nothing (k = 0, or a dense layer)."""
    none = backend.array_module(mask).zeros(mask.shape, dtype=bool)
    n = _count(mask)
    return MaskUpdate(mask, none, none, none, none, n_active=n, n_drop=0, **srigl)


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


def magnitude_prune(weight, mask, n_keep: int) -> MaskUpdate:
    """A pruning step (Zhu & Gupta 2017): keep the ``n_keep`` active connections with the largest
    |W| and grow nothing. ``n_keep`` at or above the current count changes nothing."""
    n_active = _count(mask)
    if n_keep >= n_active:
        return unchanged(mask)
    kept = drop.keep_after_drop(drop.magnitude_score(weight), mask, n_keep)
    none = backend.array_module(mask).zeros(mask.shape, dtype=bool)
    return MaskUpdate(kept, none, mask & ~kept, none, none, n_active, n_active - n_keep)


def apply_update(params: dict, masks: dict, name: str, result: MaskUpdate, optimizer=None) -> None:
    """Make parameter ``name`` and its optimizer state follow ``result`` (all in place).

    ``result`` is any ``MaskUpdate``: RigL's, SET's, SNFS's, SRigL's or a pruning step's.

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
