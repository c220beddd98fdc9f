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

Options every sparse method shares are ``SparseConfig``'s; a method's own options are its
``Options`` dataclass (``rigl_np.methods.<name>``): the CLI gets one ``--flag`` per option of any
method (``methods.option_fields``), a run keeps only its method's (config.json group
``options``), and an option the chosen method does not have is refused. config.json files from
before that split (``LEGACY_SPARSE`` keys in ``sparse``) are read through ``upgrade``.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

from rigl_np import methods
from rigl_np.methods import selection
from rigl_np.backend import BACKENDS
from rigl_np.data import DATASETS
from rigl_np.data.loader import NORMALIZE_MODES
from rigl_np.models import MODELS
from rigl_np.optim import LR_SCHEDULES, OPTIMIZERS
from rigl_np.options import ConfigError, check_fields, flag, opt, require, type_name
from rigl_np.rigl.schedule import SCHEDULES as DROP_SCHEDULES
from rigl_np.sparsity import DISTRIBUTIONS as SPARSITY_DISTRIBUTIONS

METHODS = methods.NAMES
DISTRIBUTIONS = (*SPARSITY_DISTRIBUTIONS, "uniform-first-dense")  # the last: rigl-torch's
MAX_EPOCHS = 100_000                             # more is a typo, not a plan
@dataclass
class DataConfig:
    dataset: str = opt("fashion-mnist", "data set", DATASETS)
    data_dir: str = opt(None, "folder holding the data set files (searched first)")
    normalization: str = opt("unit", "input scaling: unit = [0, 1], standard = per-channel z-score",
                             NORMALIZE_MODES)

    def __post_init__(self):
        check_fields(self)
        if self.dataset == "synthetic" and self.data_dir is not None:
            raise ConfigError("--data-dir is not used by --dataset synthetic (it is generated, "
                              "not read); leave --data-dir out")


@dataclass
class ModelConfig:
    model: str = opt("lenet300", "network", MODELS)

    def __post_init__(self):
        check_fields(self)


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
        check_fields(self)
        require(1 <= self.epochs <= MAX_EPOCHS, "epochs", f"lie in [1, {MAX_EPOCHS}]", self.epochs)
        require(self.batch_size >= 1, "batch_size", "be at least 1", self.batch_size)
        require(self.lr > 0, "lr", "be positive", self.lr)
        require(0 <= self.warmup_epochs <= self.epochs, "warmup_epochs",
                 f"lie in [0, --epochs = {self.epochs}]", self.warmup_epochs)
        require(0 <= self.momentum < 1, "momentum", "lie in [0, 1)", self.momentum)
        require(self.weight_decay >= 0, "weight_decay", "be at least 0", self.weight_decay)
        require(self.seed >= 0, "seed", "be at least 0 (NumPy seeds are non-negative)", self.seed)
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
    init: str = opt("dense", "He-init fan-in of masked weights: the layer's dense fan-in, or each "
                    "neuron's sparse fan-in in its mask", ("dense", "sparse"))

    def __post_init__(self):
        check_fields(self)
        require(0 <= self.sparsity < 1, "sparsity", "lie in [0, 1)", self.sparsity)
        require(self.delta_t >= 1, "delta_t", "be at least 1", self.delta_t)
        require(0 <= self.alpha <= 1, "alpha", "lie in [0, 1]", self.alpha)
        require(0 < self.t_end_fraction <= 1, "t_end_fraction", "lie in (0, 1]",
                 self.t_end_fraction)
        methods.get(self.method).check(self)


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
        check_fields(self)
        require(self.snapshot_every >= 0, "snapshot_every", "be at least 0", self.snapshot_every)
        require(self.checkpoint_every >= 1, "checkpoint_every", "be at least 1",
                 self.checkpoint_every)


GROUPS = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig,
          "sparse": SparseConfig, "run": RunConfig}
ORDER = ("data", "model", "optim", "sparse", "options", "run")   # config.json's groups
# keys config.json files kept in "sparse" before each method had its own options group
LEGACY_SPARSE = ("grad_accumulation", "gamma_sal")


def check_together(cfgs: dict) -> dict:
    """The rules that join two groups; fills in ``cfgs["options"]`` (the method's own options)
    with its defaults when absent; returns ``cfgs``."""
    model, dataset = cfgs["model"].model, cfgs["data"].dataset
    if model == "cnn" and dataset != "cifar10":
        raise ConfigError(f"--model cnn expects 3x32x32 images (cifar10), not {dataset}")
    if model != "cnn" and dataset == "cifar10":
        raise ConfigError(f"--model {model} expects 1x28x28 images; use --model cnn for cifar10")
    sparse = cfgs["sparse"]
    cls = methods.get(sparse.method)
    options = cfgs.setdefault("options", cls.Options())
    if not isinstance(options, cls.Options):
        raise ConfigError(f"the options given are {type(options).__qualname__} from "
                          f"{type(options).__module__}, not those of --method {sparse.method}")
    cls.check(sparse, options)
    return cfgs


def option_names(method: str) -> tuple:
    """The names of ``method``'s own options."""
    return tuple(f.name for f in dataclasses.fields(methods.get(method).Options))


def method_options(method: str, values: dict):
    """``method``'s ``Options`` from ``{option: value}``; an option it does not have is refused."""
    foreign = sorted(set(values) - set(option_names(method)))
    if foreign:
        owners = methods.option_fields()[foreign[0]][1]
        raise ConfigError(f"{flag(foreign[0])} is an option of {', '.join(owners)}, not of "
                          f"--method {method}; leave it out")
    return methods.get(method).Options(**values)


def run_name(cfgs: dict) -> str:
    """"lenet300-rigl-erk-0.9-seed0" ("lenet300-dense-seed0" for the dense baseline,
    "lenet300-rigl-nm2of4-uniform-0.5-seed0" with ``--nm 2:4``, "lenet300-rigl-global-erk-0.9-
    seed0" with ``--selection global``): a run's
    folder name inside a compare grid; a lone run's default folder prefixes the data set. Two
    different configurations of a grid never share a name (``exact``)."""
    s, nm = cfgs["sparse"], getattr(cfgs.get("options"), "nm", None)   # --nm 2:4: "-nm2of4"
    chosen = selection.tag(cfgs.get("options") or {})                   # "-global", "-global-l2"
    tag = (s.method if methods.get(s.method).dense_baseline
           else f"{s.method}{'-nm' + nm.replace(':', 'of') if nm else ''}"
                f"{'-' + chosen if chosen else ''}-{s.distribution}-{exact(s.sparsity)}")
    return f"{cfgs['model'].model}-{tag}-seed{cfgs['optim'].seed}"


def exact(value: float) -> str:
    """``value`` as short as ``:g`` writes it ("0.9") when that is exactly ``value``, else in
    full ("0.90000001"): two different sparsities never share a run name."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def _add(group, f, help: str) -> None:
    shown = f" (default: {f.default})" if f.default is not None else ""
    if type_name(f) == "bool":
        group.add_argument(flag(f.name), action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=help + shown)
        return
    kind = {"int": int, "float": float}.get(type_name(f), str)
    group.add_argument(flag(f.name), type=kind, default=argparse.SUPPRESS,
                       choices=f.metadata["choices"], help=help + shown)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per dataclass field (underscores become dashes), grouped by dataclass, and
    one per method option (``methods.option_fields``), naming the methods that have it.

    Defaults are ``argparse.SUPPRESS``: a parsed namespace holds only the options the user typed
    (``from_namespace`` fills in the dataclass defaults), so ``--resume`` can refuse the ones it
    cannot honour."""
    for title, cls in GROUPS.items():
        group = parser.add_argument_group(title)
        for f in dataclasses.fields(cls):
            _add(group, f, f.metadata["help"])
    group = parser.add_argument_group("method options (each for the methods named)")
    for f, owners in methods.option_fields().values():
        _add(group, f, f"{', '.join(owners)}: {f.metadata['help']}")


def option_values(args: argparse.Namespace) -> dict:
    """The method options the user gave on the command line, ``{name: value}``."""
    return {name: value for name, value in vars(args).items() if name in methods.option_fields()}


def typed(args: argparse.Namespace) -> set:
    """The configuration fields (method options included) the user gave on the command line."""
    names = {f.name for cls in GROUPS.values() for f in dataclasses.fields(cls)}
    return (names | set(methods.option_fields())) & set(vars(args))


def from_namespace(args: argparse.Namespace, options: bool = True) -> dict:
    """``{"data": DataConfig(...), ..., "options": <the method's Options>}`` from parsed
    arguments (defaults for what was not given). ``options=False``: the method's default options
    (``compare`` gives each cell its own)."""
    given = vars(args)
    cfgs = {title: cls(**{f.name: given[f.name] for f in dataclasses.fields(cls)
                          if f.name in given})
            for title, cls in GROUPS.items()}
    cfgs["options"] = method_options(cfgs["sparse"].method,
                                     option_values(args) if options else {})
    return check_together(cfgs)


def to_dict(cfgs: dict) -> dict:
    """The ``config.json`` form: ``{group: {field: value}}``, the method's options as ``options``."""
    check_together(cfgs)
    return {title: dataclasses.asdict(cfgs[title]) for title in ORDER}


def upgrade(saved: dict) -> dict:
    """A ``to_dict`` mapping written before methods had their own options (no ``options``;
    ``LEGACY_SPARSE`` keys in ``sparse``) in today's form: the options its method has move to
    ``options`` (their defaults where absent), the other legacy keys are dropped. Anything else
    is returned as it is."""
    if not isinstance(saved, dict) or "options" in saved:
        return saved
    sparse = saved.get("sparse")
    if not isinstance(sparse, dict) or sparse.get("method") not in methods.REGISTRY:
        return saved
    own = dataclasses.fields(methods.get(sparse["method"]).Options)
    return {**saved, "sparse": {k: v for k, v in sparse.items() if k not in LEGACY_SPARSE},
            "options": {f.name: sparse.get(f.name, f.default) for f in own}}


def from_dict(saved, where: str = "config.json") -> dict:
    """The dataclasses of a ``to_dict`` mapping, every key and value checked; ``where`` names the
    file in messages. Extra top-level keys (``changes``) are the caller's."""
    if not isinstance(saved, dict):
        raise ConfigError(f"{where}: expected a JSON object of groups, found {type(saved).__name__}")
    saved = upgrade(saved)
    missing = sorted(set(ORDER) - set(saved))
    if missing:
        raise ConfigError(f"{where}: missing the group(s) {missing}")
    cfgs = {}
    for title in ORDER:
        cls = GROUPS.get(title) or methods.get(cfgs["sparse"].method).Options
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
