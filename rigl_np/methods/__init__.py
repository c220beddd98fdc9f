"""Sparse training methods, each one argument away in the same trainer (SPEC "Baselines").

``make_method(sparse_cfg, shapes, total_steps, rng)`` turns a ``SparseConfig`` into the method
object ``rigl_np.train`` calls (``None`` for dense and small-dense, which train a plain model) and
returns the layer densities it uses.

| method      | masks                    | grow score                | optimizer step on updates |
|-------------|--------------------------|---------------------------|---------------------------|
| dense       | none                     |                           |                           |
| static      | random, fixed            |                           |                           |
| set         | random, updated          | random                    | taken, then update        |
| snfs        | random, updated          | |EMA of dense gradients|  | taken, then update        |
| rigl        | random, updated          | |dense gradient|          | skipped                   |
| pruning     | dense, shrinking         | (never grows)             | taken, then prune         |
| small-dense | none, narrower model     |                           |                           |
| srigl       | constant fan-in, updated | |dense gradient| per row  | skipped                   |
"""
from __future__ import annotations

from rigl_np.methods.base import MaskRecords, Static
from rigl_np.methods.dynamic import SET, SNFS, RigL
from rigl_np.methods.pruning import Pruning
from rigl_np.methods.small_dense import matched_width, parameter_count
from rigl_np.methods.srigl import SRigL
from rigl_np.sparsity import layer_densities

__all__ = ["Static", "RigL", "SRigL", "SET", "SNFS", "Pruning", "MaskRecords", "make_method",
           "densities_for", "matched_width", "parameter_count"]


def densities_for(cfg, shapes: dict) -> dict:
    """Per-layer densities for ``cfg.distribution`` at global density 1 - ``cfg.sparsity``."""
    if cfg.method == "dense":
        return {name: 1.0 for name in shapes}
    first_dense = cfg.distribution == "uniform-first-dense"
    distribution = "uniform" if first_dense else cfg.distribution
    return layer_densities(shapes, 1 - cfg.sparsity, distribution, first_layer_dense=first_dense)


def make_method(cfg, shapes: dict, total_steps: int, rng, snapshot_every: int = 0):
    """The method object for ``cfg`` (a ``SparseConfig``), or ``None`` for a plain dense model.

    ``snapshot_every``: keep bit-packed masks every N batches (0: after every mask update).
    """
    densities = densities_for(cfg, shapes)
    t_end = int(cfg.t_end_fraction * total_steps)
    snap = dict(snapshot_every=snapshot_every)
    schedule = dict(delta_t=cfg.delta_t, alpha=cfg.alpha, t_end=t_end, schedule=cfg.drop_schedule,
                    **snap)
    if cfg.method in ("dense", "small-dense"):
        return None
    if cfg.method == "static":
        return Static(densities, rng, **snap)
    if cfg.method == "rigl":
        return RigL(densities, rng, grad_accumulation=cfg.grad_accumulation, **schedule)
    if cfg.method == "set":
        return SET(densities, rng, **schedule)
    if cfg.method == "snfs":
        return SNFS(densities, rng, **schedule)
    if cfg.method == "srigl":
        return SRigL(densities, rng, gamma_sal=cfg.gamma_sal,
                     grad_accumulation=cfg.grad_accumulation, **schedule)
    if cfg.method == "pruning":
        return Pruning(densities, rng, delta_t=cfg.delta_t, t0=0, t1=t_end, **snap)
    raise ValueError(f"unknown method {cfg.method!r}")
