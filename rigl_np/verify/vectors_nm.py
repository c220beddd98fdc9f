"""The N:M conformance vectors (``python -m rigl_np vectors`` writes them with the others).

docs/semantics.md "N:M": the layer-wide drop of floor(f * nnz), every group regrown to exactly N.
Each case is a single-layer update with keys ``n`` and ``m`` (``vectors.cases`` appends these):
2:4 and 1:4, Linear and conv, equal scores inside groups, and a layer whose inputs are not a
multiple of M (rigl_np keeps it dense: never updated). Drawn from the caller's seeded ``rng``.
"""
from __future__ import annotations

import numpy as np

from rigl_np.masks.nm import nm_mask


def cases(rng) -> list:
    """``[(name, what is hard, inputs)]`` of the N:M vectors, in rigl_np's layout."""
    def layer(shape, n, m, quantize=None):
        mask = nm_mask(shape, n, m, rng)
        w, g = rng.standard_normal(shape), rng.standard_normal(shape)
        if quantize:
            w, g = np.round(w * quantize) / quantize, np.round(g * quantize) / quantize
        return dict(weight=(w * mask).astype(np.float32), mask=mask, grad=g.astype(np.float32),
                    n=n, m=m)

    return [
        ("nm_2_4_linear", "2:4 Linear at f = 0.3: the drop is layer-wide (floor(0.3 * 256) = "
         "76; a per-group floor(0.3 * 2) would drop nothing), then every group of 4 inputs "
         "regrows to exactly 2", dict(layer((16, 32), 2, 4), drop_fraction=0.3)),
        ("nm_1_4_linear", "1:4 Linear at f = 0.5: a group that lost its one weight takes back "
         "the largest |G| of its 4 inputs, the dropped one included",
         dict(layer((12, 16), 1, 4), drop_fraction=0.5)),
        ("nm_2_4_conv", "2:4 conv (out, in, kh, kw): a group is 4 consecutive input channels at "
         "one kernel position, never across kernel positions",
         dict(layer((8, 8, 3, 3), 2, 4), drop_fraction=0.3)),
        ("nm_1_4_conv_ties", "1:4 conv with quantised |W| and |G|: equal scores inside a group go "
         "to the lower input channel", dict(layer((6, 8, 2, 2), 1, 4, quantize=2),
                                            drop_fraction=0.4)),
        ("nm_2_4_zero_gradient", "2:4 with an all-zero gradient: every regrowth is a tie, the "
         "lowest free inputs of each group", dict(layer((8, 16), 2, 4), drop_fraction=0.3,
                                                  grad=np.zeros((8, 16), np.float32))),
        ("nm_non_multiple_layer", "2:4 on a layer of 6 inputs: not a multiple of 4, so rigl_np "
         "keeps it dense and never updates it", dict(
             weight=rng.standard_normal((8, 6)).astype(np.float32), mask=np.ones((8, 6), bool),
             grad=rng.standard_normal((8, 6)).astype(np.float32), drop_fraction=0.3, n=2, m=4)),
    ]
