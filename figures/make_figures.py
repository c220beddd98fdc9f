"""Regenerate every committed figure in figures/ from real runs.

    python figures/make_figures.py            # about 2 minutes on 2 cores (one RigL run)

1. a real RigL run (ERK 90 %, LeNet-300-100, Fashion-MNIST, 10 epochs, seed 0) into
   figures/runs/rigl-erk-0.9 (reused if it is already there): the input-pixel in-degree as frames
   and as an animated GIF, and one update of fc1 dissected (dense gradient of one batch at the
   end of training, drop fraction 0.3, a crop of the layer);
2. the ERK / ER / uniform densities of LeNet-300-100 and LeNet-5 at 90 % sparsity;
3. the drop-fraction schedule of that run;
4. the method comparison from results/fashion-mnist-lenet300/results.csv (made by the compare
   command in the README): accuracy vs sparsity, accuracy vs training FLOPs, FLOPs vs wall time;
5. the condensed-layer speedup, from benchmarks/condensed.py (measured now).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rigl_np import backend, config
from rigl_np.checkpoint import load_checkpoint
from rigl_np.experiment import prepare_data, run
from rigl_np.functional import softmax_cross_entropy
from rigl_np.methods import make_method
from rigl_np.models import build_model
from rigl_np.runfolder import load_snapshots, read_json
from rigl_np.train import make_optimizer
from rigl_np.viz import (model_shapes, plot_accuracy_vs_flops, plot_accuracy_vs_sparsity,
                         plot_drop_schedule, plot_flops_vs_time, plot_in_degree,
                         plot_layer_densities, plot_update, read_results, save,
                         write_in_degree_gif)

HERE = Path(__file__).parent
RUN = HERE / "runs" / "rigl-erk-0.9"
RESULTS = HERE.parent / "results" / "fashion-mnist-lenet300" / "results.csv"


def rigl_run() -> dict:
    """1. The real run (reused when finished), as config dataclasses and metrics."""
    cfgs = {title: cls() for title, cls in config.GROUPS.items()}
    cfgs["run"].out = str(RUN)
    if not (RUN / "metrics.json").exists():
        run(cfgs)
    return cfgs


def dissected_update(cfgs) -> None:
    """One RigL update of fc1 from the trained run: the dense gradient of one batch."""
    data = prepare_data(cfgs["data"])
    model = build_model("lenet300", data.input_shape, data.num_classes)
    optimizer = make_optimizer(model.params(), cfgs["optim"])
    shapes = {n: model.params()[n].shape for n in model.sparsifiable()}
    method = make_method(cfgs["sparse"], shapes, 1, backend.host_rng(0))
    method.attach(model, optimizer)
    load_checkpoint(RUN / "checkpoint.npz", model, optimizer, method)
    logits = model.forward(data.train_x[:128], train=True)
    _, dlogits = softmax_cross_entropy(logits, data.train_y[:128])
    model.backward(dlogits)
    fig = plot_update(model.params()["fc1.weight"], method.masks["fc1.weight"],
                      model.grads()["fc1.weight"], 0.3, crop=(slice(0, 60), slice(250, 400)),
                      name="fc1.weight")
    save(fig, HERE / "update_dissected.png")


def main() -> None:
    cfgs = rigl_run()
    snapshots = load_snapshots(RUN / "masks.npz")
    save(plot_in_degree(snapshots, "fc1.weight", (1, 28, 28), max_frames=8),
         HERE / "in_degree.png")
    write_in_degree_gif(snapshots, "fc1.weight", (1, 28, 28), HERE / "in_degree.gif")
    dissected_update(cfgs)
    # 2. densities per layer
    for model, shape in (("lenet300", (1, 28, 28)), ("lenet5", (1, 28, 28))):
        save(plot_layer_densities(model_shapes(model, shape, 10), 0.1, title=model),
             HERE / f"densities_{model}.png")
    # 3. the schedule the run followed
    metrics, s = read_json(RUN / "metrics.json"), cfgs["sparse"]
    total = metrics["total_steps"]
    save(plot_drop_schedule(s.alpha, s.delta_t, int(s.t_end_fraction * total), total,
                            recorded=metrics["mask_updates"]), HERE / "drop_schedule.png")
    # 4. the method comparison
    if RESULTS.exists():
        rows = read_results(RESULTS)
        save(plot_accuracy_vs_sparsity(rows), HERE / "accuracy_vs_sparsity.png")
        save(plot_accuracy_vs_flops(rows), HERE / "accuracy_vs_flops.png")
        save(plot_flops_vs_time(rows), HERE / "flops_vs_time.png")
    # 5. condensed speed
    subprocess.run([sys.executable, str(HERE.parent / "benchmarks" / "condensed.py"),
                    "--plot", str(HERE / "condensed_speedup.png")], check=True)


if __name__ == "__main__":
    main()
