"""What every plot module shares: a fresh Agg figure, one colour per method, saving, and reading
a run folder.

Figures are ``matplotlib.figure.Figure`` objects made directly, never through ``pyplot``, so no
global state is touched, nothing opens a window, and the Agg renderer draws them (``savefig``).

A run folder (``rigl_np.experiment.run``) is read once into a ``Run``: its ``metrics.json``,
``config.json`` and, when the method kept masks, the mask snapshots of ``masks.npz`` (through
``rigl_np.runfolder.load_snapshots``, the only reader of that file).

``METHOD_COLOURS`` gives every method its one colour (``Method.colour``, which each method
declares), used by every figure of several methods and by the notebooks (``method_style``: the
colour from the method, the line style from the distribution), so a method looks the same in
every panel, figure and cell.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from rigl_np.atomic import atomic_file
from rigl_np.methods import NAMES, Method, facts, get, selection
from rigl_np.runfolder import load_snapshots, read_json

METHOD_COLOURS = {name: get(name).colour for name in NAMES}    # each method declares its own
OTHER_METHOD = Method.colour        # a run of a method this installation does not have
DISTRIBUTION_LINES = {"erk": "-", "uniform": "--", "er": "-.", "uniform-first-dense": ":"}
DISTRIBUTION_MARKERS = {"erk": "o", "uniform": "s", "er": "^", "uniform-first-dense": "D"}
MASK_COLOURS = {"active": "black", "inactive": "white"}   # the Greys map at 1 and at 0
DPI = 110                           # pixels per inch of a saved figure


def method_colour(method: str) -> str:
    """The one colour of ``method`` in every figure."""
    return METHOD_COLOURS.get(method, OTHER_METHOD)


def method_style(method: str, distribution: str = "-") -> dict:
    """Matplotlib keywords for a method's line: ``color`` from the method, ``linestyle`` and
    ``marker`` from the distribution (solid and round for ERK and for methods without masks)."""
    return {"color": method_colour(method), "linestyle": DISTRIBUTION_LINES.get(distribution, "-"),
            "marker": DISTRIBUTION_MARKERS.get(distribution, "o")}


def mask_legend(target, extra: dict | None = None, **kw):
    """A legend (on a Figure or an Axes) naming the colours of a mask image: active, inactive
    and any ``extra`` ``{label: colour}`` (dropped, grown, ...); ``kw`` go to ``legend``."""
    colours = {f"{what} connection": c for what, c in MASK_COLOURS.items()} | (extra or {})
    handles = [Patch(facecolor=c, edgecolor="grey", label=label) for label, c in colours.items()]
    return target.legend(handles=handles, **{"fontsize": 8, "ncols": len(handles), **kw})


def new_figure(nrows: int = 1, ncols: int = 1, panel=(4.0, 3.2)):
    """A constrained-layout Figure of ``nrows`` x ``ncols`` panels, each ``panel`` inches.

    Returns ``(figure, axes)`` with ``axes`` always a 2-D array.
    """
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def integer_x(ax, nbins: int = 5) -> None:
    """At most ``nbins`` + 1 ticks, at whole numbers, on the x axis (epochs, steps): four-digit
    step numbers on a 4-inch panel stay apart."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=nbins, integer=True))


def save(fig: Figure, path, dpi: int = DPI) -> Path:
    """Write ``fig`` to ``path`` (the format from the suffix) atomically; returns the path."""
    path = Path(path)
    with atomic_file(path) as f:
        fig.savefig(f, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path


def rows_view(array):
    """A weight-shaped array as (out, fan-in): Linear (out, in) as is, Conv2d (out, in*kh*kw)."""
    return array.reshape(array.shape[0], -1)


@dataclass
class Run:
    """One run folder, read."""
    path: Path
    metrics: dict         # metrics.json
    config: dict          # config.json: {"data", "model", "optim", "sparse", "run"}

    @property
    def kind(self) -> dict:
        """The method's facts (``rigl_np.methods.FACTS``): has_masks, drop_schedule, ..."""
        return facts(self.config, self.metrics)

    @property
    def label(self) -> str:
        """"rigl erk 0.9 seed0" (or "dense seed0", "rigl N:M 2:4 seed0"): what the run is, for
        legends and titles."""
        s, seed = self.config["sparse"], self.config["optim"]["seed"]
        nm = (self.config.get("options") or {}).get("nm")
        if self.kind["dense_baseline"]:
            return f"{s['method']} seed{seed}"
        if nm:
            return f"{s['method']} N:M {nm} seed{seed}"
        chosen = selection.tag(self.config.get("options") or {})         # "global", "global-l2"
        return f"{s['method']} {chosen + ' ' if chosen else ''}{s['distribution']} " \
               f"{s['sparsity']:g} seed{seed}"

    @property
    def input_shape(self) -> tuple:
        return tuple(self.metrics["input_shape"])

    def snapshots(self) -> dict:
        """``{step: {layer: bool mask}}`` from masks.npz, or ``{}`` when the run kept no masks."""
        path = self.path / "masks.npz"
        return load_snapshots(path) if path.exists() else {}


def load_run(run_dir) -> Run:
    """Read ``run_dir``'s metrics.json and config.json."""
    path = Path(run_dir)
    return Run(path, read_json(path / "metrics.json"), read_json(path / "config.json"))
