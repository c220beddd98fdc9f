"""Masks as pictures: the mask itself, and each input pixel's outgoing connections over time.

The in-degree heatmap follows google-research's ``rigl/mnist/visualize_mask_records.py`` and SET's
``plot_input_layer_connectivity.py``: for the first layer of an MLP (weight (out, C*H*W)), pixel
p's value is the number of active connections leaving it, ``mask.sum(axis=0)`` reshaped to the
image. Under RigL the border pixels, which carry no signal and so get no gradient, lose their
connections update by update and the digit area gains them.

Snapshots are ``{step: {layer: bool mask}}`` (``rigl_np.runfolder.load_snapshots``).
The animation is a GIF written with Pillow, so no ffmpeg is needed.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from rigl_np.atomic import atomic_file
from rigl_np.viz.common import DPI, mask_legend, new_figure, rows_view


def in_degree(mask, input_shape) -> np.ndarray:
    """(H, W) outgoing connections of each input pixel of a first-layer mask (out, C*H*W).

    Channels are summed, so a colour image gives one map.
    """
    return np.asarray(mask).sum(axis=0).reshape(input_shape).sum(axis=0)


def plot_masks(masks: dict, title: str = ""):
    """One panel per layer: its mask as an (out, fan-in) image, black = active connection.

    masks: ``{name: bool mask}``, e.g. one snapshot. A mask with more rows or columns than the
    panel has pixels is averaged down (antialiased), so grey is the local density; a smaller one
    is drawn cell by cell (nearest), black or white. Conv masks (out, in, kh, kw) are shown as
    (out, in*kh*kw): a row is one output neuron's inputs, its columns the kernel positions of
    each input channel in turn. Titles give shape and density; a legend under the panels names
    the colours (``common.mask_legend``).
    """
    panel = (4.0, 3.4)
    fig, axes = new_figure(1, len(masks), panel=panel)
    pixels = (panel[1] * DPI, panel[0] * DPI)                     # (rows, columns) of a panel
    for ax, (name, mask) in zip(axes[0], masks.items()):
        rows = rows_view(mask)
        small = rows.shape[0] <= pixels[0] and rows.shape[1] <= pixels[1]
        ax.imshow(rows, cmap="Greys", vmin=0, vmax=1, aspect="auto",
                  interpolation="nearest" if small else "antialiased")
        ax.set_title(f"{name} {tuple(mask.shape)}\ndensity {mask.mean():.4f}", fontsize=9)
        ax.set_xlabel("input (fan-in)")
        ax.set_ylabel("output neuron")
    mask_legend(fig, loc="outside lower center")
    if title:
        fig.suptitle(title)
    return fig


def max_in_degree(snapshots: dict, layer: str, input_shape) -> int:
    """The largest in-degree of ``layer`` over every snapshot: one colour scale for all."""
    return max(int(in_degree(masks[layer], input_shape).max()) for masks in snapshots.values())


def pick_steps(steps, n: int) -> list:
    """At most ``n`` of ``steps``, evenly spread, always the first and the last."""
    steps = list(steps)
    if len(steps) <= n:
        return steps
    return [steps[round(i)] for i in np.linspace(0, len(steps) - 1, n)]


def plot_in_degree(snapshots: dict, layer: str, input_shape, max_frames: int = 12,
                   ncols: int = 6, vmax: int | None = None, panel=(2.0, 2.4)):
    """A grid of in-degree heatmaps (``in_degree``) of ``layer``, one per snapshot step.

    At most ``max_frames`` steps (``pick_steps``), all on one colour scale from 0 to ``vmax``
    (default: the largest in-degree among them; pass ``max_in_degree(...)`` of all snapshots to
    keep one scale while stepping through them), with one colour bar ("outgoing connections");
    each frame ``panel`` inches.
    """
    steps = pick_steps(snapshots, max_frames)
    maps = [in_degree(snapshots[s][layer], input_shape) for s in steps]
    vmax = max(int(m.max()) for m in maps) if vmax is None else vmax
    ncols = min(ncols, len(steps))
    nrows = math.ceil(len(steps) / ncols)
    fig, axes = new_figure(nrows, ncols, panel=panel)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, step, degree in zip(axes.flat, steps, maps):
        image = ax.imshow(degree, cmap="viridis", vmin=0, vmax=vmax)
        ax.set_title(f"step {step}", fontsize=9)
    fig.colorbar(image, ax=axes, label="outgoing connections")
    fig.suptitle(f"{layer}: connections leaving each input pixel")
    return fig


def write_in_degree_gif(snapshots: dict, layer: str, input_shape, path,
                        frame_ms: int = 300):
    """Animate ``layer``'s in-degree heatmap over every snapshot into a GIF at ``path``.

    One frame per snapshot step, on one colour scale with a colour bar; returns ``path``.
    1. compute every map (the colour scale needs the largest value);
    2. draw one figure and, per frame, swap the image data and the title and render with Agg
       (the layout is computed for the first frame and kept);
    3. hand the frames to Pillow, which writes the GIF (atomically: a stop leaves no torn file).
    """
    maps = {step: in_degree(masks[layer], input_shape) for step, masks in snapshots.items()}
    vmax = max(int(m.max()) for m in maps.values())      # max_in_degree, from the maps at hand
    fig, axes = new_figure(1, 1, panel=(3.6, 3.2))
    ax = axes[0, 0]
    image = ax.imshow(next(iter(maps.values())), cmap="viridis", vmin=0, vmax=vmax)
    ax.set_axis_off()
    fig.colorbar(image, ax=ax, label="outgoing connections")
    canvas = FigureCanvasAgg(fig)
    frames = []
    for step, degree in maps.items():
        image.set_data(degree)
        ax.set_title(f"{layer}  step {step}", fontsize=9)
        canvas.draw()
        fig.set_layout_engine("none")                  # laid out once: every frame alike, fast
        frames.append(Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB"))
    with atomic_file(path) as f:
        frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:],
                       duration=frame_ms, loop=0)
    return Path(path)
