"""Training methods, each one argument away in the same trainer (docs/semantics.md "Baselines").

| method      | masks                    | grow score               | masks change              |
|-------------|--------------------------|--------------------------|---------------------------|
| dense       | none                     |                          |                           |
| small-dense | none, narrower model     |                          |                           |
| static      | random, fixed            |                          |                           |
| set         | random, updated          | random                   | after the optimizer step  |
| snfs        | random, updated          | |EMA of dense gradients| | after the optimizer step  |
| rigl        | random, updated          | |dense gradient|         | instead of the step       |
| srigl       | constant fan-in, updated | |dense gradient| per row | instead of the step       |
| pruning     | dense, shrinking         | (never grows)            | after the optimizer step  |

``get(name)`` is a method's class, ``make_method(cfg, shapes, total_steps, rng)`` the object the
trainer calls for a ``SparseConfig`` (``rigl_np.train``), ``densities_for(cfg, shapes)`` its layer
densities. Every module of this package is imported here, so each class that sets ``name``
registers itself (``base.Method.__init_subclass__``); ``NAMES`` lists them for the CLI.

Adding a method is one new file here (plus its tests) with a ``Method`` subclass that defines:
- ``name``: its ``--method`` value;
- its facts (``base.FACTS``): ``has_masks``, ``masks_change``, ``drop_schedule``,
  ``update_phase``, ``dense_baseline`` (metrics.json records them; plots and tables read them);
- what it changes: ``initial_masks`` (the masks it starts from); for masks that change,
  ``update_layer(name, step, f)`` returning a ``rigl.MaskUpdate`` (``Method.update_masks`` runs it
  over the layers and applies it), called from the hooks ``before_step`` / ``after_step`` (under
  ``dynamic.DynamicSparse``, on the drop-fraction schedule; ``observe`` sees every batch's dense
  gradient);
- ``options(cfg, total_steps)``: the constructor arguments it reads from a ``SparseConfig``;
- ``training_flops(flops, densities)`` when it costs other than 3 f_S per example;
- ``layer_densities`` / ``build_model`` only if it changes them (dense, small-dense);
- ``extra_state``: the names of further ``{layer: array}`` attributes a checkpoint must keep.
"""
from __future__ import annotations

import importlib
import pkgutil

from rigl_np.methods.base import FACTS, REGISTRY, Method
from rigl_np.methods.records import MaskRecords

for _module in pkgutil.iter_modules(__path__):
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

__all__ = ["Dense", "FACTS", "MaskRecords", "Method", "NAMES", "Pruning", "RigL", "SET", "SNFS",
           "SRigL", "SmallDense", "Static", "densities_for", "facts", "get", "make_method",
           "matched_width", "parameter_count"]


def get(name: str) -> type:
    """The class of method ``name``; a ValueError that lists the known ones otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(NAMES)}")
    return REGISTRY[name]


def facts(config: dict, metrics: dict) -> dict:
    """A finished run's method facts: as its metrics.json recorded them, or (runs written before
    rigl_np recorded them) as its method declares them."""
    return metrics.get("method") or get(config["sparse"]["method"]).kind()


def densities_for(cfg, shapes: dict) -> dict:
    """Per-layer densities of ``cfg.method`` for ``cfg.distribution`` and ``cfg.sparsity``."""
    return get(cfg.method).layer_densities(cfg, shapes)


def make_method(cfg, shapes: dict, total_steps: int, rng, snapshot_every: int = 0):
    """The method object for ``cfg`` (a ``SparseConfig``), for a run of ``total_steps`` batches.

    ``snapshot_every``: keep bit-packed masks every N batches (0: after every mask update).
    """
    cls = get(cfg.method)
    return cls.from_config(cfg, cls.layer_densities(cfg, shapes), total_steps, rng,
                           snapshot_every)
