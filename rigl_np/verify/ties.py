"""Which differences are choices among equal scores: scores that prefer the other side's choice.

Two correct implementations may choose differently among exactly equal scores at a selection
threshold (docs/semantics.md "Conventions", the tie rule). A differing position is a tie only if
an equal score lies on the other side of the threshold, and a different choice at the drop
changes what the grow step may choose from, so the differences a tie causes can reach further
than the tie itself.

Both questions are answered at once by running the reference update again on *preferring*
scores: every score is replaced by a key that orders exactly as the score does, except that among
equal scores the positions in the other implementation's new mask come first. If the update on
these keys gives their mask, every difference is a tie choice or follows from one (a drop tie's
consequences in the grow step included); if not, some difference is not a tie.

``nudged`` does the same with a tolerance: the official code adds Gaussian noise (sigma 1e-5) to
its scores, so its choices may differ from exact ranking between scores closer than the noise.
Shifting their positions up by twice the bound asks whether some noise within the bound explains
their choice.
"""
from __future__ import annotations

import numpy as np


def order_keys(score) -> np.ndarray:
    """float64 integers that order exactly as ``score`` (equal scores, equal keys)."""
    if score.dtype == np.float32 and not (score < 0).any():
        # the bits of a non-negative float32 order as the float does (and fit float64 exactly)
        return score.view(np.int32).astype(np.float64)
    return _ranks(score).astype(np.float64)


def _ranks(a) -> np.ndarray:
    """Dense ranks 0, 1, ... of ``a`` (equal values, equal ranks), in ``a``'s shape."""
    _, inverse = np.unique(a, return_inverse=True)
    return inverse.reshape(a.shape)


def preferring(score, preferred, then=None) -> np.ndarray:
    """Keys ordered as ``score``, ties broken in favour of ``preferred`` (bool, same shape).

    ``then`` (optional, same shape): among equal scores that are both preferred, the lower
    ``then`` comes first. The drop step passes the grow score: when two tied connections are
    both in their mask, one was kept and the other dropped and grown back, and the one grown
    back is the one with the larger grow score.
    """
    key = order_keys(score) * 2 + preferred
    if then is None:
        return key
    primary, secondary = _ranks(key), _ranks(then)
    levels = int(secondary.max()) + 1
    if (int(primary.max()) + 1) * levels >= 2**53:          # no exact room: the primary alone
        return key
    return primary.astype(np.float64) * levels + (levels - 1 - secondary)


def nudged(score, preferred, bound: float) -> np.ndarray:
    """``score`` with the ``preferred`` positions raised by 2 * bound (float64)."""
    return score.astype(np.float64) + (2 * bound) * preferred

