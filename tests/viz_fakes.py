"""Fake run folders, masks and update records for the viz tests (test_viz_*.py).

Run folders are written by hand as ``rigl_np.experiment.run`` writes them (config.json,
metrics.json, masks.npz through ``rigl_np.runfolder.save_snapshots``), so a figure test needs no
training; ``results_table`` is a results.csv as ``rigl_np.compare`` writes it, read back.
"""
import dataclasses

import numpy as np

from rigl_np import viz
from rigl_np.config import GROUPS
from rigl_np.methods import get
from rigl_np.results import summarise, to_csv
from rigl_np.runfolder import save_snapshots, write_json
from rigl_np.sparsity import layer_densities

SHAPES = {"fc1.weight": (300, 784), "fc2.weight": (100, 300), "fc3.weight": (10, 100)}
STEPS = (0, 5, 10)


def random_snapshots(rng, density=0.1):
    """``{step: {name: bool mask}}`` of the two sparse layers of lenet300."""
    return {s: {n: rng.random(SHAPES[n]) < density for n in ("fc1.weight", "fc2.weight")}
            for s in STEPS}


def update_records(neurons=False):
    records = []
    for i, step in enumerate(STEPS[1:]):
        layers = {n: {"dropped": 50 - 10 * i, "grown": 50 - 10 * i, "regrown_same": 3 + i,
                      "nnz": 500} for n in ("fc1.weight", "fc2.weight")}
        if neurons:
            for j, v in enumerate(layers.values()):
                v["active_neurons"] = 90 - 5 * i - j
        records.append({"step": step, "drop_fraction": 0.3 - 0.1 * i, "layers": layers,
                        "turnover": 0.09 - 0.02 * i, "itop_rate": 0.12 + 0.01 * i})
    return records


def fake_run(folder, method="rigl", sparsity=0.9, seed=0, accuracy=0.8, seconds=2.0,
             snapshots=None, updates=()):
    """Write a run folder like rigl_np.experiment.run does; returns its path."""
    config = {k: dataclasses.asdict(cls()) for k, cls in GROUPS.items()}
    config["data"]["dataset"] = "synthetic"
    config["sparse"].update(method=method, sparsity=sparsity, delta_t=5)
    config["optim"].update(seed=seed, epochs=2)
    density = 1.0 if method == "dense" else 1 - sparsity
    real = layer_densities(SHAPES, density, "erk")
    history = [{"epoch": e, "lr": 0.05, "train_loss": 1.0 / e, "train_accuracy": accuracy - 0.1 / e,
                "test_loss": 1.2 / e, "test_accuracy": accuracy - 0.05 / e, "seconds": seconds / 2}
               for e in (1, 2)]
    write_json(folder / "config.json", config)
    write_json(folder / "metrics.json", {
        "test_accuracy": accuracy, "history": history, "layer_density": real,
        "global_density": density, "nominal_sparsity": sparsity, "train_seconds": seconds,
        "flops": {"train_multiplier": density, "inference_multiplier": density},
        "mask_updates": list(updates), "total_steps": 20, "input_shape": [1, 28, 28], "num_classes": 10,
        "run_dir": str(folder)})
    if snapshots:
        packed = {s: {n: np.packbits(m.ravel()) for n, m in masks.items()}
                  for s, masks in snapshots.items()}
        save_snapshots(folder / "masks.npz", packed, {n: SHAPES[n] for n in snapshots[0]})
    return folder


def titled(fig, title):
    """The axes of ``fig`` whose title starts with ``title``."""
    return next(ax for ax in fig.axes if ax.get_title().startswith(title))


def results_table(tmp_path):
    """A results.csv like rigl_np.compare writes, read back."""
    rows = [dict(model="lenet300", method=m, distribution=dist, sparsity=s, seed=0,
                 test_accuracy=acc, global_density=1 - s if m != "small-dense" else 1.0,
                 train_flops=f, inference_flops=1 - s, seconds=sec,
                 has_masks=get(m).has_masks, dense_baseline=get(m).dense_baseline, status="ok")
            for m, dist, s, acc, f, sec in (("dense", "erk", 0.0, 0.98, 1.0, 10.0),
                                            ("rigl", "erk", 0.8, 0.97, 0.22, 14.0),
                                            ("rigl", "erk", 0.9, 0.96, 0.12, 15.0),
                                            ("small-dense", "erk", 0.9, 0.95, 0.1, 2.0))]
    (tmp_path / "results.csv").write_text(to_csv(summarise(rows)))
    return viz.read_results(tmp_path / "results.csv")
