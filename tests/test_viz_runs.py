"""Runs side by side (rigl_np.viz.runs, common): training curves, accuracy against sparsity,
FLOPs and wall time from a results table, and one colour per method whatever else is drawn."""
import pytest

from rigl_np import viz
from rigl_np.methods import get
from rigl_np.results import summarise, to_csv
from viz_fakes import fake_run, results_table, titled


def test_training_curves_one_line_per_run(tmp_path):
    runs = [fake_run(tmp_path / "a", "dense", accuracy=0.9), fake_run(tmp_path / "b", "rigl")]
    fig = viz.plot_training_curves(runs)
    ax = titled(fig, "test accuracy")
    assert [l.get_label() for l in ax.lines] == ["dense seed0", "rigl erk 0.9 seed0"]
    assert list(ax.lines[0].get_ydata()) == [0.85, 0.875]
    assert list(ax.lines[1].get_xdata()) == [1, 2]


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
                 has_masks=get(m).has_masks, dense_baseline=get(m).dense_baseline, status="ok")
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


def test_points_of_other_distributions_are_hollow(tmp_path):
    rows = results_table(tmp_path)
    uniform = [{**r, "distribution": "uniform"} for r in rows if r["method"] == "rigl"]
    ax = viz.plot_accuracy_vs_flops(rows + uniform).axes[0]
    points = [l for l in ax.lines if len(l.get_xdata()) == 1]
    red = [l.get_fillstyle() for l in points if l.get_color() == viz.METHOD_COLOURS["rigl"]]
    assert sorted(red) == ["full", "full", "none", "none"]


def test_a_failed_run_is_left_out_of_the_figures(tmp_path):
    done = dict(model="lenet300", method="rigl", distribution="erk", sparsity=0.9, seed=0,
                test_accuracy=0.9, global_density=0.1, train_flops=0.1, inference_flops=0.1,
                seconds=1.0, has_masks=True, dense_baseline=False, status="ok")
    failed = {**done, "method": "static", "status": "diverged: the training loss became nan",
              "run": "lenet300-static-erk-0.9-seed0"}
    table = summarise([done, failed])
    (tmp_path / "results.csv").write_text(to_csv(table))
    rows = viz.read_results(tmp_path / "results.csv")
    assert [(r["method"], r["accuracy_mean"]) for r in rows] == [("rigl", 0.9)]
    ax = viz.plot_accuracy_vs_sparsity(rows).axes[0]
    assert [c.get_label() for c in ax.containers] == ["rigl (erk)"]
    old = [{k: v for k, v in t.items() if k not in ("status", "run")} for t in table[:1]]
    (tmp_path / "results.csv").write_text(to_csv(old))     # a table from before statuses
    assert [r["method"] for r in viz.read_results(tmp_path / "results.csv")] == ["rigl"]
