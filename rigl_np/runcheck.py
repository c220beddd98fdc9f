"""What the files of a run folder must hold, checked before anything is drawn, tabulated or
resumed from them: plain functions on what was read (``rigl_np.runfolder`` reads the files).

Host-side module. Every check is of types and of bounds: a count or size is bounded before a
figure or a table is sized by it (``total_steps`` by the run's epochs and batches, the image
shape by the data set, the layers by the model), so a file edited into nonsense is refused in
one line instead of drawing for hours, running out of memory or failing inside a figure.

- ``metrics_problems(metrics)``: the keys of a metrics.json that are missing or damaged;
- ``finished_problems(config, metrics, snapshots)``: how a finished run's config.json,
  metrics.json and masks.npz disagree with each other;
- ``changes_problem(changes, lr)``: what is wrong with a config.json's ``changes`` (only
  ``--resume --lr`` writes them: one entry per change of the learning rate, in order);
- ``epoch_records``: the per-epoch history (metrics.json and checkpoints).
"""
from __future__ import annotations

import math

from rigl_np.methods.base import FACTS
from rigl_np.models import build_model

MAX_TRAIN_EXAMPLES = 60_000       # the largest training set rigl_np reads (MNIST, Fashion-MNIST)
MAX_CLASSES = 1_000


def number(value) -> bool:
    """A finite int or float (not a bool): what every numeric field of a run file holds."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def integer(value, low: int = 0, high: float = math.inf) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def fraction(value) -> bool:
    return number(value) and 0 <= value <= 1


def epoch_records(value, required=("epoch", "train_loss", "test_loss", "train_accuracy",
                                   "test_accuracy")) -> bool:
    """True when ``value`` is a list of per-epoch records (``history``): epochs 1, 2, ... in
    order, every ``required`` key and every other value a finite number, accuracies in [0, 1]
    and losses, seconds and densities not negative."""
    return isinstance(value, list) and all(
        isinstance(r, dict) and all(k in r for k in required) and all(map(number, r.values()))
        and r.get("epoch") == i and all(0 <= r[k] <= 1 for k in r if k.endswith("accuracy"))
        and all(v >= 0 for v in r.values()) for i, r in enumerate(value, start=1))


def _update_records(value) -> bool:
    """Mask-update records: step, drop fraction, turnover, ITOP rate, and per layer a record of
    counts, the same layers in every record."""
    if not isinstance(value, list):
        return False
    layers = value[0].get("layers") if value and isinstance(value[0], dict) else None
    return all(
        isinstance(r, dict) and integer(r.get("step"), 1) and all(
            fraction(r.get(k)) for k in ("drop_fraction", "turnover", "itop_rate"))
        and isinstance(r.get("layers"), dict) and r["layers"] and list(r["layers"]) == list(layers)
        and all(isinstance(v, dict) and all(integer(n) for n in v.values())
                for v in r["layers"].values()) for r in value)


def _facts(value) -> bool:
    return isinstance(value, dict) and all(k in value for k in FACTS) and all(
        isinstance(value[k], bool) for k in FACTS if k != "update_phase")


# What a finished run's metrics.json must hold for tables and figures: key -> check.
METRICS = {
    "test_accuracy": fraction, "global_density": fraction,
    "train_seconds": lambda v: number(v) and v >= 0,
    "total_steps": lambda v: integer(v, 1), "num_classes": lambda v: integer(v, 2, MAX_CLASSES),
    "input_shape": lambda v: isinstance(v, list) and len(v) == 3 and all(
        integer(d, 1, 4096) for d in v),
    "layer_density": lambda v: isinstance(v, dict) and all(map(fraction, v.values())),
    "flops": lambda v: isinstance(v, dict) and all(
        number(v.get(k)) and v[k] >= 0 for k in ("train_multiplier", "inference_multiplier")),
    "history": epoch_records,
    "mask_updates": _update_records,
}


def metrics_problems(metrics: dict) -> list:
    """The keys of ``metrics`` (a metrics.json) that are missing or hold what they cannot."""
    bad = [key for key, ok in METRICS.items() if key not in metrics or not ok(metrics[key])]
    if "method" in metrics and not _facts(metrics["method"]):
        bad.append("method")
    return bad


def finished_problems(config: dict, metrics: dict, snapshots: dict) -> list:
    """How a finished run's config.json (``to_dict`` form), metrics.json (``metrics_problems``
    passed) and mask snapshots (``{step: {layer: mask}}``) disagree: each a few words."""
    optim, data = config["optim"], config["data"]
    problems = []
    per_epoch = math.ceil(MAX_TRAIN_EXAMPLES / optim["batch_size"])
    steps = metrics["total_steps"]
    if steps % optim["epochs"] or steps // optim["epochs"] > per_epoch:
        problems.append(f"total_steps {steps} is not {optim['epochs']} epochs of at most "
                        f"{per_epoch} batches")
    if len(metrics["history"]) != optim["epochs"]:
        problems.append(f"history has {len(metrics['history'])} epochs, config.json "
                        f"{optim['epochs']}")
    image = [3, 32, 32] if data["dataset"] == "cifar10" else [1, 28, 28]
    if metrics["input_shape"] != image:
        problems.append(f"input_shape {metrics['input_shape']} is not {data['dataset']}'s {image}")
    layers = set(metrics["layer_density"])
    if not problems:                    # the image and class count are bounded: build the model
        net = build_model(config["model"]["model"], image, metrics["num_classes"])
        shapes = {n: net.params()[n].shape for n in net.sparsifiable()}
        if layers - set(shapes):
            problems.append(f"layer_density names layers that {config['model']['model']} does "
                            "not have")
        elif any(m.shape != shapes[n] for masks in snapshots.values() for n, m in masks.items()
                 if n in shapes):
            problems.append(f"masks.npz holds masks of shapes {config['model']['model']}'s "
                            "weights do not have")
    for record in metrics["mask_updates"][:1]:
        if set(record["layers"]) - layers:
            problems.append("mask_updates name layers that layer_density does not")
        if any(r["step"] > steps for r in metrics["mask_updates"]):
            problems.append(f"mask_updates has steps beyond total_steps {steps}")
    if snapshots:
        first = snapshots[min(snapshots)]
        if set(first) - layers or any(set(masks) != set(first) for masks in snapshots.values()):
            problems.append("masks.npz does not hold the same layers at every step as "
                            "metrics.json's layer_density")
        if min(snapshots) != 0:
            problems.append("masks.npz has no snapshot at step 0 (the masks training began with)")
        if max(snapshots) > steps:
            problems.append(f"masks.npz has snapshots beyond total_steps {steps}")
    return problems


def changes_problem(changes, lr: float) -> str | None:
    """What is wrong with a config.json's ``changes`` whose run has learning rate ``lr``, or
    None: a list of ``{step, option, from, to}``, option ``lr``, steps not decreasing, each
    change starting where the one before ended and the last ending at ``lr``."""
    if not isinstance(changes, list):
        return "must be a list of {step, option, from, to}"
    previous = None
    for i, c in enumerate(changes):
        if not isinstance(c, dict) or set(c) != {"step", "option", "from", "to"}:
            return f"entry {i} must be an object of exactly step, option, from, to"
        if c["option"] != "lr":
            return f"entry {i} changes {c['option']!r}; a resume changes only lr"
        if not integer(c["step"], previous["step"] if previous else 0):
            return f"entry {i} has step {c['step']!r}: an integer, not below the step before"
        if not all(number(c[k]) and c[k] > 0 for k in ("from", "to")):
            return f"entry {i}: from and to must be positive learning rates"
        if previous and c["from"] != previous["to"]:
            return f"entry {i} changes lr from {c['from']!r}, but the one before set {previous['to']!r}"
        previous = c
    if previous and previous["to"] != lr:
        return f"the last sets lr {previous['to']!r}, but the run's lr is {lr!r}"
    return None
