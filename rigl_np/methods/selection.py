"""Per-layer or global selection: the options and the structure RigL, SET, static and pruning share.

``--selection layer`` (the default, the RigL paper's) ranks each sparse layer on its own;
``--selection global`` ranks every sparse layer together (``rigl.global_update``;
docs/semantics.md "Global selection"): the initial masks draw the layers' total budget uniformly
over all of them (``Pooled``), and each update drops and grows (or prunes) over the concatenation,
so per-layer densities drift while the total is exact. ``--global-scores l2`` divides each
layer's scores by their L2 norm before the global ranking (raw |W| and |G| otherwise).

A method that offers the choice declares ``Options`` as (a subclass of) ``Selection`` and resolves
its structure when it is constructed: ``self.structure = structure(self.options)``.
"""
from __future__ import annotations

from dataclasses import dataclass

from rigl_np import backend
from rigl_np.masks import Unstructured
from rigl_np.options import ConfigError, check_fields, opt
from rigl_np.rigl.drop import magnitude_score
from rigl_np.rigl.global_update import SCORES, global_mask_update, global_random_masks, layer_scores

SELECTIONS = ("layer", "global")


@dataclass
class Selection:
    selection: str = opt("layer", "rank each sparse layer on its own (layer) or all sparse layers "
                         "together (global; per-layer densities drift)", SELECTIONS)
    global_scores: str = opt("raw", "scores of a global ranking: raw |W| and |G|, or each "
                             "layer's divided by its L2 norm (l2)", SCORES)

    def __post_init__(self):
        check_fields(self)
        if self.global_scores != "raw" and self.selection != "global":
            raise ConfigError(f"--global-scores {self.global_scores} normalises a global "
                              "ranking; add --selection global")


class Pooled(Unstructured):
    """Unstructured masks with the layers' budgets pooled: the same total as ``Unstructured``
    (the sum of the layers' exact counts), its positions drawn uniformly over all layers."""

    def initial_masks(self, shapes: dict, densities: dict, rng) -> dict:
        total = sum(self.budgets(shapes, densities).values())
        return {n: backend.asarray(m) for n, m in global_random_masks(shapes, total, rng).items()}


def tag(options) -> str:
    """How a run's name, table row and label say its selection: "" (per layer), "global" or
    "global-l2"; ``options`` is a method's options, or config.json's ``options`` dict."""
    get = options.get if isinstance(options, dict) else lambda k: getattr(options, k, None)
    if get("selection") != "global":
        return ""
    return "global" if get("global_scores") == "raw" else f"global-{get('global_scores')}"


def structure(options):
    """The structure ``options`` (a ``Selection``) asks for: ``Pooled`` for a global selection."""
    return Pooled() if options.selection == "global" else Unstructured()


def global_drop_and_grow(params: dict, masks: dict, grow: dict, f: float, options,
                         normalise_grow: bool = True) -> dict:
    """``{layer: MaskUpdate}``: drop by |W| and grow by ``grow`` (``{layer: score}``) over every
    layer of ``masks`` together, the scores normalised as ``options.global_scores`` says (the
    grow scores only when ``normalise_grow``: SET's random ones need no scale)."""
    how = options.global_scores
    drop = layer_scores({n: magnitude_score(params[n]) for n in masks}, how)
    return global_mask_update(drop, layer_scores(grow, how) if normalise_grow else grow, masks, f)
