"""Training methods, each one file of declared parts, one argument away in the same trainer.

| method      | structure       | schedule (update batch's step)   | signal (grow score)          |
|-------------|-----------------|----------------------------------|------------------------------|
| dense       | no masks        |                                  |                              |
| small-dense | no masks, narrower model |                         |                              |
| static      | unstructured    | never                            |                              |
| set         | unstructured    | drop fraction (after the step)   | none (random scores)         |
| snfs        | unstructured    | drop fraction (after the step)   | EMA of dense gradients       |
| rigl        | unstructured    | drop fraction (instead of it)    | dense gradient (mean of n)   |
| srigl       | constant fan-in | drop fraction (instead of it)    | dense gradient, per row      |
| pruning     | starts dense    | cubic pruning (after the step)   | none (never grows)           |
| granet      | starts dense    | cubic pruning + drop fraction    | dense gradient (per layer)   |
| gmp-star    | starts dense    | a jump at t_accel, then cubic    | none (never grows)           |
| topkast     | top-D of dense θ | refresh every ΔT (after the step) | none (|θ| picks sets) |

``selection.py`` is a part several methods share: ``--selection global`` (static, SET, RigL,
pruning, GMP*) makes their structure pooled and their update one ranking over all layers.

Adding a method is one new file here (plus its tests), a ``base.Method`` subclass that sets
``name`` (its ``--method`` value) and declares its parts (``base.py`` says what each one is):
``Options`` (a dataclass of ``options.opt`` fields, validated in ``__post_init__``), ``structure``
(``rigl_np.masks``), ``schedule`` (``schedules.py``), ``Signal`` (``signals.py``) and
``update(step, f) -> {layer: MaskUpdate}``; optionally ``forward_weights``, ``check``,
``training_flops``, ``layer_densities`` / ``build_model`` (dense, small-dense), ``initial_masks``.
``verify`` finds it here too (``Method.verification``). Nothing else changes: every module of
this package is imported below, so the class registers itself, and the CLI, config.json,
``compare``, ``plot`` and metrics.json read the registry.

``get(name)`` is a method's class; ``make_method(cfg, shapes, total_steps, rng, ...)`` the object
the trainer calls for a ``SparseConfig``; ``densities_for(cfg, shapes)`` its layer densities;
``option_fields()`` every method's options, merged by name, for the CLI.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil

from rigl_np.methods.base import FACTS, REGISTRY, Method, NoOptions
from rigl_np.methods.records import MaskRecords
from rigl_np.options import type_name

_PARTS = {"base", "records", "schedules", "signals"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _PARTS:
        importlib.import_module(f"{__name__}.{_module.name}")

from rigl_np.methods.dense import Dense                       # noqa: E402 (registered above)
from rigl_np.methods.pruning import Pruning                   # noqa: E402
from rigl_np.methods.rigl import RigL                         # noqa: E402
from rigl_np.methods.set import SET                           # noqa: E402
from rigl_np.methods.small_dense import SmallDense, matched_width, parameter_count  # noqa: E402
from rigl_np.methods.snfs import SNFS                         # noqa: E402
from rigl_np.methods.srigl import SRigL                       # noqa: E402
from rigl_np.methods.static import Static                     # noqa: E402

NAMES = tuple(sorted(REGISTRY))

__all__ = ["Dense", "FACTS", "MaskRecords", "Method", "NAMES", "NoOptions", "Pruning", "RigL",
           "SET", "SNFS", "SRigL", "SmallDense", "Static", "densities_for", "facts", "get",
           "make_method", "matched_width", "option_fields", "parameter_count"]


def get(name: str) -> type:
    """The class of method ``name``; a ValueError that lists the known ones otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def option_fields() -> dict:
    """``{option name: (dataclass field, [methods that declare it])}`` over every registered
    method. Two methods may share an option (rigl and srigl: ``grad_accumulation``) only with the
    same type and default; anything else is a programming error, raised here."""
    merged = {}
    for name in sorted(REGISTRY):
        for f in dataclasses.fields(REGISTRY[name].Options):
            if f.name in merged:
                first, owners = merged[f.name]
                if (type_name(first), first.default) != (type_name(f), f.default):
                    raise TypeError(f"option {f.name!r}: {name} declares {type_name(f)} = "
                                    f"{f.default!r}, {owners[0]} {type_name(first)} = "
                                    f"{first.default!r}")
                owners.append(name)
            else:
                merged[f.name] = (f, [name])
    return merged


def facts(config: dict, metrics: dict) -> dict:
    """A finished run's method facts: as its metrics.json recorded them, or (runs written before
    rigl_np recorded them) as its method declares them."""
    return metrics.get("method") or get(config["sparse"]["method"]).kind()


def densities_for(cfg, shapes: dict) -> dict:
    """Per-layer densities of ``cfg.method`` for ``cfg.distribution`` and ``cfg.sparsity``."""
    return get(cfg.method).layer_densities(cfg, shapes)


def make_method(cfg, shapes: dict, total_steps: int, rng, snapshot_every: int = 0, options=None):
    """The method object for ``cfg`` (a ``SparseConfig``) and ``options`` (its ``Options``;
    default: the method's defaults), for a run of ``total_steps`` batches.

    ``snapshot_every``: keep bit-packed masks every N batches (0: after every mask update).
    """
    cls = get(cfg.method)
    return cls.from_config(cfg, cls.layer_densities(cfg, shapes), total_steps, rng,
                           snapshot_every, options)
