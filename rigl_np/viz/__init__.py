"""Figures that make dynamic sparse training visible (host-side: NumPy and matplotlib only).

Every plot function is pure: arrays, dicts or run folders in, a ``matplotlib.figure.Figure`` out
(drawn with Agg, never through ``pyplot``); ``write_in_degree_gif`` returns the GIF's path.
``plot_runs(run_dirs)`` writes every figure that applies to some run folders. Every figure of
several methods draws each in its one colour (``METHOD_COLOURS``, ``method_style``).

| figure                                      | function                       | module        |
|---------------------------------------------|--------------------------------|---------------|
| per-layer density of uniform / ER / ERK     | ``plot_layer_densities``       | distributions |
| drop fraction f(t) and the update steps     | ``plot_drop_schedule``         | schedule      |
| masks as images                             | ``plot_masks``                 | masks         |
| input-pixel in-degree over time, frames     | ``plot_in_degree``             | masks         |
| the same as an animated GIF                 | ``write_in_degree_gif``        | masks         |
| one RigL update, panel by panel             | ``plot_update``                | update        |
| dropped / grown / regrown-same per update   | ``plot_update_counts``         | records       |
| mask turnover and ITOP rate                 | ``plot_turnover_itop``         | records       |
| fan-in / fan-out histograms over time       | ``plot_fan_histograms``        | records       |
| SRigL active neurons per layer              | ``plot_active_neurons``        | records       |
| per-layer densities over training (drift)   | ``plot_density_drift``         | drift         |
| inputs and units on an input-output path    | ``plot_connectivity``          | drift         |
| training curves of several runs             | ``plot_training_curves``       | runs          |
| accuracy vs sparsity                        | ``plot_accuracy_vs_sparsity``  | runs          |
| accuracy vs training FLOPs                  | ``plot_accuracy_vs_flops``     | runs          |
| theoretical FLOPs vs measured wall time     | ``plot_flops_vs_time``         | runs          |
| RigL in one picture (a slide)               | ``plot_rigl_in_one_picture``   | summary       |
| all of the above that apply to run folders  | ``plot_runs``                  | report        |

``explore(draw, **controls)`` (module ``interactive``) puts ``Slider`` / ``Choice`` controls over
any of these in a notebook, and falls back to the static figure without a front-end;
``round_robin`` and ``blas_threads`` (``rigl_np.timing``, re-exported) time what the notebooks'
tables show.
"""
from rigl_np.viz.common import METHOD_COLOURS, load_run, method_colour, method_style, save
from rigl_np.viz.distributions import model_shapes, plot_layer_densities
from rigl_np.viz.drift import plot_connectivity, plot_density_drift
from rigl_np.viz.interactive import Choice, Slider, explore
from rigl_np.viz.masks import (in_degree, max_in_degree, plot_in_degree, plot_masks,
                               write_in_degree_gif)
from rigl_np.viz.records import (fan_in_out, plot_active_neurons, plot_fan_histograms,
                                 plot_turnover_itop, plot_update_counts)
from rigl_np.viz.report import plot_runs
from rigl_np.viz.runs import (plot_accuracy_vs_flops, plot_accuracy_vs_sparsity,
                              plot_flops_vs_time, plot_training_curves, read_results,
                              results_from_runs)
from rigl_np.viz.schedule import plot_drop_schedule
from rigl_np.viz.summary import plot_rigl_in_one_picture
from rigl_np.timing import blas_threads, round_robin
from rigl_np.viz.update import plot_update

__all__ = ["METHOD_COLOURS", "Choice", "Slider", "blas_threads", "explore", "fan_in_out",
           "in_degree", "load_run", "max_in_degree", "method_colour", "method_style",
           "model_shapes",
           "plot_accuracy_vs_flops", "plot_accuracy_vs_sparsity", "plot_active_neurons",
           "plot_connectivity", "plot_density_drift",
           "plot_drop_schedule", "plot_fan_histograms", "plot_flops_vs_time", "plot_in_degree",
           "plot_layer_densities", "plot_masks", "plot_rigl_in_one_picture", "plot_runs",
           "plot_training_curves", "plot_turnover_itop", "plot_update", "plot_update_counts",
           "read_results", "results_from_runs", "round_robin", "save", "write_in_degree_gif"]
