"""Sliders (rigl_np.viz.interactive): without a notebook front end ``explore`` draws the static
figure once; with ipywidgets each slider calls the same draw function."""
import pytest

from rigl_np import viz
from rigl_np.sparsity import layer_densities
from viz_fakes import SHAPES


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
