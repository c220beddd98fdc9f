"""The grow phase of a mask update: one grow-score function per method, one selection rule.

RigL paper, Section 3, grow criteria (docs/semantics.md "The RigL update", step 3, and "Baselines"):

- RigL: |dense gradient| of the loss with respect to the masked weight (non-zero at inactive
  positions too), the signal the paper computes only on update steps;
- SET (Mocanu et al. 2018, as in the RigL paper): uniform random scores, drawn on the host RNG;
- SNFS (Dettmers & Zettlemoyer 2019, as in the official code): |exponential moving average of the
  dense gradients|, ema <- beta * ema + (1 - beta) * g, beta = 0.9; no layer redistribution.

All three grow the k highest-scoring positions among those *not kept* by the drop step, which
includes the connections just dropped (they may come straight back, keeping weight and state).
Ties follow ``select.select_top_k``: lower flat index first.

Left out: original SET's random non-zero re-initialisation and its separate positive/negative drop.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.masks.select import select_top_k


def rigl_score(grad):
    """RigL grow score: |G|, the magnitude of the dense gradient."""
    return backend.array_module(grad).abs(grad)


def set_score(shape, rng):
    """SET grow score: uniform random numbers drawn on the host ``Generator`` ``rng``."""
    return backend.asarray(rng.random(shape))


def gradient_ema(ema, grad, beta: float = 0.9):
    """SNFS's running gradient: beta * ema + (1 - beta) * grad (a new array)."""
    return beta * ema + (1 - beta) * grad


def snfs_score(grad_ema):
    """SNFS grow score: |exponential moving average of the dense gradients|."""
    return backend.array_module(grad_ema).abs(grad_ema)


def choose_grown(grow_score, kept, k: int):
    """Boolean mask of the ``k`` positions outside ``kept`` with the largest ``grow_score``."""
    return select_top_k(grow_score, ~kept, k)
