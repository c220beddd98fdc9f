"""One SRigL mask update of one layer: neuron ablation, drop, and regrowth to a constant fan-in.

The SRigL paper's method (Lasby et al., ICLR 2024); docs/semantics.md "SRigL", steps 1-6, which the composer
``srigl_update`` follows line by line. Each phase is its own small function: ``ablation`` (step 2,
from ``salient_counts`` and ``ablated_neurons``), ``keep_within_fan_in`` (step 4) and
``grow_to_fan_in`` (step 5). Works on the (out, fan_in) view of a Linear or Conv2d weight.
``rigl_np.verify`` runs ``ablation`` and ``grow_to_fan_in`` too, with other implementations'
choices.

Choices the paper leaves open, made here:
- only active connections compete to be kept (the |W| ranking of the salience count and of the
  drop step), as in ``rigl.drop``; inactive weights are 0 anyway;
- ties are broken deterministically, the lower flat index (or, within a row, the lower column)
  first, by ``masks.select.select_top_k`` and ``masks.select.row_top_k``; no tie noise;
- k_drop = 0 or a dense layer (budget >= N) returns the mask unchanged, as in RigL;
- k' is capped at the dense fan-in (only reachable with a user-given ``min_neurons``).

Step 6 acts on the parameters and the optimizer, not on the mask: ``rigl_np.masks.apply_update``
does it with the ``masks.MaskUpdate`` returned here (new weights and their optimizer state to 0, then W and
state multiplied by the new mask, which zeroes dropped connections and ablated rows; biases are
left alone). Connections dropped and grown back in the same update keep their weight and state.
"""
from __future__ import annotations

import math
from fractions import Fraction

from rigl_np import backend
from rigl_np.masks.select import row_top_k, select_top_k
from rigl_np.masks.update import MaskUpdate, unchanged
from rigl_np.masks.fan_in import fan_in


def salient_counts(weight, mask, grad, n_keep: int, k_drop: int):
    """(out,) per neuron: weights among the top n_keep |W| (active) or the top k_drop |G| (all)."""
    xp = backend.array_module(weight, mask, grad)
    everywhere = xp.ones(mask.shape, dtype=bool)
    by_weight = select_top_k(xp.abs(weight), mask, n_keep)         # (out, fan_in)
    by_grad = select_top_k(xp.abs(grad), everywhere, k_drop)       # (out, fan_in)
    return xp.count_nonzero(by_weight | by_grad, axis=1)  # (out,) a weight in both counts once


def ablated_neurons(counts, k0: int, gamma_sal: float, min_neurons: int):
    """(out,) bool: neurons with fewer than t = max(1, floor(gamma_sal * k0)) salient weights.

    At least ``min_neurons`` survive: when fewer reach t, t drops to the salient count of the
    neuron ranked ``min_neurons`` (the official rule; ties at that count survive too).
    """
    xp = backend.array_module(counts)
    t = max(1, math.floor(Fraction(str(gamma_sal)) * k0))
    ranked = -xp.sort(-counts)                                     # (out,) descending
    t = min(t, int(ranked[min_neurons - 1]))
    return counts < t


def ablation(weight, mask, grad, n_keep: int, k_drop: int, budget: int, gamma_sal: float,
             min_neurons: int | None = None):
    """(out,) bool, step 2: the neurons with too few salient weights (by |W| or by |G|).

    weight, mask, grad: (out, fan_in); n_keep, k_drop: the drop step's counts; budget: floor(d N);
    min_neurons: the fewest neurons to keep (default budget // fan_in + 1, at least 1).
    """
    n_out, dense_fan_in = mask.shape
    floor_neurons = budget // dense_fan_in + 1 if min_neurons is None else min_neurons
    counts = salient_counts(weight, mask, grad, n_keep, k_drop)    # (out,)
    return ablated_neurons(counts, budget // n_out, gamma_sal, min(max(floor_neurons, 1), n_out))


def keep_within_fan_in(weight, mask, ablated, n_keep: int, k_new: int):
    """(out, fan_in) bool: the top n_keep |W| outside ablated rows, at most k_new in any row."""
    xp = backend.array_module(weight, mask, ablated)
    score = xp.abs(weight)
    candidates = mask & ~ablated[:, None]                          # (out, fan_in)
    kept = select_top_k(score, candidates, min(n_keep, int(xp.count_nonzero(candidates))))
    per_row = xp.count_nonzero(kept, axis=1)                       # (out,)
    return row_top_k(score, kept, xp.minimum(per_row, k_new))      # a full row keeps its k' largest


def grow_to_fan_in(grad, kept, ablated, k_new: int, closed=None):
    """(out, fan_in) bool: each surviving row's largest |G| outside ``kept``, up to k_new inputs.

    closed: (out, fan_in) bool, the positions that may not grow (default ``kept``; ``kept`` and
    the old mask where just-dropped connections may not come back, as some implementations do).
    """
    xp = backend.array_module(grad, kept, ablated)
    free = ~kept if closed is None else ~closed                    # (out, fan_in)
    need = xp.where(ablated, 0, k_new - xp.count_nonzero(kept, axis=1))  # (out,)
    need = xp.minimum(need, xp.count_nonzero(free, axis=1))        # a row grows what is free
    return row_top_k(xp.abs(grad), free, need)


def _unchanged(mask) -> MaskUpdate:
    rows = mask.reshape(mask.shape[0], -1)                         # (out, fan_in)
    return unchanged(mask, ablated=~rows.any(axis=1), fan_in=fan_in(mask))


def srigl_update(weight, mask, grad, drop_fraction: float, budget: int, gamma_sal: float = 0.3,
                 ablate: bool = True, min_neurons: int | None = None) -> MaskUpdate:
    """One SRigL update of one layer (docs/semantics.md "SRigL", steps 1-6), as a ``MaskUpdate``
    with ``ablated`` and ``fan_in`` set.

    weight, grad: (out, in) or (out, in, kh, kw) floats, grad the dense gradient of the loss with
    respect to W * M; mask: bool of the same shape; budget: the weights the layer may hold,
    floor(d * N) (``masks.srigl_budget``); ablate False for the output layer; min_neurons: the
    fewest neurons to keep (default budget // dense fan-in + 1).
    """
    xp = backend.array_module(weight, mask, grad)
    n_out = weight.shape[0]
    w, m, g = (a.reshape(n_out, -1) for a in (weight, mask, grad))  # (out, fan_in) each
    dense_fan_in = w.shape[1]
    # 1. k_drop = floor(f * nnz) connections to drop; n_keep survive the drop.
    nnz = int(xp.count_nonzero(m))
    k_drop = math.floor(drop_fraction * nnz)
    n_keep = nnz - k_drop
    if k_drop == 0 or budget >= m.size:
        return _unchanged(mask)
    # 2. Ablation: a neuron with too few salient weights (by |W| or by |G|) loses all its inputs.
    if ablate:
        ablated = ablation(w, m, g, n_keep, k_drop, budget, gamma_sal, min_neurons)  # (out,)
    else:
        ablated = xp.zeros(n_out, dtype=bool)
    # 3. The new constant fan-in spreads the whole budget over the surviving neurons.
    survivors = n_out - int(xp.count_nonzero(ablated))
    k_new = min(budget // survivors, dense_fan_in)
    # 4. Drop: keep the top n_keep |W| outside ablated rows, at most k' per row.
    kept = keep_within_fan_in(w, m, ablated, n_keep, k_new)
    # 5. Grow: every surviving row tops up to exactly k' inputs by |G| (just-dropped ones included).
    grown = grow_to_fan_in(g, kept, ablated, k_new)
    # 6. The new mask; new connections start at 0 with zero optimizer state, dropped and ablated
    #    ones are zeroed (rigl.apply_update does both). nnz = k' * survivors, so grown != dropped.
    dropped = m & ~kept
    flags = dict(mask=kept | grown, new=grown & ~m, dropped=dropped, grown=grown,
                 regrown_same=dropped & grown)                     # (out, fan_in) each
    return MaskUpdate(**{name: a.reshape(mask.shape) for name, a in flags.items()},
                      n_active=nnz, n_drop=k_drop, ablated=ablated, fan_in=k_new)
