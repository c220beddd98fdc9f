"""Sliders over a figure function, for the notebooks, and the static figure they fall back to.

``explore(draw, **controls)`` first displays ``draw(**values)`` at the controls' starting values,
so a notebook executed without a front-end (the test suite, ``jupyter nbconvert --execute``, a
static viewer) still shows a real figure. With a live Jupyter front-end it then shows one
ipywidgets control per argument; moving one calls the same ``draw`` with the new values and
replaces the figure in place (a display-handle update). The slider callback and the static
figure are one function, so executing a notebook headless exercises the callback too.

No front-end is assumed (``live_front_end``) when ``RIGL_NP_SMOKE=1`` or ``RIGL_NP_STATIC=1`` is
set, outside an IPython kernel, when ipywidgets is not installed, or in a kernel started by
nbclient (``jupyter nbconvert --execute``, papermill, the test suite), which keeps its history in
memory (``--HistoryManager.hist_file=:memory:``) where a kernel behind a front-end keeps a file;
the cell then prints one line saying which sliders it would have shown.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Slider:
    """A number from ``low`` to ``high`` in steps of ``step``, starting at ``value``."""
    low: float
    high: float
    step: float
    value: float

    def widget(self, name: str):
        import ipywidgets
        whole = all(float(v).is_integer() for v in (self.low, self.high, self.step, self.value))
        cls = ipywidgets.IntSlider if whole else ipywidgets.FloatSlider
        number = int if whole else float
        return cls(min=number(self.low), max=number(self.high), step=number(self.step),
                   value=number(self.value), description=name, continuous_update=False)


@dataclass
class Choice:
    """One of ``options``, starting at ``value``."""
    options: tuple
    value: object

    def widget(self, name: str):
        import ipywidgets
        return ipywidgets.Dropdown(options=list(self.options), value=self.value, description=name)


def live_front_end() -> bool:
    """Whether widgets would reach a person: neither RIGL_NP_SMOKE=1 nor RIGL_NP_STATIC=1 in the
    environment, ipywidgets installed, an IPython kernel, and not one started by nbclient."""
    if "1" in (os.environ.get("RIGL_NP_SMOKE"), os.environ.get("RIGL_NP_STATIC")):
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return False
    return str(getattr(shell.history_manager, "hist_file", "")) != ":memory:"


@dataclass
class Exploration:
    """What ``explore`` made: the argument values drawn last, their figure, and the widgets
    (``{}`` without a front-end)."""
    draw: object
    values: dict
    figure: object
    handle: object
    widgets: dict

    def redraw(self, **changes):
        """Draw again with ``changes`` applied (what moving a slider does) and show it in place."""
        self.values.update(changes)
        self.figure = self.draw(**self.values)
        self.handle.update(self.figure)
        return self.figure


def explore(draw, live: bool | None = None, **controls) -> Exploration:
    """Show ``draw(**starting values)`` now and, with a live front-end, sliders that redraw it.

    draw: a function of the controls' names returning a matplotlib Figure; controls:
    ``name=Slider(...)`` or ``name=Choice(...)``; live: force the choice (default
    ``live_front_end()``).
    1. draw the static figure and display it with a handle (what a headless run keeps);
    2. without a front-end, say what the sliders would do, and stop;
    3. otherwise one widget per control, each calling ``redraw`` with its new value.
    """
    from IPython.display import DisplayHandle, display
    values = {name: control.value for name, control in controls.items()}
    figure = draw(**values)
    handle = DisplayHandle()
    handle.display(figure)
    exploration = Exploration(draw, values, figure, handle, {})
    if not (live_front_end() if live is None else live):
        print(f"Static figure at {values}; in a live Jupyter, sliders for "
              f"{', '.join(controls)} redraw it.")
        return exploration
    import ipywidgets
    for name, control in controls.items():
        widget = exploration.widgets[name] = control.widget(name)
        widget.observe(lambda change, name=name: exploration.redraw(**{name: change["new"]}),
                       names="value")
    display(ipywidgets.HBox(list(exploration.widgets.values()),
                            layout=ipywidgets.Layout(flex_flow="row wrap")))
    return exploration
