"""RigL in one picture, for a slide: one real update as mask -> drop -> grow -> mask, the schedule
that repeats it, and (optionally) what it buys, accuracy against sparsity.

RigL paper, Algorithm 1 and Section 3: every delta_t batches until T_end, each layer drops the
f(t) n active connections with the smallest |W| and grows as many where the dense gradient |G| is
largest, new ones starting at 0. The update is ``rigl_np.rigl.rigl_update`` on the whole layer
(a crop is only what is shown); f(t) is ``rigl_np.rigl.drop_fraction``; the accuracy panel is
``runs.draw_accuracy_vs_sparsity`` on a results table (``read_results``).

Each of the four mask panels is one categorical image (``CATEGORIES``): inactive white, active
black, and the update's changes in the colours of ``plot_update`` (``update.CHANGE_COLOURS``).
"""
from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from rigl_np import backend
from rigl_np.rigl import drop_fraction, rigl_update
from rigl_np.viz.common import MASK_COLOURS, mask_legend, rows_view
from rigl_np.viz.runs import draw_accuracy_vs_sparsity
from rigl_np.viz.schedule import draw_drop_schedule
from rigl_np.viz.update import CHANGE_COLOURS

CATEGORIES = ("inactive", "active", "dropped", "grown", "regrown same")   # image values 0..4
COLOURS = ListedColormap([MASK_COLOURS["inactive"], MASK_COLOURS["active"],
                          *(CHANGE_COLOURS[c] for c in CATEGORIES[2:])])


def update_images(mask, result) -> dict:
    """The four panels' images, values indexing ``CATEGORIES``, from a mask and its update.

    "before": the mask; "drop": kept active, dropped marked; "grow": kept active, new
    connections as grown, dropped-and-grown-back as regrown same; "after": the new mask.
    """
    kept = mask & ~result.dropped
    drop = np.where(result.dropped, 2, kept.astype(int))
    grow = np.select([result.regrown_same, result.new, kept], [4, 3, 1], 0)
    return {"before": mask.astype(int), "drop": drop, "grow": grow,
            "after": result.mask.astype(int)}


def _arrow(ax, text: str) -> None:
    """An arrow from ``ax`` into the gap before the panel on its right, ``text`` above it
    (outside the layout, so the panels keep their size)."""
    arrow = ax.annotate("", xy=(1.2, 0.5), xytext=(1.03, 0.5), xycoords="axes fraction",
                        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 2})
    label = ax.text(1.115, 0.55, text, transform=ax.transAxes, ha="center", va="bottom",
                    fontsize=8, zorder=10, bbox={"facecolor": "white", "edgecolor": "none"})
    for artist in (arrow, label):
        artist.set_in_layout(False)


def plot_rigl_in_one_picture(weight, mask, grad, step: int, alpha: float, delta_t: int,
                             t_end: int, total_steps: int, crop=None, name: str = "layer",
                             rows: list | None = None, schedule: str = "cosine"):
    """The summary figure; returns it.

    weight, mask, grad: one layer (grad the dense gradient of a batch), ``step`` the batch of the
    update, whose drop fraction is f(step) under ``schedule``, ``alpha``, ``t_end``; crop: a pair
    of slices of the (out, fan-in) view to show. ``rows``: one model's results table, for the
    accuracy-vs-sparsity panel (left out when None).
    1. the update on the whole layer, at f(step);
    2. the top row: mask before -> drop -> grow -> mask after, with the counts in the titles;
    3. the bottom row: the schedule with this update marked, and the accuracy panel.
    """
    weight, mask, grad = (backend.to_numpy(a) for a in (weight, mask, grad))   # CuPy too
    # 1. the update
    f = drop_fraction(step, alpha, t_end, schedule)
    result = rigl_update(weight, mask, grad, f)
    window = crop or (slice(None), slice(None))
    images = {key: rows_view(a)[window] for key, a in update_images(mask, result).items()}
    # 2. the four mask panels
    fig = Figure(figsize=(14, 7.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1, 0.9))
    top.get_layout_engine().set(wspace=0.22)
    panels = top.subplots(1, 4)
    titles = (f"1. mask: n = {result.n_active:,} active (whole layer)",
              f"2. drop the k = floor(f n) = {result.n_drop:,}\nactive with the smallest |W|",
              f"3. grow k = {int(result.grown.sum()):,} where |G| is largest\n"
              f"({result.n_new:,} new, at weight 0; {result.n_regrown_same:,} regrown same)",
              f"4. mask: n = {int(result.mask.sum()):,} active")
    for ax, image, title in zip(panels, images.values(), titles):
        ax.imshow(image, cmap=COLOURS, vmin=-0.5, vmax=len(CATEGORIES) - 0.5, aspect="auto",
                  interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("input (fan-in)")
    panels[0].set_ylabel("output neuron")
    for ax in panels[1:]:
        ax.tick_params(labelleft=False)                  # the same rows: room for the arrows
    for ax, text in zip(panels, (f"f={f:.2f}", "|G|", "new\nW=0")):
        _arrow(ax, text)
    mask_legend(top, {c: CHANGE_COLOURS[c] for c in CATEGORIES[2:]}, loc="outside lower center",
                fontsize=9)
    # 3. the schedule and the accuracy
    sched_ax, *acc_ax = bottom.subplots(1, 2 if rows else 1)
    draw_drop_schedule(sched_ax, alpha, delta_t, t_end, total_steps, schedules=(schedule,))
    sched_ax.plot([step], [f], "*", color="tab:red", markersize=14,
                  label=f"the update above: t = {step}, f = {f:.3f}")
    sched_ax.legend(fontsize=8)
    sched_ax.set_title(f"Repeated every {delta_t} batches until T_end, f(t) decaying from "
                       f"alpha = {alpha:g} to 0", fontsize=10)
    if rows:
        draw_accuracy_vs_sparsity(acc_ax[0], rows)
        acc_ax[0].set(xlabel="sparsity (1 - real global density)", ylabel="test accuracy")
        seeds = sorted({int(r["seeds"]) for r in rows})
        acc_ax[0].set_title(f"{rows[0]['model']}: test accuracy, mean ± std over "
                            f"{'/'.join(map(str, seeds))} seeds", fontsize=10)
        acc_ax[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"RigL in one picture: one update of {name} {tuple(mask.shape)}"
                 f"{' (crop)' if crop else ''}", fontsize=13)
    return fig
