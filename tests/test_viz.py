"""The figures of rigl_np.viz: each test checks what was drawn (line data, image arrays, bar
heights, labels, GIF frames), never pixels against a baseline image.

Fake run folders are written by hand (config.json, metrics.json, masks.npz through
``rigl_np.runfolder.save_snapshots``); one real seconds-long run on the synthetic data set checks
``plot_runs`` end to end, files included (rendering a PNG takes a good fraction of a second, so
the other ``plot_runs`` tests check which figures it makes without rendering them).
"""
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rigl_np import timing, viz
from rigl_np.compare import summarise, to_csv
from rigl_np.config import GROUPS
from rigl_np.methods import get
from rigl_np.rigl import drop_fraction, is_update_step, rigl_update
from rigl_np.runfolder import load_snapshots, save_snapshots, write_json
from rigl_np.sparsity import layer_densities, nnz_for
from rigl_np.viz import report
from rigl_np.viz.report import input_layer

SHAPES = {"fc1.weight": (300, 784), "fc2.weight": (100, 300), "fc3.weight": (10, 100)}
STEPS = (0, 5, 10)


def random_snapshots(rng, density=0.1):
    """``{step: {name: bool mask}}`` of the two sparse layers of lenet300."""
    return {s: {n: rng.random(SHAPES[n]) < density for n in ("fc1.weight", "fc2.weight")}
            for s in STEPS}


def update_records(neurons=False):
    records = []
    for i, step in enumerate(STEPS[1:]):
        layers = {n: {"dropped": 50 - 10 * i, "grown": 50 - 10 * i, "regrown_same": 3 + i,
                      "nnz": 500} for n in ("fc1.weight", "fc2.weight")}
        if neurons:
            for j, v in enumerate(layers.values()):
                v["active_neurons"] = 90 - 5 * i - j
        records.append({"step": step, "drop_fraction": 0.3 - 0.1 * i, "layers": layers,
                        "turnover": 0.09 - 0.02 * i, "itop_rate": 0.12 + 0.01 * i})
    return records


def fake_run(folder, method="rigl", sparsity=0.9, seed=0, accuracy=0.8, seconds=2.0,
             snapshots=None, updates=()):
    """Write a run folder like rigl_np.experiment.run does; returns its path."""
    config = {k: dataclasses.asdict(cls()) for k, cls in GROUPS.items()}
    config["data"]["dataset"] = "synthetic"
    config["sparse"].update(method=method, sparsity=sparsity, delta_t=5)
    config["optim"].update(seed=seed, epochs=2)
    density = 1.0 if method == "dense" else 1 - sparsity
    real = layer_densities(SHAPES, density, "erk")
    history = [{"epoch": e, "lr": 0.05, "train_loss": 1.0 / e, "train_accuracy": accuracy - 0.1 / e,
                "test_loss": 1.2 / e, "test_accuracy": accuracy - 0.05 / e, "seconds": seconds / 2}
               for e in (1, 2)]
    write_json(folder / "config.json", config)
    write_json(folder / "metrics.json", {
        "test_accuracy": accuracy, "history": history, "layer_density": real,
        "global_density": density, "nominal_sparsity": sparsity, "train_seconds": seconds,
        "flops": {"train_multiplier": density, "inference_multiplier": density},
        "mask_updates": list(updates), "total_steps": 20, "input_shape": [1, 28, 28], "num_classes": 10,
        "run_dir": str(folder)})
    if snapshots:
        packed = {s: {n: np.packbits(m.ravel()) for n, m in masks.items()}
                  for s, masks in snapshots.items()}
        save_snapshots(folder / "masks.npz", packed, {n: SHAPES[n] for n in snapshots[0]})
    return folder


def titled(fig, title):
    """The axes of ``fig`` whose title starts with ``title``."""
    return next(ax for ax in fig.axes if ax.get_title().startswith(title))


def test_layer_densities_draws_each_distribution_and_the_run():
    achieved = {"fc1.weight": 0.08, "fc2.weight": 0.23, "fc3.weight": 1.0}
    fig = viz.plot_layer_densities(SHAPES, 0.1, achieved=achieved)
    dens_ax, count_ax = fig.axes
    for distribution in ("uniform", "er", "erk"):
        d = layer_densities(SHAPES, 0.1, distribution)
        bars = next(c for c in dens_ax.containers if c.get_label() == distribution)
        assert [b.get_height() for b in bars] == pytest.approx([d[n] for n in SHAPES])
        bars = next(c for c in count_ax.containers if c.get_label() == distribution)
        assert [b.get_height() for b in bars] == [nnz_for(math.prod(s), d[n])
                                                  for n, s in SHAPES.items()]
    run_line = next(l for l in dens_ax.lines if l.get_label() == "this run")
    assert list(run_line.get_ydata()) == list(achieved.values())
    ticks = [t.get_text() for t in dens_ax.get_xticklabels()]
    assert "235,200 params" in ticks[0] and "(300, 784)" in ticks[0]
    assert dens_ax.get_ylabel() == "layer density"


def test_model_shapes_are_the_sparsifiable_weights():
    assert viz.model_shapes("lenet300") == SHAPES
    assert viz.model_shapes("lenet5")["conv1.weight"] == (6, 1, 5, 5)


def test_drop_schedule_lines_update_markers_and_recorded_updates():
    records = update_records()
    fig = viz.plot_drop_schedule(0.3, 5, 15, 20, recorded=records)
    ax = fig.axes[0]
    cosine = next(l for l in ax.lines if l.get_label() == "cosine")
    assert list(cosine.get_xdata()) == list(range(1, 21))
    assert list(cosine.get_ydata()) == [drop_fraction(t, 0.3, 15, "cosine") for t in range(1, 21)]
    dots = ax.lines[ax.lines.index(cosine) + 1]                  # the update steps on the curve
    updates = [t for t in range(1, 21) if is_update_step(t, 5, 15)]
    assert list(dots.get_xdata()) == updates == [5, 10]
    crosses = next(l for l in ax.lines if l.get_label() == "this run's updates")
    assert list(crosses.get_xdata()) == [5, 10]
    assert list(crosses.get_ydata()) == [r["drop_fraction"] for r in records]


def test_in_degree_is_outgoing_connections_per_pixel():
    mask = np.random.default_rng(0).random((300, 784)) < 0.1
    expected = mask.sum(axis=0).reshape(28, 28)
    np.testing.assert_array_equal(viz.in_degree(mask, (1, 28, 28)), expected)
    colour = np.random.default_rng(1).random((20, 3 * 4 * 4)) < 0.5
    np.testing.assert_array_equal(viz.in_degree(colour, (3, 4, 4)),
                                  colour.sum(axis=0).reshape(3, 4, 4).sum(axis=0))


def test_in_degree_frames_and_gif(tmp_path):
    snapshots = random_snapshots(np.random.default_rng(0))
    fig = viz.plot_in_degree(snapshots, "fc1.weight", (1, 28, 28))
    frames = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in frames] == [f"step {s}" for s in STEPS]
    for ax, step in zip(frames, STEPS):
        np.testing.assert_array_equal(ax.images[0].get_array(),
                                      viz.in_degree(snapshots[step]["fc1.weight"], (1, 28, 28)))
    few = viz.plot_in_degree(snapshots, "fc1.weight", (1, 28, 28), max_frames=2)
    assert [ax.get_title() for ax in few.axes if ax.images] == ["step 0", "step 10"]
    path = viz.write_in_degree_gif(snapshots, "fc1.weight", (1, 28, 28), tmp_path / "a.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == len(STEPS)


def test_plot_masks_shows_conv_masks_as_rows():
    conv = np.random.default_rng(0).random((6, 2, 3, 3)) < 0.5
    fig = viz.plot_masks({"conv.weight": conv})
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), conv.reshape(6, 18))
    assert "(6, 2, 3, 3)" in fig.axes[0].get_title()


def test_plot_update_panels_are_the_update_on_the_whole_layer():
    rng = np.random.default_rng(0)
    mask = rng.random((40, 50)) < 0.3
    weight, grad = rng.standard_normal((40, 50)) * mask, rng.standard_normal((40, 50))
    crop = (slice(5, 25), slice(0, 30))
    fig = viz.plot_update(weight, mask, grad, 0.3, crop=crop)
    result = rigl_update(weight, mask, grad, 0.3)
    for title, expected in (("mask before", mask), ("mask after", result.mask),
                            ("dropped", result.dropped), ("grown", result.grown),
                            ("regrown same", result.regrown_same), ("|G|", np.abs(grad))):
        np.testing.assert_array_equal(titled(fig, title).images[0].get_array(), expected[crop])
    w_image = np.ma.filled(titled(fig, "|W|").images[0].get_array(), np.nan)
    np.testing.assert_array_equal(w_image, np.where(mask, np.abs(weight), np.nan)[crop])
    text = next(t.get_text() for ax in fig.axes for t in ax.texts)
    assert f"k = floor(f n) = {result.n_drop}" in text
    assert f"regrown same = {result.n_regrown_same}" in text


def test_update_counts_turnover_and_itop():
    records = update_records()
    fig = viz.plot_update_counts(records)
    ax = titled(fig, "fc2.weight")
    lines = {l.get_label(): l for l in ax.lines}
    assert list(lines["dropped"].get_xdata()) == [5, 10]
    assert list(lines["regrown same"].get_ydata()) == [3, 4]
    assert list(lines["grown"].get_ydata()) == [50, 40]
    fig = viz.plot_turnover_itop(records)
    turnover, itop = fig.axes
    assert list(turnover.lines[0].get_ydata()) == [r["turnover"] for r in records]
    assert list(itop.lines[0].get_ydata()) == [r["itop_rate"] for r in records]


def test_fan_histograms_count_degrees():
    conv = np.zeros((4, 3, 2, 2), dtype=bool)
    conv[0, 0] = conv[1, :, 0, 0] = True
    fan_in, fan_out = viz.fan_in_out(conv)
    assert list(fan_in) == [4, 3, 0, 0] and list(fan_out) == [5, 1, 1]
    snapshots = random_snapshots(np.random.default_rng(0))
    fig = viz.plot_fan_histograms(snapshots)
    ax = titled(fig, "fc2.weight: fan-in")
    steps = [p.get_label() for p in ax.patches]
    assert steps == [f"step {s}" for s in STEPS]
    values, edges, _ = ax.patches[-1].get_data()
    fan_in = snapshots[10]["fc2.weight"].sum(axis=1)
    np.testing.assert_array_equal(values, np.histogram(fan_in, edges)[0])
    assert values.sum() == 100                                     # every neuron counted once


def test_active_neurons_only_with_srigl_records():
    fig = viz.plot_active_neurons(update_records(neurons=True))
    lines = {l.get_label(): l for l in fig.axes[0].lines}
    assert list(lines["fc1.weight"].get_ydata()) == [90, 85]
    assert list(lines["fc2.weight"].get_ydata()) == [89, 84]
    with pytest.raises(ValueError, match="active_neurons"):
        viz.plot_active_neurons(update_records())


def test_training_curves_one_line_per_run(tmp_path):
    runs = [fake_run(tmp_path / "a", "dense", accuracy=0.9), fake_run(tmp_path / "b", "rigl")]
    fig = viz.plot_training_curves(runs)
    ax = titled(fig, "test accuracy")
    assert [l.get_label() for l in ax.lines] == ["dense seed0", "rigl erk 0.9 seed0"]
    assert list(ax.lines[0].get_ydata()) == [0.85, 0.875]
    assert list(ax.lines[1].get_xdata()) == [1, 2]


def results_table(tmp_path):
    """A results.csv like rigl_np.compare writes, read back."""
    rows = [dict(model="lenet300", method=m, distribution=dist, sparsity=s, seed=0,
                 test_accuracy=acc, global_density=1 - s if m != "small-dense" else 1.0,
                 train_flops=f, inference_flops=1 - s, seconds=sec,
                 has_masks=get(m).has_masks, dense_baseline=get(m).dense_baseline)
            for m, dist, s, acc, f, sec in (("dense", "erk", 0.0, 0.98, 1.0, 10.0),
                                            ("rigl", "erk", 0.8, 0.97, 0.22, 14.0),
                                            ("rigl", "erk", 0.9, 0.96, 0.12, 15.0),
                                            ("small-dense", "erk", 0.9, 0.95, 0.1, 2.0))]
    (tmp_path / "results.csv").write_text(to_csv(summarise(rows)))
    return viz.read_results(tmp_path / "results.csv")


def test_accuracy_vs_sparsity_and_flops(tmp_path):
    rows = results_table(tmp_path)
    fig = viz.plot_accuracy_vs_sparsity(rows)
    ax = fig.axes[0]
    rigl = next(c for c in ax.containers if c.get_label() == "rigl (erk)")
    assert list(rigl.lines[0].get_xdata()) == pytest.approx([0.8, 0.9])   # 1 - real density
    assert list(rigl.lines[0].get_ydata()) == [0.97, 0.96]
    small = next(c for c in ax.containers if c.get_label() == "small-dense")
    assert list(small.lines[0].get_xdata()) == [0.9]                     # matched, not masked
    dense = next(l for l in ax.lines if l.get_label() == "dense")
    assert list(dense.get_ydata()) == [0.98, 0.98]
    fig = viz.plot_accuracy_vs_flops(rows)
    rigl = next(c for c in fig.axes[0].containers if c.get_label() == "rigl (erk)")
    assert list(rigl.lines[0].get_xdata()) == [0.22, 0.12]            # by sparsity
    assert fig.axes[0].get_xscale() == "log"


def test_flops_vs_time_is_relative_to_dense(tmp_path):
    rows = results_table(tmp_path)
    fig = viz.plot_flops_vs_time(rows)
    points = {l.get_label(): l for l in fig.axes[0].lines}
    assert list(points["rigl (erk)"].get_xdata()) == [0.22, 0.12]
    assert list(points["rigl (erk)"].get_ydata()) == [1.4, 1.5]
    assert list(points["dense"].get_ydata()) == [1.0]
    assert fig.axes[0].get_ylabel() == "measured wall time (x dense)"
    with pytest.raises(ValueError, match="dense"):
        viz.plot_flops_vs_time([r for r in rows if r["method"] != "dense"])


def test_results_from_runs_matches_the_compare_table(tmp_path):
    runs = [fake_run(tmp_path / f"r{seed}", "rigl", seed=seed, accuracy=0.8 + 0.1 * seed)
            for seed in (0, 1)]
    (row,) = viz.results_from_runs(runs)
    assert row["seeds"] == 2 and row["accuracy_mean"] == pytest.approx(0.85)
    assert row["global_density"] == pytest.approx(0.1)


@pytest.fixture
def no_png(monkeypatch):
    """Let plot_runs decide and draw, but skip rendering PNGs (slow; the real run renders)."""
    monkeypatch.setattr(report, "save", lambda fig, path: Path(path))


def test_plot_runs_writes_what_applies(tmp_path, no_png):
    rng = np.random.default_rng(0)
    rigl = fake_run(tmp_path / "rigl", "rigl", snapshots=random_snapshots(rng),
                    updates=update_records())
    srigl = fake_run(tmp_path / "srigl", "srigl", updates=update_records(neurons=True))
    dense = fake_run(tmp_path / "dense", "dense", accuracy=0.9)
    written = viz.plot_runs([rigl, srigl, dense], out_dir=tmp_path / "cmp")
    assert (rigl / "in_degree.gif").exists()
    names = {(p.parent.name, p.name) for p in written}
    for name in ("training_curves.png", "layer_densities.png", "update_counts.png",
                 "turnover_itop.png", "drop_schedule.png", "masks.png", "fan_histograms.png",
                 "in_degree.png", "in_degree.gif"):
        assert ("rigl", name) in names
    assert ("srigl", "active_neurons.png") in names and ("srigl", "masks.png") not in names
    assert {n for d, n in names if d == "dense"} == {"training_curves.png"}
    assert {n for d, n in names if d == "cmp"} == {
        "compare_training_curves.png", "accuracy_vs_sparsity.png", "accuracy_vs_flops.png",
        "flops_vs_time.png"}


def test_plot_runs_reads_a_compare_folder(tmp_path, no_png):
    results_table(tmp_path)
    fake_run(tmp_path / "runs" / "a", "dense")
    fake_run(tmp_path / "runs" / "b", "static")
    written = viz.plot_runs(tmp_path)
    assert tmp_path / "flops_vs_time.png" in written
    assert tmp_path / "runs" / "b" / "layer_densities.png" in written


def test_plot_runs_on_a_real_run(tmp_path):
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "rigl_np", "train", "--dataset", "synthetic",
                    "--epochs", "1", "--delta-t", "5", "--out", str(out)], check=True,
                   capture_output=True)
    written = viz.plot_runs(out)
    for name in ("training_curves.png", "layer_densities.png", "update_counts.png",
                 "turnover_itop.png", "masks.png", "fan_histograms.png", "in_degree.png",
                 "in_degree.gif"):
        assert out / name in written and (out / name).stat().st_size > 0
    snapshots = load_snapshots(out / "masks.npz")
    assert input_layer(snapshots[0], (1, 28, 28)) == "fc1.weight"
    with Image.open(out / "in_degree.gif") as gif:
        assert gif.n_frames == len(snapshots)
    fig = viz.plot_in_degree(snapshots, "fc1.weight", (1, 28, 28), max_frames=len(snapshots))
    frames = [ax for ax in fig.axes if ax.images]
    assert len(frames) == len(snapshots)
    for ax, (step, masks) in zip(frames, snapshots.items()):
        assert ax.get_title() == f"step {step}"
        np.testing.assert_array_equal(ax.images[0].get_array(),
                                      masks["fc1.weight"].sum(axis=0).reshape(28, 28))


# ---- one colour per method, readable axes, legends -------------------------------------------

def test_every_method_has_its_own_colour():
    from rigl_np.methods import NAMES
    assert set(NAMES) <= set(viz.METHOD_COLOURS), "give a new method a colour in viz.common"
    colours = [viz.METHOD_COLOURS[m] for m in NAMES]
    assert len(set(colours)) == len(colours)


def series_colour(ax, label):
    """The colour of the errorbar series ``label`` in ``ax``."""
    container = next(c for c in ax.containers if c.get_label() == label)
    return container.lines[0].get_color()


def test_a_method_keeps_its_colour_whatever_else_is_drawn(tmp_path):
    rows = results_table(tmp_path)
    without_dense = [r for r in rows if r["method"] != "dense"]
    for table in (rows, without_dense, [r for r in rows if r["method"] == "rigl"]):
        for plot in (viz.plot_accuracy_vs_sparsity, viz.plot_accuracy_vs_flops):
            ax = plot(table).axes[0]
            assert series_colour(ax, "rigl (erk)") == viz.METHOD_COLOURS["rigl"]
    runs = [fake_run(tmp_path / "s", "static"), fake_run(tmp_path / "r", "rigl")]
    for order in (runs, runs[::-1]):
        ax = titled(viz.plot_training_curves(order), "test accuracy")
        colours = {l.get_label(): l.get_color() for l in ax.lines}
        assert colours["rigl erk 0.9 seed0"] == viz.METHOD_COLOURS["rigl"]
        assert colours["static erk 0.9 seed0"] == viz.METHOD_COLOURS["static"]
    points = {l.get_label(): l for l in viz.plot_flops_vs_time(rows).axes[0].lines}
    assert points["rigl (erk)"].get_color() == viz.METHOD_COLOURS["rigl"]


def test_distribution_is_the_line_style_and_one_method_one_colour():
    erk, uniform = viz.method_style("rigl", "erk"), viz.method_style("rigl", "uniform")
    assert erk["color"] == uniform["color"] == viz.METHOD_COLOURS["rigl"]
    assert erk["linestyle"] != uniform["linestyle"] and erk["marker"] != uniform["marker"]


def collapsed_table(tmp_path):
    """results_table plus static at 0.9 and small-dense collapsed (45 % ± 30) at 0.98."""
    rows = [dict(model="lenet300", method=m, distribution="erk", sparsity=s, seed=seed,
                 test_accuracy=acc + 0.01 * seed, global_density=1 - s if m != "small-dense" else 1,
                 train_flops=1 - s, inference_flops=1 - s, seconds=1.0,
                 has_masks=get(m).has_masks, dense_baseline=get(m).dense_baseline)
            for m, s, acc in (("dense", 0.0, 0.89), ("static", 0.9, 0.86), ("rigl", 0.9, 0.87),
                              ("small-dense", 0.9, 0.85), ("small-dense", 0.98, 0.45))
            for seed in (0, 1, 2)]
    rows[-1]["test_accuracy"] = 0.15                               # one seed does not train
    (tmp_path / "results.csv").write_text(to_csv(summarise(rows)))
    return viz.read_results(tmp_path / "results.csv")


@pytest.mark.parametrize("plot", [viz.plot_accuracy_vs_sparsity, viz.plot_accuracy_vs_flops])
def test_a_collapsed_run_does_not_stretch_the_accuracy_axis(tmp_path, plot):
    rows = collapsed_table(tmp_path)
    collapsed = next(r for r in rows if r["method"] == "small-dense" and r["sparsity"] == 0.98)
    ax = plot(rows).axes[0]
    low, high = ax.get_ylim()
    sparse = [r for r in rows if r["has_masks"] or r["dense_baseline"]]
    assert low <= min(r["accuracy_mean"] - r["accuracy_std"] for r in sparse)
    assert high >= max(r["accuracy_mean"] + r["accuracy_std"] for r in sparse)
    assert high - low < 0.1                       # the 0.86 / 0.87 gap gets the whole panel
    assert collapsed["accuracy_mean"] < low
    (arrow,) = [t for t in ax.texts if t.get_text().startswith("small-dense")]
    assert f"{100 * collapsed['accuracy_mean']:.1f} ± {100 * collapsed['accuracy_std']:.1f}" \
        in arrow.get_text()
    assert arrow.xy[1] == low                     # the arrow points at the bottom edge


def test_accuracy_vs_flops_marks_sparsity_without_text_labels(tmp_path):
    rows = results_table(tmp_path)
    ax = viz.plot_accuracy_vs_flops(rows).axes[0]
    assert len(ax.texts) == 0                     # nothing written on the points to overlap
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["sparsity 0", "sparsity 0.8", "sparsity 0.9"]
    markers = {(l.get_xdata()[0], l.get_marker()) for l in ax.lines if len(l.get_xdata()) == 1}
    assert {(0.22, "s"), (0.12, "^"), (1.0, "o")} <= markers


def overlapping(labels) -> list:
    """Pairs of neighbouring tick labels (by position) whose drawn boxes intersect."""
    boxes = [t.get_window_extent() for t in labels if t.get_text()]
    boxes.sort(key=lambda b: b.x0)
    return [(a, b) for a, b in zip(boxes, boxes[1:]) if a.x1 > b.x0]


def test_update_count_ticks_do_not_run_together():
    records = [{"step": t, "drop_fraction": 0.1, "turnover": 0.1, "itop_rate": 0.2,
                "layers": {n: {"dropped": 5, "grown": 5, "regrown_same": 1, "nnz": 50}
                           for n in ("fc1.weight", "fc2.weight", "fc3.weight")}}
               for t in range(100, 3600, 100)]                      # a 10-epoch run's steps
    for fig in (viz.plot_update_counts(records), viz.plot_turnover_itop(records)):
        fig.canvas.draw()
        for ax in fig.axes:
            assert not overlapping(ax.get_xticklabels()), ax.get_title()


def test_mask_images_say_which_colour_is_active():
    mask = np.random.default_rng(0).random((20, 30)) < 0.3
    (legend,) = viz.plot_masks({"a.weight": mask}).legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == ["active connection", "inactive connection"]
    # the image's colour map puts black at 1 (active) and white at 0
    image = viz.plot_masks({"a.weight": mask}).axes[0].images[0]
    assert tuple(image.cmap(image.norm(1))[:3]) == (0.0, 0.0, 0.0)
    assert tuple(image.cmap(image.norm(0))[:3]) == (1.0, 1.0, 1.0)
    weight, grad = np.where(mask, 1.0, 0.0), np.ones(mask.shape)
    (legend,) = viz.plot_update(weight, mask, grad, 0.3).legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "active connection", "inactive connection", "dropped", "grown", "regrown same"]


def test_in_degree_frames_can_share_one_scale():
    snapshots = random_snapshots(np.random.default_rng(0))
    top = viz.max_in_degree(snapshots, "fc1.weight", (1, 28, 28))
    assert top == max(int(m["fc1.weight"].sum(axis=0).max()) for m in snapshots.values())
    one = {10: snapshots[10]}
    image = viz.plot_in_degree(one, "fc1.weight", (1, 28, 28), vmax=top + 5).axes[0].images[0]
    assert image.get_clim() == (0, top + 5)


def test_rigl_in_one_picture_is_a_real_update(tmp_path):
    from rigl_np.viz.summary import update_images
    rng = np.random.default_rng(1)
    mask = rng.random((30, 40)) < 0.25
    weight, grad = rng.standard_normal(mask.shape) * mask, rng.standard_normal(mask.shape)
    crop, step = (slice(0, 20), slice(5, 35)), 300
    fig = viz.plot_rigl_in_one_picture(weight, mask, grad, step, 0.3, 100, 3000, 4000,
                                       crop=crop, rows=results_table(tmp_path))
    f = drop_fraction(step, 0.3, 3000)
    result = rigl_update(weight, mask, grad, f)
    images = update_images(mask, result)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 4
    for ax, key in zip(panels, ("before", "drop", "grow", "after")):
        np.testing.assert_array_equal(ax.images[0].get_array(), images[key][crop])
    assert f"k = floor(f n) = {result.n_drop:,}" in panels[1].get_title()
    assert f"{result.n_new:,} new" in panels[2].get_title()
    # the drop panel marks exactly the dropped, the grow panel the new and the regrown
    assert ((images["drop"] == 2) == result.dropped).all()
    assert ((images["grow"] == 3) == result.new).all()
    assert ((images["grow"] == 4) == result.regrown_same).all()
    schedule = titled(fig, "Repeated every 100 batches")
    star = next(l for l in schedule.lines if l.get_label().startswith("the update above"))
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (step, f)
    assert any(ax.get_title().startswith("lenet300: test accuracy") for ax in fig.axes)


# ---- sliders and their static fallback, timing ---------------------------------------------

def test_explore_without_a_front_end_draws_the_static_figure(monkeypatch, capsys):
    monkeypatch.setenv("RIGL_NP_SMOKE", "1")
    assert not viz.interactive.live_front_end()
    calls = []

    def draw(density, distribution):
        calls.append((density, distribution))
        return viz.plot_layer_densities(SHAPES, density, distributions=(distribution,))

    shown = viz.explore(draw, density=viz.Slider(0.01, 1.0, 0.01, 0.1),
                        distribution=viz.Choice(("uniform", "erk"), "erk"))
    assert calls == [(0.1, "erk")] and shown.widgets == {}
    bars = shown.figure.axes[0].containers[0]
    assert [b.get_height() for b in bars] == pytest.approx(
        list(layer_densities(SHAPES, 0.1, "erk").values()))
    assert "sliders for density, distribution" in capsys.readouterr().out


def test_explore_sliders_call_the_same_draw_function():
    pytest.importorskip("ipywidgets")
    calls = []

    def draw(alpha, steps, schedule):
        calls.append((alpha, steps, schedule))
        return viz.plot_drop_schedule(alpha, 10, steps, 2 * steps, schedules=(schedule,))

    shown = viz.explore(draw, live=True, alpha=viz.Slider(0.1, 0.5, 0.05, 0.3),
                        steps=viz.Slider(10, 100, 10, 50),
                        schedule=viz.Choice(("cosine", "linear"), "cosine"))
    assert type(shown.widgets["steps"]).__name__ == "IntSlider"
    assert type(shown.widgets["alpha"]).__name__ == "FloatSlider"
    shown.widgets["steps"].value = 80
    shown.widgets["schedule"].value = "linear"
    assert calls == [(0.3, 50, "cosine"), (0.3, 80, "cosine"), (0.3, 80, "linear")]
    line = next(l for l in shown.figure.axes[0].lines if l.get_label() == "linear")
    assert len(line.get_xdata()) == 160


def test_round_robin_interleaves_the_calls():
    order = []
    times = viz.round_robin({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                            repeats=3, warmup=1, before_each=lambda: order.append("-"))
    assert order == ["a", "b"] + ["-", "a", "-", "b"] * 3
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


def test_blas_threads_names_its_source(monkeypatch):
    for variable in timing.THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert viz.blas_threads().endswith("(the default: one per core)")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert viz.blas_threads() == "3 (OMP_NUM_THREADS=3)"


def test_points_of_other_distributions_are_hollow(tmp_path):
    rows = results_table(tmp_path)
    uniform = [{**r, "distribution": "uniform"} for r in rows if r["method"] == "rigl"]
    ax = viz.plot_accuracy_vs_flops(rows + uniform).axes[0]
    points = [l for l in ax.lines if len(l.get_xdata()) == 1]
    red = [l.get_fillstyle() for l in points if l.get_color() == viz.METHOD_COLOURS["rigl"]]
    assert sorted(red) == ["full", "full", "none", "none"]


def test_small_masks_are_drawn_cell_by_cell():
    rng = np.random.default_rng(0)
    fig = viz.plot_masks({"conv2.weight": rng.random((16, 6, 5, 5)) < 0.1,
                          "fc1.weight": rng.random((300, 784)) < 0.1})
    small, large = (ax.images[0] for ax in fig.axes if ax.images)
    assert small.get_interpolation() == "nearest"        # 16 rows on a 370-pixel panel: no blur
    assert large.get_interpolation() == "antialiased"    # 784 columns on 440 pixels: grey = density
