"""The mask update under any ``Convention``: rigl_np's rules with the switches turned.

RigL (Evci et al. 2020, Section 3; docs/semantics.md "The RigL update") and SRigL (Lasby et al.
2024; docs/semantics.md "SRigL"), written once more in terms of the switches of
``conventions.py`` so that ``classify`` can ask "would this file be right under that choice?".
At the default ``Convention()`` both give exactly ``rigl_np.rigl.rigl_update`` /
``rigl_np.srigl.srigl_update`` (tests/test_verify_conventions.py checks it); every selection goes
through rigl_np's own ``select_top_k`` / ``row_top_k``, so the tie rule is theirs.

The scores are given, not computed, so that the caller can hand in |W| over the active positions,
|W * M| or |W| over all of them, random SET scores, or tie-preferring keys (``ties.py``). k is
given too: the k-rounding switch is the caller's choice of k (``conventions.drop_counts``).

Tie order: the ``layout`` switch makes the selections break ties by flat index in that layout,
by running them on the arrays viewed in it (``ordered``) and viewing the result back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rigl_np.rigl import select_top_k
from rigl_np.srigl import row_top_k, srigl_update
from rigl_np.verify.layers import layout_shape, to_canonical, to_layout


@dataclass
class Outcome:
    """What one reference update decided; arrays in rigl_np's layout."""

    mask: np.ndarray              # the new mask
    dropped: np.ndarray           # active before and not kept (regrown-same ones included)
    k: int                        # connections dropped by the drop step (0: nothing changed)
    ablated: np.ndarray | None = None   # SRigL: (out,) neurons without inputs
    fan_in: int | None = None           # SRigL: k'


def _count(a, axis=None):
    return np.count_nonzero(a, axis=axis)


def _rows(a, layout: str, n_out: int):
    """The (out, fan_in) view of an array viewed in ``layout`` (fan-in in that layout's order)."""
    return a.reshape(n_out, -1) if layout == "out_in" else a.reshape(-1, n_out).T


def _unrows(r, layout: str, shape):
    """Canonical array of ``shape`` from its (out, fan_in) view in ``layout``."""
    if layout == "out_in":
        return r.reshape(shape)
    return to_canonical(r.T.reshape(layout_shape(shape, layout)), layout)


def unchanged(mask, k=0) -> Outcome:
    return Outcome(mask, np.zeros(mask.shape, bool), k)


def rigl_outcome(drop_score, grow_score, mask, k: int, conv, target: int | None = None) -> Outcome:
    """RigL / SET / SNFS under ``conv``: drop k, grow k (or back to ``target`` with refill).

    drop_score, grow_score: (*shape) floats, what the drop keeps the largest of and what the grow
    activates the largest of; mask: (*shape) bool; k: the drop count.
    """
    # 1. n active; k = 0 or a dense layer changes nothing.
    n = int(_count(mask))
    if k <= 0 or n == mask.size:
        return unchanged(mask)
    lay = conv.layout
    sd, sg, m = (to_layout(a, lay) for a in (drop_score, grow_score, mask))  # the tie order's view
    # 2. Drop: keep the n - k largest scores among the candidates (active ones, or every position).
    candidates = m if conv.drop_candidates == "active" else np.ones(m.shape, bool)
    kept = select_top_k(sd, candidates, n - k)
    # 3. Grow among the positions not kept (not the just-dropped ones, when they may not return).
    grow_candidates = ~kept if conv.regrow_dropped == "yes" else ~(kept | m)
    n_grow = k if conv.grow_count == "k" else target - (n - k)
    n_grow = min(max(n_grow, 0), int(_count(grow_candidates)))
    grown = select_top_k(sg, grow_candidates, n_grow)
    # 4. Back to rigl_np's layout.
    new_mask, kept = to_canonical(kept | grown, lay), to_canonical(kept, lay)
    return Outcome(new_mask, mask & ~kept, k)


def srigl_outcome(drop_score, grow_score, mask, k: int, budget: int, gamma_sal: float,
                  ablate: bool, conv) -> Outcome:
    """SRigL under ``conv``: ablation, drop k, regrow every surviving row to the fan-in.

    The ablation decision is ``srigl_update``'s (given the same k); ``conv.ablation`` overrides
    the file's ``ablate``, ``conv.fan_in`` chooses k' = budget // survivors or budget // n_out.
    """
    n_out, shape = mask.shape[0], mask.shape
    dense_fan_in = mask.size // n_out
    nnz = int(_count(mask))
    # 1. k = 0 or a dense budget changes nothing.
    if k <= 0 or budget >= mask.size:
        out = unchanged(mask)
        out.ablated = ~mask.reshape(n_out, -1).any(axis=1)
        return out
    # 2. Ablation, decided as srigl_update decides it for this k ((k + 1/2) / nnz floors to k).
    if conv.ablation != "file":
        ablate = conv.ablation == "always"
    ablated = srigl_update(drop_score, mask, grow_score, (k + 0.5) / nnz, budget, gamma_sal,
                           ablate=ablate).ablated                               # (out,)
    # 3. The fan-in: the budget spread over the survivors, or the one from before the ablation.
    survivors = n_out - int(_count(ablated))
    k_new = budget // survivors if conv.fan_in == "recompute" else budget // n_out
    k_new = min(k_new, dense_fan_in)
    lay = conv.layout
    sd, sg, m = (to_layout(a, lay) for a in (drop_score, grow_score, mask))
    off = to_layout(np.broadcast_to(ablated.reshape((n_out,) + (1,) * (mask.ndim - 1)), shape),
                    lay)
    # 4. Drop: the nnz - k largest scores outside ablated rows, then at most k' per row.
    candidates = (m if conv.drop_candidates == "active" else np.ones(m.shape, bool)) & ~off
    kept = select_top_k(sd, candidates, min(nnz - k, int(_count(candidates))))
    rows_sd, rows_kept = _rows(sd, lay, n_out), _rows(kept, lay, n_out)        # (out, fan_in)
    kept = row_top_k(rows_sd, rows_kept, np.minimum(_count(rows_kept, axis=1), k_new))
    # 5. Grow: every surviving row tops up to k' by the grow score.
    grow_candidates = ~kept if conv.regrow_dropped == "yes" else ~(kept | _rows(m, lay, n_out))
    need = np.where(ablated, 0, k_new - _count(kept, axis=1))                  # (out,)
    need = np.minimum(np.maximum(need, 0), _count(grow_candidates, axis=1))
    grown = row_top_k(_rows(sg, lay, n_out), grow_candidates, need)
    new_mask, kept = _unrows(kept | grown, lay, shape), _unrows(kept, lay, shape)
    return Outcome(new_mask, mask & ~kept, k, ablated=ablated, fan_in=k_new)
