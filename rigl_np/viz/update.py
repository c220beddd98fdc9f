"""One RigL mask update of one layer, dissected panel by panel (RigL paper, Algorithm 1).

The update is computed by ``rigl_np.rigl.rigl_update`` on the whole layer; the panels then show:
the mask before, |W| of the active weights (the drop score), |G| everywhere (the grow score: the
dense gradient, non-zero at inactive positions too), the mask after, and what changed: the k
dropped (smallest |W|), the k grown (largest |G| among the positions not kept) and the
regrown-same (dropped and grown back: they keep their weight). A crop shows part of a big layer.
A legend under the panels names every colour. ``CHANGE_COLOURS`` are the colours of the three
kinds of change, shared with ``viz.summary``.
"""
from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap

from rigl_np import backend
from rigl_np.rigl import rigl_update
from rigl_np.viz.common import mask_legend, new_figure, rows_view


CHANGE_COLOURS = {"dropped": "tab:red", "grown": "tab:green", "regrown same": "tab:purple"}


def _show(ax, image, title, cmap, **kw):
    shown = ax.imshow(image, cmap=cmap, aspect="auto", interpolation="nearest", **kw)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("input (fan-in)")
    ax.set_ylabel("output neuron")
    return shown


def plot_update(weight, mask, grad, drop_fraction: float, crop=None, name: str = "layer"):
    """Panels of one ``rigl_update(weight, mask, grad, drop_fraction)``; returns the Figure.

    weight, grad: float arrays; mask: bool, all of one layer's shape (conv layers are shown as
    (out, in*kh*kw)). ``crop``: a pair of slices (rows, columns) of that 2-D view to show; the
    update itself always runs on the whole layer. Panel titles name what is drawn:
    "mask before", "|W| (active)", "|G| (dense gradient)", "mask after", "dropped", "grown",
    "regrown same"; the last panel lists the counts n, k, dropped, grown, regrown-same, new.
    """
    weight, mask, grad = (backend.to_numpy(a) for a in (weight, mask, grad))   # CuPy too
    # 1. the update, on the whole layer
    result = rigl_update(weight, mask, grad, drop_fraction)
    # 2. the 2-D views, cropped
    window = crop or (slice(None), slice(None))
    view = {key: rows_view(a)[window] for key, a in (
        ("before", mask), ("weight", np.where(mask, np.abs(weight), np.nan)),
        ("grad", np.abs(grad)), ("after", result.mask), ("dropped", result.dropped),
        ("grown", result.grown), ("regrown same", result.regrown_same))}
    # 3. the panels
    fig, axes = new_figure(2, 4, panel=(3.2, 2.8))
    (before, w_ax, g_ax, after), (drop_ax, grow_ax, same_ax, text_ax) = axes
    binary = {"vmin": 0, "vmax": 1}
    _show(before, view["before"], "mask before", "Greys", **binary)
    fig.colorbar(_show(w_ax, view["weight"], "|W| (active): drop the smallest", "viridis"),
                 ax=w_ax)
    fig.colorbar(_show(g_ax, view["grad"], "|G| (dense gradient): grow the largest", "magma"),
                 ax=g_ax)
    _show(after, view["after"], "mask after", "Greys", **binary)
    for ax, key, title in ((drop_ax, "dropped", "dropped"),
                           (grow_ax, "grown", "grown (new ones start at 0)"),
                           (same_ax, "regrown same", "regrown same (keep their weight)")):
        _show(ax, view[key], title, ListedColormap(["white", CHANGE_COLOURS[key]]), **binary)
    mask_legend(fig, CHANGE_COLOURS, loc="outside lower center")
    text_ax.set_axis_off()
    counts = (f"active n = {result.n_active}", f"f = {drop_fraction:.3f}",
              f"k = floor(f n) = {result.n_drop}", f"dropped = {int(result.dropped.sum())}",
              f"grown = {int(result.grown.sum())}", f"regrown same = {result.n_regrown_same}",
              f"new = {result.n_new}")
    text_ax.text(0, 0.5, "\n".join(counts), va="center", family="monospace")
    fig.suptitle(f"One RigL update of {name} {tuple(mask.shape)}{' (crop)' if crop else ''}")
    return fig
