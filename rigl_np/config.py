"""Run configuration: small dataclasses, one line of help per field; the CLI is built from them.

``python -m rigl_np train --help`` lists exactly these fields, grouped by dataclass. Defaults follow
the RigL paper where it has one (alpha 0.3, delta_t 100, t_end 75 %, cosine drop fraction) and the
project's Fashion-MNIST protocol otherwise (batch 128, SGD momentum 0.9, lr 0.05 cosine, wd 1e-4).

Every dataclass checks its values in ``__post_init__`` (types, ranges, choices taken from the
modules that own them), and ``check_together`` the rules that join two of them (a model and the
data set's image size), so the CLI, notebooks, compare grids and resumed ``config.json`` files all
get the same checks; a bad value raises ``ConfigError`` (exit 2) naming the ``--option``.
``to_dict`` / ``from_dict`` are the ``config.json`` form; ``from_dict`` refuses unknown and missing
keys instead of guessing.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field

from rigl_np import methods
from rigl_np.backend import BACKENDS
from rigl_np.data import DATASETS
from rigl_np.data.loader import NORMALIZE_MODES
from rigl_np.errors import UsageError
from rigl_np.methods.dynamic import DenseGradientGrowth
from rigl_np.models import MODELS
from rigl_np.optim import LR_SCHEDULES, OPTIMIZERS
from rigl_np.rigl.schedule import SCHEDULES as DROP_SCHEDULES
from rigl_np.sparsity import DISTRIBUTIONS as SPARSITY_DISTRIBUTIONS


class ConfigError(UsageError):
    """A configuration value that cannot be used; the message names the option."""


def opt(default, help, choices=None):
    """A dataclass field carrying its one-line help (and choices) for argparse."""
    return field(default=default, metadata={"help": help, "choices": choices})


METHODS = methods.NAMES
DISTRIBUTIONS = (*SPARSITY_DISTRIBUTIONS, "uniform-first-dense")  # the last: rigl-torch's
MAX_EPOCHS = 100_000                             # more is a typo, not a plan
KINDS = {"bool": "true or false", "int": "an integer", "float": "a number",
         "str": "a non-empty string"}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_fields(cfg) -> None:
    """Every field has its declared type (JSON and notebooks can give anything) and choice."""
    for f in dataclasses.fields(cfg):
        value, kind = getattr(cfg, f.name), f.type
        if value is None and f.default is None:
            continue
        if kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok:
                value = float(value)
                setattr(cfg, f.name, value)
                if not math.isfinite(value):
                    raise ConfigError(f"{flag(f.name)} must be a finite number, got {value}")
        else:
            ok = isinstance(value, str) and value != ""
        if not ok:
            raise ConfigError(f"{flag(f.name)} must be {KINDS[kind]}, got {value!r}")
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{flag(f.name)} {value!r} is not one of: {', '.join(choices)}")


def _require(ok: bool, name: str, rule: str, value) -> None:
    if not ok:
        raise ConfigError(f"{flag(name)} must {rule}, got {value}")


@dataclass
class DataConfig:
    dataset: str = opt("fashion-mnist", "data set", DATASETS)
    data_dir: str = opt(None, "folder holding the data set files (searched first)")
    normalization: str = opt("unit", "input scaling: unit = [0, 1], standard = per-channel z-score",
                             NORMALIZE_MODES)

    def __post_init__(self):
        _check_fields(self)
        if self.dataset == "synthetic" and self.data_dir is not None:
            raise ConfigError("--data-dir is not used by --dataset synthetic (it is generated, "
                              "not read); leave --data-dir out")


@dataclass
class ModelConfig:
    model: str = opt("lenet300", "network", MODELS)

    def __post_init__(self):
        _check_fields(self)


@dataclass
class OptimConfig:
    epochs: int = opt(10, "passes over the training set")
    batch_size: int = opt(128, "examples per optimizer step")
    lr: float = opt(0.05, "peak learning rate")
    lr_schedule: str = opt("cosine", "learning-rate schedule (step: x0.1 after each third of "
                           "training)", LR_SCHEDULES)
    warmup_epochs: float = opt(0.0, "linear learning-rate warm-up, in epochs")
    optimizer: str = opt("sgd", "optimizer", OPTIMIZERS)
    momentum: float = opt(0.9, "SGD momentum")
    nesterov: bool = opt(False, "use Nesterov momentum")
    weight_decay: float = opt(1e-4, "L2 weight decay")
    seed: int = opt(0, "seed for initialisation, masks and data order")

    def __post_init__(self):
        _check_fields(self)
        _require(1 <= self.epochs <= MAX_EPOCHS, "epochs", f"lie in [1, {MAX_EPOCHS}]", self.epochs)
        _require(self.batch_size >= 1, "batch_size", "be at least 1", self.batch_size)
        _require(self.lr > 0, "lr", "be positive", self.lr)
        _require(0 <= self.warmup_epochs <= self.epochs, "warmup_epochs",
                 f"lie in [0, --epochs = {self.epochs}]", self.warmup_epochs)
        _require(0 <= self.momentum < 1, "momentum", "lie in [0, 1)", self.momentum)
        _require(self.weight_decay >= 0, "weight_decay", "be at least 0", self.weight_decay)
        _require(self.seed >= 0, "seed", "be at least 0 (NumPy seeds are non-negative)", self.seed)
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ConfigError("--nesterov needs --optimizer sgd and --momentum above 0, got "
                              f"--optimizer {self.optimizer} --momentum {self.momentum}")


@dataclass
class SparseConfig:
    method: str = opt("rigl", "training method", METHODS)
    distribution: str = opt("erk", "how the density is spread over layers", DISTRIBUTIONS)
    sparsity: float = opt(0.9, "global fraction of sparsifiable weights that are zero, in [0, 1)")
    delta_t: int = opt(100, "batches between mask updates (RigL's Delta T)")
    alpha: float = opt(0.3, "initial drop fraction")
    t_end_fraction: float = opt(0.75, "fraction of training after which masks stop changing")
    drop_schedule: str = opt("cosine", "drop-fraction decay", DROP_SCHEDULES)
    grad_accumulation: int = opt(1, "batches whose dense gradients are averaged for growth "
                                 "(rigl, srigl)")
    init: str = opt("dense", "He-init fan-in of masked weights: the layer's dense fan-in, or each "
                    "neuron's sparse fan-in in its mask", ("dense", "sparse"))
    gamma_sal: float = opt(0.3, "SRigL: neuron ablation threshold (fraction of the fan-in)")

    def __post_init__(self):
        _check_fields(self)
        _require(0 <= self.sparsity < 1, "sparsity", "lie in [0, 1)", self.sparsity)
        _require(self.delta_t >= 1, "delta_t", "be at least 1", self.delta_t)
        _require(0 <= self.alpha <= 1, "alpha", "lie in [0, 1]", self.alpha)
        _require(0 < self.t_end_fraction <= 1, "t_end_fraction", "lie in (0, 1]",
                 self.t_end_fraction)
        _require(0 <= self.gamma_sal <= 1, "gamma_sal", "lie in [0, 1]", self.gamma_sal)
        _require(self.grad_accumulation >= 1, "grad_accumulation", "be at least 1",
                 self.grad_accumulation)
        cls = methods.get(self.method)
        if cls.update_phase == "before_step" and self.delta_t < 2:
            raise ConfigError(f"--delta-t 1 makes every batch before t_end a mask-update batch, "
                              f"and {self.method} skips the optimizer step on those (it would "
                              "train only after t_end); use --delta-t 2 or more")
        if issubclass(cls, DenseGradientGrowth) and self.grad_accumulation >= self.delta_t:
            raise ConfigError(f"--grad-accumulation {self.grad_accumulation} must be below "
                              f"--delta-t {self.delta_t}: the gradients averaged for growth are "
                              "those of the last batches before each update")


@dataclass
class RunConfig:
    out: str = opt(None, "run folder (default runs/<dataset>-<model>-<method>-<distribution>-"
                   "<sparsity>-seed<seed>, or runs/<dataset>-<model>-dense-seed<seed>)")
    backend: str = opt("numpy", "array backend", tuple(b for b in BACKENDS if b != "strict"))
    snapshot_every: int = opt(0, "save bit-packed mask snapshots every N batches (0: at updates)")
    checkpoint_every: int = opt(200, "write a checkpoint every N batches (and after every epoch)")
    resume: str = opt(None, "continue the stopped run in this folder (its config.json wins; "
                      "only --lr may be changed)")

    def __post_init__(self):
        _check_fields(self)
        _require(self.snapshot_every >= 0, "snapshot_every", "be at least 0", self.snapshot_every)
        _require(self.checkpoint_every >= 1, "checkpoint_every", "be at least 1",
                 self.checkpoint_every)


GROUPS = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig,
          "sparse": SparseConfig, "run": RunConfig}


def check_together(cfgs: dict) -> dict:
    """The rules that join two groups; returns ``cfgs``."""
    model, dataset = cfgs["model"].model, cfgs["data"].dataset
    if model == "cnn" and dataset != "cifar10":
        raise ConfigError(f"--model cnn expects 3x32x32 images (cifar10), not {dataset}")
    if model != "cnn" and dataset == "cifar10":
        raise ConfigError(f"--model {model} expects 1x28x28 images; use --model cnn for cifar10")
    return cfgs


def run_name(cfgs: dict) -> str:
    """"lenet300-rigl-erk-0.9-seed0" ("lenet300-dense-seed0" for the dense baseline): a run's
    folder name inside a compare grid; a lone run's default folder prefixes the data set. Two
    different configurations of a grid never share a name (``exact``)."""
    s = cfgs["sparse"]
    tag = (s.method if methods.get(s.method).dense_baseline
           else f"{s.method}-{s.distribution}-{exact(s.sparsity)}")
    return f"{cfgs['model'].model}-{tag}-seed{cfgs['optim'].seed}"


def exact(value: float) -> str:
    """``value`` as short as ``:g`` writes it ("0.9") when that is exactly ``value``, else in
    full ("0.90000001"): two different sparsities never share a run name."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def add_arguments(parser: argparse.ArgumentParser, groups=GROUPS) -> None:
    """One ``--flag`` per dataclass field (underscores become dashes), grouped by dataclass.

    Defaults are ``argparse.SUPPRESS``: a parsed namespace holds only the options the user typed
    (``from_namespace`` fills in the dataclass defaults), so ``--resume`` can refuse the ones it
    cannot honour."""
    for title, cls in groups.items():
        group = parser.add_argument_group(title)
        for f in dataclasses.fields(cls):
            meta = f.metadata
            shown = f" (default: {f.default})" if f.default is not None else ""
            if f.type in ("bool", bool):
                group.add_argument(flag(f.name), action=argparse.BooleanOptionalAction,
                                   default=argparse.SUPPRESS, help=meta["help"] + shown)
                continue
            kind = {"int": int, "float": float}.get(f.type, str)
            group.add_argument(flag(f.name), type=kind, default=argparse.SUPPRESS,
                               choices=meta["choices"], help=meta["help"] + shown)


def typed(args: argparse.Namespace, groups=GROUPS) -> set:
    """The configuration fields the user gave on the command line."""
    return {f.name for cls in groups.values() for f in dataclasses.fields(cls)} & set(vars(args))


def from_namespace(args: argparse.Namespace, groups=GROUPS) -> dict:
    """``{"data": DataConfig(...), ...}`` from parsed arguments (defaults for what was not given)."""
    given = vars(args)
    return check_together({title: cls(**{f.name: given[f.name] for f in dataclasses.fields(cls)
                                         if f.name in given})
                           for title, cls in groups.items()})


def to_dict(cfgs: dict) -> dict:
    """The ``config.json`` form: ``{group: {field: value}}``."""
    return {title: dataclasses.asdict(cfgs[title]) for title in GROUPS}


def from_dict(saved, where: str = "config.json") -> dict:
    """The dataclasses of a ``to_dict`` mapping, every key and value checked; ``where`` names the
    file in messages. Extra top-level keys (``changes``) are the caller's."""
    if not isinstance(saved, dict):
        raise ConfigError(f"{where}: expected a JSON object of groups, found {type(saved).__name__}")
    missing = sorted(set(GROUPS) - set(saved))
    if missing:
        raise ConfigError(f"{where}: missing the group(s) {missing}")
    cfgs = {}
    for title, cls in GROUPS.items():
        values, names = saved[title], {f.name for f in dataclasses.fields(cls)}
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: {title!r} must be an object, found "
                              f"{type(values).__name__}")
        unknown, absent = sorted(set(values) - names), sorted(names - set(values))
        if unknown or absent:
            raise ConfigError(f"{where}: {title!r} has " + "; ".join(
                text for text in (f"unknown key(s) {unknown}" if unknown else "",
                                  f"missing key(s) {absent}" if absent else "") if text))
        try:
            cfgs[title] = cls(**values)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None
    try:
        return check_together(cfgs)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
