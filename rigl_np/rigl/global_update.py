"""One ranking over every sparse layer at once: global drop-and-grow, pruning and random masks.

RigL's update (Section 3) ranks each layer on its own. A *global* selection ranks the
concatenation of every sparse layer instead, as the public libraries that offer global RigL, SET
and pruning do (docs/semantics.md "Global selection"): k = floor(f * total nnz) connections are
dropped by |W| among all active ones, and k grown by the grow score among all positions not
kept, so the per-layer counts drift while the total stays exact. Dense layers take no part.

- ``layer_scores``: each layer's score as is ("raw", the public global RigL), or divided by its
  L2 norm ("l2", as one library's global pruners normalise), so that no layer wins by scale;
- ``global_mask_update``: the drop and grow of ``rigl.drop_and_grow``, run once on the flat
  concatenation (C-order within a layer, the layers in order), then split back per layer;
- ``global_prune``: keep the ``n_keep`` largest scores over all layers, grow nothing;
- ``global_random_masks``: ``n`` active positions drawn uniformly over all layers together.
Ties: ``select_top_k``'s rule on the concatenation (an earlier layer first, then the lower flat
index); ``verify`` counts a different choice among equal scores as a tie, across layers too.
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.masks.update import MaskUpdate, count
from rigl_np.rigl.drop import keep_after_drop
from rigl_np.rigl.update import drop_and_grow

SCORES = ("raw", "l2")


def layer_scores(scores: dict, how: str) -> dict:
    """``{layer: score}`` as given ("raw") or each divided by its own L2 norm ("l2"; a layer
    whose scores are all 0 stays 0)."""
    if how == "raw":
        return scores
    out = {}
    for name, s in scores.items():
        xp = backend.array_module(s)
        norm = float(xp.linalg.norm(s.ravel()))
        out[name] = s / norm if norm > 0 else s
    return out


def concat(arrays: dict):
    """The layers' arrays flattened and joined in order: (sum of sizes,)."""
    xp = backend.array_module(*arrays.values())
    return xp.concatenate([a.ravel() for a in arrays.values()])


def split(flat, masks: dict) -> dict:
    """``concat``'s inverse: ``{layer: flat's piece in that layer's shape}``."""
    out, start = {}, 0
    for name, m in masks.items():
        out[name] = flat[start:start + m.size].reshape(m.shape)
        start += m.size
    return out


def split_update(result: MaskUpdate, masks: dict) -> dict:
    """``{layer: MaskUpdate}``: a flat update's pieces, each with its layer's own counts
    (n_active: the layer's nnz before; n_drop: what it lost)."""
    parts = {key: split(getattr(result, key), masks)
             for key in ("mask", "new", "dropped", "grown", "regrown_same")}
    return {name: MaskUpdate(**{key: parts[key][name] for key in parts}, n_active=count(m),
                             n_drop=count(parts["dropped"][name]))
            for name, m in masks.items()}


def global_mask_update(drop_scores: dict, grow_scores: dict, masks: dict, f: float) -> dict:
    """Drop k = floor(f * total nnz) of all active connections by ``drop_scores`` and grow as
    many by ``grow_scores`` over every layer of ``masks`` together; ``{layer: MaskUpdate}``
    (``{}`` for no layers: every layer dense)."""
    if not masks:
        return {}
    flat_mask = concat(masks)                                        # (N,) all layers
    # 1. k over every layer's active connections together
    k = math.floor(f * count(flat_mask))
    # 2.-4. RigL's drop and grow on the concatenation, then each layer's piece of it
    result = drop_and_grow(concat(drop_scores), concat(grow_scores), flat_mask, k)
    return split_update(result, masks)


def global_prune(scores: dict, masks: dict, n_keep: int) -> dict:
    """Keep the ``n_keep`` active connections with the largest score over every layer together
    (at or above the total count: nothing changes); grow nothing. ``{layer: MaskUpdate}``
    (``{}`` for no layers)."""
    if not masks:
        return {}
    flat_mask = concat(masks)                                        # (N,)
    kept = keep_after_drop(concat(scores), flat_mask, min(n_keep, count(flat_mask)))
    xp = backend.array_module(flat_mask)
    none = xp.zeros(flat_mask.shape, dtype=bool)
    dropped = flat_mask & ~kept
    return split_update(MaskUpdate(kept, none, dropped, none, none, count(flat_mask),
                                   count(dropped)), masks)


def global_random_masks(shapes: dict, n_active: int, rng) -> dict:
    """``{layer: bool host mask}`` with exactly ``n_active`` positions drawn uniformly over every
    layer of ``shapes`` together (one permutation of all positions on the host ``Generator``
    ``rng``, as ``sparsity.random_masks`` draws one layer). Move them with ``backend.asarray``."""
    sizes = {n: math.prod(s) for n, s in shapes.items()}
    flat = rng.permutation(sum(sizes.values())) < n_active            # (N,) host bool
    out, start = {}, 0
    for name, shape in shapes.items():
        out[name] = flat[start:start + sizes[name]].reshape(shape)
        start += sizes[name]
    return out
