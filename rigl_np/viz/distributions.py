"""How a sparsity distribution spreads one global density over the layers of a model.

RigL paper, Section 3 "Sparsity Distribution": uniform gives every layer the same density; ER and
ERK give small layers (few weights per neuron) more and large ones less, so the same budget leaves
no layer starved. The densities come from ``rigl_np.sparsity.layer_densities`` and the active
counts from ``rigl_np.sparsity.nnz_for``: the figure shows exactly what a run would allocate.
"""
from __future__ import annotations

import math

import numpy as np

from rigl_np.models import build_model
from rigl_np.sparsity import DISTRIBUTIONS, layer_densities, nnz_for
from rigl_np.viz.common import new_figure


def model_shapes(model: str, input_shape=(1, 28, 28), num_classes: int = 10) -> dict:
    """``{weight name: shape}`` of the sparsifiable weights of ``rigl_np.models``' ``model``."""
    net = build_model(model, input_shape, num_classes)            # no rng: zeros, shapes only
    return {name: net.params()[name].shape for name in net.sparsifiable()}


def plot_layer_densities(shapes: dict, density: float, distributions=DISTRIBUTIONS,
                         achieved: dict | None = None, title: str = ""):
    """Per-layer density (left) and active weights (right) of each distribution, side by side.

    shapes: ``{name: shape}`` (``model_shapes``); density: the global density d. One bar per
    (layer, distribution): left ``layer_densities(shapes, d, distribution)``, right the exact count
    ``nnz_for(N_l, d_l)`` on a log scale next to a hatched bar of all N_l weights. Tick labels
    carry each layer's shape and parameter count. ``achieved`` (``{name: density}``, a run's
    ``metrics["layer_density"]``) adds black markers: what the run really got.
    """
    names = list(shapes)
    sizes = [math.prod(shapes[n]) for n in names]
    x = np.arange(len(names))
    width = 0.8 / (len(distributions) + 1)
    fig, axes = new_figure(1, 2, panel=(max(4.0, 1.6 * len(names)), 3.6))
    dens_ax, count_ax = axes[0]
    # 1. one bar group per layer: the density and the active count of each distribution
    for i, distribution in enumerate(distributions):
        d = layer_densities(shapes, density, distribution)
        at = x + (i - len(distributions) / 2) * width
        dens_ax.bar(at, [d[n] for n in names], width, label=distribution)
        count_ax.bar(at, [nnz_for(size, d[n]) for n, size in zip(names, sizes)], width,
                     label=distribution)
    # 2. the dense parameter count of every layer, for scale
    count_ax.bar(x + len(distributions) / 2 * width, sizes, width, color="none",
                 edgecolor="grey", hatch="//", label="all weights")
    if achieved is not None:
        dens_ax.plot(x, [achieved[n] for n in names], "k_", markersize=22, markeredgewidth=2,
                     label="this run")
    # 3. labels
    ticks = [f"{n}\n{tuple(shapes[n])}\n{size:,} params" for n, size in zip(names, sizes)]
    for ax in (dens_ax, count_ax):
        ax.set_xticks(x, ticks, fontsize=8)
        ax.set_xlabel("layer")
        ax.legend(fontsize=8)
    dens_ax.set_ylabel("layer density")
    dens_ax.set_ylim(0, 1.05)
    dens_ax.set_title(f"Per-layer density at global density {density:g}")
    count_ax.set_yscale("log")
    count_ax.set_ylabel("active weights (log)")
    count_ax.set_title("Active weights per layer")
    if title:
        fig.suptitle(title)
    return fig
