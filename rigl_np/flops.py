"""Theoretical FLOPs, the RigL paper's accounting (Appendix H; SPEC "FLOPs").

Only the multiply-adds of the sparsifiable layers count (2 FLOPs each): a Linear layer of
(out, in) costs 2·in·out per example, a Conv2d layer 2·C_in·kh·kw·C_out·H_out·W_out. A sparse layer
costs its dense FLOPs times its density. Biases, BatchNorm, activations and pooling are left out;
they are a rounding error next to the weights and the paper leaves them out too.

With f_D the dense and f_S the sparse forward FLOPs of one example, one training example costs:
dense 3·f_D; static, SET and small-dense 3·f_S; SNFS 2·f_S + f_D (it needs the dense gradient every
step); RigL (3·f_S·ΔT + 2·f_S + f_D)/(ΔT + 1) (the dense gradient only on update steps); gradual
pruning the mean over its schedule of 3·f_S(t). Everything is reported as a multiple of dense.
RigL (and SRigL) averaging the growth gradient over n batches needs the dense gradient on n batches
of every ΔT + 1: (3·f_S·(ΔT + 1 - n) + n·(2·f_S + f_D))/(ΔT + 1), the paper's formula at n = 1.
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.nn import Conv2d, Linear
from rigl_np.rigl import pruning_sparsity


def layer_flops(model, input_shape) -> dict:
    """``{weight name: dense forward FLOPs of one example}`` for every Linear and Conv2d layer."""
    x = backend.xp().zeros((1, *input_shape), dtype="float32")
    flops = {}
    for name, layer in model.layers:
        out = layer.forward(x, train=False)
        if isinstance(layer, (Linear, Conv2d)):
            w = layer.params["weight"]                                # (out, in[, kh, kw])
            spatial = math.prod(out.shape[2:]) if out.ndim == 4 else 1
            flops[f"{name}.weight"] = 2 * w.size * spatial
        x = out
    return flops


def forward_flops(flops: dict, densities: dict) -> float:
    """f_S: forward FLOPs of one example with layer densities (missing layers dense)."""
    return sum(f * densities.get(name, 1.0) for name, f in flops.items())


def training_flops(method: str, f_dense: float, f_sparse: float, delta_t: int = 100,
                   grad_accumulation: int = 1) -> float:
    """Training FLOPs per example for a method with fixed sparse cost ``f_sparse`` (not pruning).

    ``grad_accumulation``: batches whose dense gradient RigL/SRigL average for growth (n above).
    """
    if method == "dense":
        return 3 * f_dense
    if method in ("static", "set", "small-dense"):
        return 3 * f_sparse
    if method == "snfs":
        return 2 * f_sparse + f_dense
    if method in ("rigl", "srigl"):
        n = grad_accumulation
        return (3 * f_sparse * (delta_t + 1 - n) + n * (2 * f_sparse + f_dense)) / (delta_t + 1)
    raise ValueError(f"no training-FLOPs formula for method {method!r}")


def pruning_training_flops(flops: dict, densities: dict, total_steps: int, delta_t: int,
                           t0: int, t1: int) -> float:
    """Gradual pruning: mean over all steps of 3·f_S(t), each layer at its scheduled density.

    The masks change every ``delta_t`` steps between t0 and t1, so the density of step t is that
    of the last pruning step at or before t (dense before the first).
    """
    total = 0.0
    for step in range(1, total_steps + 1):
        last = min(step, t1) // delta_t * delta_t
        at = {name: 1.0 if last < max(t0, 1) else
              1 - pruning_sparsity(last, 0.0, 1 - d, t0, t1) for name, d in densities.items()}
        total += 3 * forward_flops(flops, at)
    return total / total_steps


def flops_report(model, input_shape, method: str, densities: dict, delta_t: int = 100,
                 total_steps: int = 1, t_end: int = 1, grad_accumulation: int = 1) -> dict:
    """Training and inference FLOPs of ``method`` as multiples of dense training and inference."""
    flops = layer_flops(model, input_shape)
    f_dense = sum(flops.values())
    f_sparse = forward_flops(flops, densities)
    if method == "pruning":
        train = pruning_training_flops(flops, densities, total_steps, delta_t, 0, t_end)
    else:
        train = training_flops(method, f_dense, f_sparse, delta_t, grad_accumulation)
    return {"forward_dense": f_dense, "forward_sparse": f_sparse,
            "train_multiplier": train / (3 * f_dense), "inference_multiplier": f_sparse / f_dense}
