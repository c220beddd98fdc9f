"""Regenerate the committed figures in figures/ from real runs.

    python figures/make_figures.py            # every figure: about 2 minutes on 2 cores
    python figures/make_figures.py summary comparison    # only these (names below)

1. a real RigL run (ERK 90 %, LeNet-300-100, Fashion-MNIST, 10 epochs, seed 0) into
   figures/runs/rigl-erk-0.9 (reused if it is already there): the input-pixel in-degree as frames
   and as an animated GIF, and one update of fc1 dissected (dense gradient of one batch at the
   end of training, drop fraction 0.3, a crop of the layer);
2. the ERK / ER / uniform densities of LeNet-300-100 and LeNet-5 at 90 % sparsity;
3. the drop-fraction schedule of that run;
4. the method comparison from results/fashion-mnist-lenet300/results.csv (made by the compare
   command in the README): accuracy vs sparsity, accuracy vs training FLOPs, FLOPs vs wall time;
5. the condensed-layer speedup, from benchmarks/condensed.py (measured now);
6. RigL in one picture (rigl_in_one_picture.png, for slides): the real update of fc1 at batch
   300 of the same run (seed 0: trained by the same trainer up to batch 299, then batch 300's
   dense gradient; the figure's new mask is checked against the one the run's RigL method
   makes), its cosine schedule, and accuracy against sparsity from the committed three-seed
   tables results/fashion-mnist-lenet300 and results/fashion-mnist-lenet300-grad32.

Names, in that order: in_degree and update (1), densities (2), schedule (3), comparison (4),
condensed (5), summary (6).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from rigl_np import backend, config
from rigl_np.checkpoint import load_checkpoint
from rigl_np.data import epoch_order, minibatches, num_batches
from rigl_np.experiment import prepare_data, run
from rigl_np.functional import softmax_cross_entropy
from rigl_np.methods import make_method
from rigl_np.models import build_model
from rigl_np.rigl import drop_fraction, rigl_update
from rigl_np.runfolder import load_snapshots, read_json
from rigl_np.train import make_optimizer, train
from rigl_np.viz import (model_shapes, plot_accuracy_vs_flops, plot_accuracy_vs_sparsity,
                         plot_drop_schedule, plot_flops_vs_time, plot_in_degree,
                         plot_layer_densities, plot_rigl_in_one_picture, plot_update,
                         read_results, save, write_in_degree_gif)

HERE = Path(__file__).parent
RUN = HERE / "runs" / "rigl-erk-0.9"
RESULTS = HERE.parent / "results" / "fashion-mnist-lenet300" / "results.csv"
GRAD32 = HERE.parent / "results" / "fashion-mnist-lenet300-grad32" / "results.csv"
SWEEP = HERE.parent / "results" / "fashion-mnist-lenet300-sweep" / "results.csv"   # 0.5-0.95
FIGURES = ("in_degree", "update", "densities", "schedule", "comparison", "condensed", "summary")
CROP = (slice(0, 60), slice(250, 400))         # of fc1 (300, 784): 60 neurons, pixels 250-399


def run_configs() -> dict:
    """The run's config dataclasses: every default (RigL, ERK 90 %, 10 epochs, seed 0)."""
    cfgs = {title: cls() for title, cls in config.GROUPS.items()}
    cfgs["run"].out = str(RUN)
    return cfgs


def rigl_run(cfgs) -> None:
    """1. The real run into RUN (reused when finished, continued when it was stopped)."""
    if not (RUN / "metrics.json").exists():
        if (RUN / "checkpoint.npz").exists():
            cfgs["run"].resume = str(RUN)
        run(cfgs)


def trained_model(cfgs, stop_after: int | None = None):
    """The run's model, optimizer, method and data: from its final checkpoint, or (stop_after)
    trained afresh by the same trainer, seeds and schedule up to batch ``stop_after``."""
    data = prepare_data(cfgs["data"])
    optim = cfgs["optim"]
    model = build_model("lenet300", data.input_shape, data.num_classes,
                        backend.host_rng([optim.seed, 0]))
    optimizer = make_optimizer(model.params(), optim)
    shapes = {n: model.params()[n].shape for n in model.sparsifiable()}
    total = optim.epochs * num_batches(len(data.train_y), optim.batch_size)
    method = make_method(cfgs["sparse"], shapes, total, backend.host_rng([optim.seed, 1]))
    method.attach(model, optimizer)
    if stop_after is None:
        load_checkpoint(RUN / "checkpoint.npz", model, optimizer, method)
    else:
        train(model, optimizer, data, optim, method, on_batch=lambda st: st.step == stop_after)
    return model, optimizer, method, data, total


def dense_gradient(model, xb, yb, layer: str):
    """The dense gradient of ``layer`` on one batch (nothing masks it)."""
    _, dlogits = softmax_cross_entropy(model.forward(xb, train=True), yb)
    model.backward(dlogits)
    return model.grads()[layer].copy()


def dissected_update(cfgs) -> None:
    """One RigL update of fc1 from the trained run: the dense gradient of one batch."""
    model, _, method, data, _ = trained_model(cfgs)
    grad = dense_gradient(model, data.train_x[:128], data.train_y[:128], "fc1.weight")
    fig = plot_update(model.params()["fc1.weight"], method.masks["fc1.weight"], grad, 0.3,
                      crop=CROP, name="fc1.weight")
    save(fig, HERE / "update_dissected.png")


def summary_rows() -> list:
    """The three-seed tables (0.9 and 0.98 for every method, 0.5 to 0.95 for static and RigL),
    the growth-over-32-batches RigL rows marked as a variant."""
    grad32 = [{**r, "variant": "growth over 32 batches"} for r in read_results(GRAD32)]
    return read_results(RESULTS) + read_results(SWEEP) + grad32


def summary(cfgs, step: int = 300, layer: str = "fc1.weight") -> None:
    """6. RigL in one picture: the run's own update of ``layer`` at batch ``step``."""
    model, optimizer, method, data, total = trained_model(cfgs, stop_after=step - 1)
    optim, s = cfgs["optim"], cfgs["sparse"]
    order = epoch_order(len(data.train_y), optim.seed, 0)
    xb, yb = next(minibatches(data.train_x, data.train_y, optim.batch_size, order,
                              start_batch=step - 1))
    weight, mask = model.params()[layer].copy(), method.masks[layer].copy()
    grad = dense_gradient(model, xb, yb, layer)
    t_end = int(s.t_end_fraction * total)
    # the run's own update at this batch must be the one drawn
    method.before_step(step, model.grads())
    expected = rigl_update(weight, mask, grad, drop_fraction(step, s.alpha, t_end)).mask
    if not np.array_equal(method.masks[layer], expected):
        raise RuntimeError(f"the run's update of {layer} at batch {step} is not the one drawn")
    fig = plot_rigl_in_one_picture(weight, mask, grad, step, s.alpha, s.delta_t, t_end, total,
                                   crop=CROP, name=layer, rows=summary_rows())
    save(fig, HERE / "rigl_in_one_picture.png", dpi=150)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", nargs="*", choices=FIGURES, default=list(FIGURES),
                        metavar="NAME", help=f"which figures (default all): {', '.join(FIGURES)}")
    chosen = set(parser.parse_args().figures)
    cfgs = run_configs()
    if chosen & {"in_degree", "update", "schedule"}:
        rigl_run(cfgs)
    if "in_degree" in chosen:
        snapshots = load_snapshots(RUN / "masks.npz")
        save(plot_in_degree(snapshots, "fc1.weight", (1, 28, 28), max_frames=8),
             HERE / "in_degree.png")
        write_in_degree_gif(snapshots, "fc1.weight", (1, 28, 28), HERE / "in_degree.gif")
    if "update" in chosen:
        dissected_update(cfgs)
    # 2. densities per layer
    if "densities" in chosen:
        for model, shape in (("lenet300", (1, 28, 28)), ("lenet5", (1, 28, 28))):
            save(plot_layer_densities(model_shapes(model, shape, 10), 0.1, title=model),
                 HERE / f"densities_{model}.png")
    # 3. the schedule the run followed
    if "schedule" in chosen:
        metrics, s = read_json(RUN / "metrics.json"), cfgs["sparse"]
        total = metrics["total_steps"]
        save(plot_drop_schedule(s.alpha, s.delta_t, int(s.t_end_fraction * total), total,
                                recorded=metrics["mask_updates"]), HERE / "drop_schedule.png")
    # 4. the method comparison
    if "comparison" in chosen:
        rows = read_results(RESULTS)
        save(plot_accuracy_vs_sparsity(rows), HERE / "accuracy_vs_sparsity.png")
        save(plot_accuracy_vs_flops(rows), HERE / "accuracy_vs_flops.png")
        save(plot_flops_vs_time(rows), HERE / "flops_vs_time.png")
    # 5. condensed speed
    if "condensed" in chosen:
        subprocess.run([sys.executable, str(HERE.parent / "benchmarks" / "condensed.py"),
                        "--plot", str(HERE / "condensed_speedup.png")], check=True)
    # 6. the slide
    if "summary" in chosen:
        summary(cfgs)


if __name__ == "__main__":
    main()
