"""Figures of a run's layers and mask updates (rigl_np.viz.distributions, schedule, records):
layer densities, the drop schedule, update counts, turnover and ITOP, fan-in/out histograms and
active neurons. Each test checks the bars and lines drawn, never pixels."""
import math

import numpy as np
import pytest

from rigl_np import viz
from rigl_np.rigl import drop_fraction, is_update_step
from rigl_np.sparsity import layer_densities, nnz_for
from viz_fakes import SHAPES, STEPS, random_snapshots, titled, update_records


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
