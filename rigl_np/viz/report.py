"""``plot_runs``: every figure that applies to some run folders, written next to the data.

Per run (into its own folder): training curves; for sparse methods the layer densities of the
three distributions against what the run achieved; for runs with mask updates the per-update
counts, turnover and ITOP rate, and the drop-fraction schedule (dynamic methods, when the run
recorded ``total_steps``); SRigL's active neurons (records with "active_neurons"); per-layer
densities over training when they drift, and the connectivity (inputs and units on a path) when
the run recorded it; from the mask
snapshots the final masks, fan-in/fan-out histograms, for N:M runs the group occupancy
(``nm.py``), and, when the first sparse layer reads the input image directly (an MLP), the
input-pixel in-degree frames as a PNG grid and a GIF.

Over several runs (into ``out_dir``, or the first folder given): training curves side by side,
accuracy against sparsity and against training FLOPs, and theoretical FLOPs against wall time
when a dense run is among them. A ``rigl_np.compare`` output folder (with ``results.csv`` and
``runs/``) counts as all of its runs, and its table is used as it is.
"""
from __future__ import annotations

import math
from pathlib import Path

from rigl_np.viz.common import Run, load_run, save
from rigl_np.viz.distributions import model_shapes, plot_layer_densities
from rigl_np.viz.drift import connectivity_series, drifts, plot_connectivity, plot_density_drift
from rigl_np.viz.masks import plot_in_degree, plot_masks, write_in_degree_gif
from rigl_np.viz.nm import plot_group_occupancy
from rigl_np.viz.records import (plot_active_neurons, plot_fan_histograms, plot_turnover_itop,
                                 plot_update_counts)
from rigl_np.viz.runs import (plot_accuracy_vs_flops, plot_accuracy_vs_sparsity,
                              plot_flops_vs_time, plot_training_curves, read_results,
                              results_from_runs)
from rigl_np.viz.schedule import plot_drop_schedule

def input_layer(snapshot: dict, input_shape):
    """The first layer of ``snapshot`` whose mask is (out, C*H*W), i.e. reads the image; or None."""
    return next((name for name, m in snapshot.items()
                 if m.ndim == 2 and m.shape[1] == math.prod(input_shape)), None)


def run_figures(run: Run) -> list:
    """Write the figures of one run into its folder; returns their paths."""
    out, s, metrics = run.path, run.config["sparse"], run.metrics
    written = [save(plot_training_curves([run.path]), out / "training_curves.png")]
    if not run.kind["has_masks"]:
        return written
    # 1. how the density was spread, and what the run got
    shapes = model_shapes(run.config["model"]["model"], run.input_shape, metrics["num_classes"])
    written.append(save(plot_layer_densities(shapes, 1 - s["sparsity"], title=run.label,
                                             achieved=metrics["layer_density"]),
                        out / "layer_densities.png"))
    # 2. the mask updates
    updates = metrics["mask_updates"]
    if updates:
        written.append(save(plot_update_counts(updates), out / "update_counts.png"))
        written.append(save(plot_turnover_itop(updates), out / "turnover_itop.png"))
        if any("active_neurons" in v for v in updates[0]["layers"].values()):
            written.append(save(plot_active_neurons(updates), out / "active_neurons.png"))
    if connectivity_series(metrics):
        written.append(save(plot_connectivity(metrics), out / "connectivity.png"))
    if run.kind["drop_schedule"]:
        total = metrics["total_steps"]
        fig = plot_drop_schedule(s["alpha"], s["delta_t"], int(s["t_end_fraction"] * total),
                                 total, recorded=updates)
        written.append(save(fig, out / "drop_schedule.png"))
    # 3. the mask snapshots
    snapshots = run.snapshots()
    if updates and drifts(updates):
        start = {n: int(m.sum()) for n, m in snapshots[0].items()} if 0 in snapshots else None
        written.append(save(plot_density_drift(updates, shapes, start), out / "density_drift.png"))
    if snapshots:
        last = max(snapshots)
        written.append(save(plot_masks(snapshots[last], f"{run.label}: masks at step {last}"),
                            out / "masks.png"))
        written.append(save(plot_fan_histograms(snapshots), out / "fan_histograms.png"))
        nm = metrics.get("structure") or {}
        if "m" in nm and snapshots[last]:                   # an N:M run with N:M layers
            written.append(save(plot_group_occupancy(snapshots, nm["n"], nm["m"], run.label),
                                out / "nm_occupancy.png"))
        layer = input_layer(snapshots[0], run.input_shape)
        if layer is not None:
            written.append(save(plot_in_degree(snapshots, layer, run.input_shape),
                                out / "in_degree.png"))
            written.append(write_in_degree_gif(snapshots, layer, run.input_shape,
                                               out / "in_degree.gif"))
    return written


def comparison_figures(run_dirs: list, rows: list, out: Path) -> list:
    """Write the figures over several runs into ``out``; returns their paths."""
    written = [save(plot_training_curves(run_dirs), out / "compare_training_curves.png"),
               save(plot_accuracy_vs_sparsity(rows), out / "accuracy_vs_sparsity.png"),
               save(plot_accuracy_vs_flops(rows), out / "accuracy_vs_flops.png")]
    if any(r["dense_baseline"] for r in rows):
        written.append(save(plot_flops_vs_time(rows), out / "flops_vs_time.png"))
    return written


def plot_runs(run_dirs, out_dir=None) -> list:
    """Write every figure that applies to ``run_dirs`` (one path or several); returns the paths.

    1. expand ``rigl_np.compare`` folders into their runs and keep their results tables;
    2. per run, its figures into its own folder (``run_figures``);
    3. over several runs, the comparison figures into ``out_dir`` or the first folder given.
    """
    given = [Path(run_dirs)] if isinstance(run_dirs, (str, Path)) else [Path(p) for p in run_dirs]
    given = list(dict.fromkeys(given))                   # a folder named twice is one run
    runs, rows = [], []
    for folder in given:
        if (folder / "results.csv").exists():
            runs += sorted(p.parent for p in folder.glob("runs/*/metrics.json"))
            rows += read_results(folder / "results.csv")
        else:
            runs.append(folder)
    written = [path for run_dir in runs for path in run_figures(load_run(run_dir))]
    if len(runs) > 1:
        rows = rows or results_from_runs(runs)
        written += comparison_figures(runs, rows, Path(out_dir) if out_dir else given[0])
    return written
