"""A whole-model update ranked over every layer at once (``selection = "global"``), as one problem.

docs/semantics.md "Global selection": a global RigL or SET update drops k = floor(f * total nnz)
by |W| and grows as many by the grow score over the concatenation of the layers. ``merge`` turns
the layers of a whole-model file into one ``layers.Problem`` over that concatenation (each layer
in rigl_np's layout, flattened in C order, the layers in the file's order), so the update gets one
verdict for the model, through the family and the causes every unstructured update has: ties
across layers are ties, a k rounded another way is ``k_rounding``, and so on.

``--global-scores l2`` (``scores="l2"``) divides each layer's |W| (and RigL's |G|; SET's random
grow scores are never normalised) by the layer's L2 norm before the concatenation, as
``rigl.global_update.layer_scores`` does; the weights the rules compare (new_weight,
weight_before_step) are scaled with them, which keeps every rule's answer.
"""
from __future__ import annotations

import numpy as np

from rigl_np.verify.classify import classify
from rigl_np.verify.fileformat import InputError
from rigl_np.verify.layers import Problem


def _norm(a) -> float:
    n = float(np.linalg.norm(a.astype(np.float64).ravel()))
    return n if n > 0 else 1.0


def merge(problems: list, scores: str = "raw") -> Problem:
    """One ``Problem`` over the concatenation of ``problems`` (one file's layers, in order)."""
    first = problems[0]
    for p in problems[1:]:
        for key in ("method", "drop_fraction", "step"):
            if getattr(p, key) != getattr(first, key):
                raise InputError(f"{first.path}: a global update has one {key} for the model; "
                                 f"layer {p.layer!r} has {getattr(p, key)!r}, layer "
                                 f"{first.layer!r} {getattr(first, key)!r}")
    normalise_grow = first.verification.grow_score is not None     # |G| yes; SET's draws no
    w_scale = {p.layer: _norm(p.weight) if scores == "l2" else 1.0 for p in problems}
    g_scale = {p.layer: _norm(p.grow_score) if scores == "l2" and normalise_grow else 1.0
               for p in problems}

    def joined(name, scale=None):
        arrays = [getattr(p, name) for p in problems]
        if any(a is None for a in arrays):
            return None
        parts = [a.ravel() if scale is None else (a.ravel() / scale[p.layer]).astype(a.dtype)
                 for a, p in zip(arrays, problems)]
        return np.concatenate(parts)

    slots = set.intersection(*(set(p.state) for p in problems))
    new_slots = set.intersection(*(set(p.new_state) for p in problems))
    return Problem(
        path=first.path, layer="global: " + ", ".join(str(p.layer) for p in problems),
        method=first.method, layout="out_in", weight=joined("weight", w_scale),
        mask=joined("mask"), grow_score=joined("grow_score", g_scale), new_mask=joined("new_mask"),
        drop_fraction=first.drop_fraction, step=first.step,
        new_weight=joined("new_weight", w_scale),
        weight_before_step=joined("weight_before_step", w_scale),
        state={s: np.concatenate([p.state[s].ravel() for p in problems]) for s in slots},
        new_state={s: np.concatenate([p.new_state[s].ravel() for p in problems])
                   for s in new_slots},
        signal=joined("signal"), selection="global")


def check(problems: list, selected: dict) -> tuple:
    """(problem, ``classify.Finding``) of a global update: under ``selected``'s
    ``global_scores`` (default raw); when nothing was selected and raw scores do not give their
    mask, l2-normalised ones are tried, and used (cause ``global_scores``) if they explain it."""
    chosen = selected.get("global_scores")
    p = merge(problems, chosen or "raw")
    f = classify(p, {**selected, "layout": p.layout})
    if chosen is None and f.verdict == "differs":
        q = merge(problems, "l2")
        g = classify(q, {**selected, "layout": q.layout})
        if g.verdict != "differs":
            p, f, chosen = q, g, "l2"
    if chosen == "l2":                               # a convention other than rigl_np's raw
        f.applied["global_scores"] = "l2"
        f.causes.append("global_scores")
        if f.verdict in ("identical", "equivalent"):
            f.verdict = "explained"
        f.detail += " (under --global-scores l2: each layer's scores divided by their L2 norm)"
    return p, f
