"""The two memory layouts a weight is stored in, and the views between them and rigl_np's.

rigl_np's layout is PyTorch's, (out, in) and (out, in, kh, kw) (docs/semantics.md
"Conventions"); JAX and TensorFlow store kernels ``in_out``, (in, out) and (kh, kw, in, out). A
file's arrays are viewed in rigl_np's layout on load (``to_canonical``). The layout is also a tie
order: top-k breaks ties by flat index, so running a selection on an array viewed in a layout
(``to_layout``) breaks its ties in that layout's order, and viewing the result back gives the
choice in rigl_np's layout. ``rows`` / ``unrows`` do the same for per-neuron selections (SRigL),
and ``canonical`` views a whole update record back.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

FLAGS = ("mask", "new", "dropped", "grown", "regrown_same")   # MaskUpdate's weight-shaped arrays


def to_canonical(a, layout: str):
    """A view of ``a`` (stored in ``layout``) in rigl_np's (out, in[, kh, kw]) layout."""
    if layout == "out_in":
        return a
    return a.T if a.ndim == 2 else a.transpose(3, 2, 0, 1)        # (kh,kw,in,out) -> (out,in,kh,kw)


def to_layout(a, layout: str):
    """A view of canonical ``a`` in ``layout`` (the inverse of ``to_canonical``)."""
    if layout == "out_in":
        return a
    return a.T if a.ndim == 2 else a.transpose(2, 3, 1, 0)        # (out,in,kh,kw) -> (kh,kw,in,out)


def layout_shape(shape, layout: str) -> tuple:
    """The shape a canonical ``shape`` has in ``layout``."""
    return tuple(to_layout(np.empty(shape, dtype=bool), layout).shape)


def rows(a, layout: str, n_out: int):
    """The (out, fan_in) view of an array viewed in ``layout`` (fan-in in that layout's order)."""
    return a.reshape(n_out, -1) if layout == "out_in" else a.reshape(-1, n_out).T


def unrows(r, layout: str, shape):
    """The canonical array of ``shape`` whose (out, fan_in) view in ``layout`` is ``r``."""
    if layout == "out_in":
        return r.reshape(shape)
    return to_canonical(r.T.reshape(layout_shape(shape, layout)), layout)


def canonical(update, layout: str):
    """A ``masks.MaskUpdate`` computed on arrays viewed in ``layout``, in rigl_np's layout."""
    if layout == "out_in":
        return update
    return replace(update, **{f: to_canonical(getattr(update, f), layout) for f in FLAGS})
