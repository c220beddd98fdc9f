"""The drop phase of a mask update: the drop score and which active connections stay.

RigL paper, Section 3 "Update Schedule", drop criterion: remove the k = floor(f * nnz) active
connections with the smallest weight magnitude |W| (docs/semantics.md "The RigL update", step 2).
RigL, SET and SNFS all drop this way; they differ only in how they grow (grow.py). The choice
among equal magnitudes is ``select.select_top_k``'s tie rule (lower flat index first).

Differences from the official code and rigl-torch, which rank |W| over *all* positions (inactive
ones score 0): here only active connections can be kept, so a zero-valued active weight never
trades places with an inactive position.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.masks.select import select_top_k


def magnitude_score(weight):
    """Drop score: |W|. The connections with the smallest magnitude go first."""
    return backend.array_module(weight).abs(weight)


def keep_after_drop(drop_score, mask, n_keep: int):
    """The mask left after the drop step: the ``n_keep`` active connections with the largest score.

    Only active connections (``mask`` True) compete; everything else is dropped or already off.
    """
    return select_top_k(drop_score, mask, n_keep)
