"""Run configuration: small dataclasses, one line of help per field; the CLI is built from them.

``python -m rigl_np train --help`` lists exactly these fields, grouped by dataclass. Defaults follow
the RigL paper where it has one (alpha 0.3, delta_t 100, t_end 75 %, cosine drop fraction) and the
project's Fashion-MNIST protocol otherwise (batch 128, SGD momentum 0.9, lr 0.05 cosine, wd 1e-4).
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

from rigl_np import methods
from rigl_np.data import DATASETS
from rigl_np.models import MODELS
from rigl_np.sparsity import DISTRIBUTIONS as SPARSITY_DISTRIBUTIONS


def opt(default, help, choices=None):
    """A dataclass field carrying its one-line help (and choices) for argparse."""
    return field(default=default, metadata={"help": help, "choices": choices})


METHODS = methods.NAMES
DISTRIBUTIONS = (*SPARSITY_DISTRIBUTIONS, "uniform-first-dense")  # the last: rigl-torch's


@dataclass
class DataConfig:
    dataset: str = opt("fashion-mnist", "data set", DATASETS)
    data_dir: str = opt(None, "folder holding the data set files (searched first)")
    normalization: str = opt("unit", "input scaling: unit = [0, 1], standard = per-channel z-score",
                             ("unit", "standard"))


@dataclass
class ModelConfig:
    model: str = opt("lenet300", "network", MODELS)


@dataclass
class OptimConfig:
    epochs: int = opt(10, "passes over the training set")
    batch_size: int = opt(128, "examples per optimizer step")
    lr: float = opt(0.05, "peak learning rate")
    lr_schedule: str = opt("cosine", "learning-rate schedule", ("constant", "step", "cosine"))
    warmup_epochs: float = opt(0.0, "linear learning-rate warm-up, in epochs")
    optimizer: str = opt("sgd", "optimizer", ("sgd", "adam"))
    momentum: float = opt(0.9, "SGD momentum")
    nesterov: bool = opt(False, "use Nesterov momentum")
    weight_decay: float = opt(1e-4, "L2 weight decay")
    seed: int = opt(0, "seed for initialisation, masks and data order")


@dataclass
class SparseConfig:
    method: str = opt("rigl", "training method", METHODS)
    distribution: str = opt("erk", "how the density is spread over layers", DISTRIBUTIONS)
    sparsity: float = opt(0.9, "global fraction of sparsifiable weights that are zero, in [0, 1)")
    delta_t: int = opt(100, "batches between mask updates (RigL's Delta T)")
    alpha: float = opt(0.3, "initial drop fraction")
    t_end_fraction: float = opt(0.75, "fraction of training after which masks stop changing")
    drop_schedule: str = opt("cosine", "drop-fraction decay", ("cosine", "constant", "linear"))
    grad_accumulation: int = opt(1, "batches whose dense gradients are averaged for growth")
    init: str = opt("dense", "He-init fan-in of masked weights: the layer's dense fan-in, or each "
                    "neuron's sparse fan-in in its mask", ("dense", "sparse"))
    gamma_sal: float = opt(0.3, "SRigL: neuron ablation threshold (fraction of the fan-in)")


@dataclass
class RunConfig:
    out: str = opt(None, "run folder (default runs/<dataset>-<model>-<method>-<distribution>-"
                   "<sparsity>-seed<seed>, or runs/<dataset>-<model>-dense-seed<seed>)")
    backend: str = opt("numpy", "array backend", ("numpy", "cupy"))
    snapshot_every: int = opt(0, "save bit-packed mask snapshots every N batches (0: at updates)")
    checkpoint_every: int = opt(200, "write a checkpoint every N batches (and after every epoch)")
    resume: str = opt(None, "continue the stopped run in this folder (its config.json wins)")


GROUPS = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig,
          "sparse": SparseConfig, "run": RunConfig}


def run_name(cfgs: dict) -> str:
    """"lenet300-rigl-erk-0.9-seed0" ("lenet300-dense-seed0" for the dense baseline): a run's
    folder name inside a compare grid; a lone run's default folder prefixes the data set."""
    s = cfgs["sparse"]
    tag = (s.method if methods.get(s.method).dense_baseline
           else f"{s.method}-{s.distribution}-{s.sparsity:g}")
    return f"{cfgs['model'].model}-{tag}-seed{cfgs['optim'].seed}"


def add_arguments(parser: argparse.ArgumentParser, groups=GROUPS) -> None:
    """One ``--flag`` per dataclass field (underscores become dashes), grouped by dataclass."""
    for title, cls in groups.items():
        group = parser.add_argument_group(title)
        for f in dataclasses.fields(cls):
            flag = "--" + f.name.replace("_", "-")
            meta = f.metadata
            if f.type in ("bool", bool):
                group.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default,
                                   help=meta["help"])
                continue
            kind = {"int": int, "float": float}.get(f.type, str)
            group.add_argument(flag, type=kind, default=f.default, choices=meta["choices"],
                               help=meta["help"] + (" (default: %(default)s)" if f.default is not None else ""))


def from_namespace(args: argparse.Namespace, groups=GROUPS) -> dict:
    """``{"data": DataConfig(...), ...}`` from parsed arguments."""
    return {title: cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})
            for title, cls in groups.items()}
