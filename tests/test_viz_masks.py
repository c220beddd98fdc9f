"""Mask figures (rigl_np.viz.masks, update, summary): in-degree maps and GIFs, mask images, one
update's panels, and RigL in one picture. Each test checks the arrays drawn, never pixels."""
import numpy as np
from PIL import Image

from rigl_np import viz
from rigl_np.rigl import drop_fraction, rigl_update
from viz_fakes import STEPS, random_snapshots, results_table, titled


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


def test_in_degree_frames_can_share_one_scale():
    snapshots = random_snapshots(np.random.default_rng(0))
    top = viz.max_in_degree(snapshots, "fc1.weight", (1, 28, 28))
    assert top == max(int(m["fc1.weight"].sum(axis=0).max()) for m in snapshots.values())
    one = {10: snapshots[10]}
    image = viz.plot_in_degree(one, "fc1.weight", (1, 28, 28), vmax=top + 5).axes[0].images[0]
    assert image.get_clim() == (0, top + 5)


def test_plot_masks_shows_conv_masks_as_rows():
    conv = np.random.default_rng(0).random((6, 2, 3, 3)) < 0.5
    fig = viz.plot_masks({"conv.weight": conv})
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), conv.reshape(6, 18))
    assert "(6, 2, 3, 3)" in fig.axes[0].get_title()


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


def test_small_masks_are_drawn_cell_by_cell():
    rng = np.random.default_rng(0)
    fig = viz.plot_masks({"conv2.weight": rng.random((16, 6, 5, 5)) < 0.1,
                          "fc1.weight": rng.random((300, 784)) < 0.1})
    small, large = (ax.images[0] for ax in fig.axes if ax.images)
    assert small.get_interpolation() == "nearest"        # 16 rows on a 370-pixel panel: no blur
    assert large.get_interpolation() == "antialiased"    # 784 columns on 440 pixels: grey = density


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
