"""Theoretical FLOPs, the RigL paper's accounting (Appendix H; docs/semantics.md "FLOPs").

Only the multiply-adds of the sparsifiable layers count (2 FLOPs each): a Linear layer of
(out, in) costs 2·in·out per example, a Conv2d layer 2·C_in·kh·kw·C_out·H_out·W_out. A sparse layer
costs its dense FLOPs times its density. Biases, BatchNorm, activations and pooling are left out;
they are a rounding error next to the weights and the paper leaves them out too.

With f_D the dense and f_S the sparse forward FLOPs of one example, one training example costs:
dense 3·f_D; static, SET, pruning and small-dense 3·f_S; SNFS 2·f_S + f_D (it needs the dense
gradient every step); RigL (3·f_S·ΔT + 2·f_S + f_D)/(ΔT + 1) (the dense gradient only on update
steps). Everything is reported as a multiple of dense. Each method's signal
(``rigl_np.methods.signals``) says which formula is its own; a run's training FLOPs average it
over the masks each batch trained with, as the run recorded them (``flops_report``).
RigL (and SRigL) averaging the growth gradient over n batches needs the dense gradient on n batches
of every ΔT + 1: (3·f_S·(ΔT + 1 - n) + n·(2·f_S + f_D))/(ΔT + 1), the paper's formula at n = 1.
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.nn import Conv2d, Linear


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


def snfs_training_flops(f_dense: float, f_sparse: float) -> float:
    """SNFS: the dense gradient every batch, 2 f_S + f_D per example."""
    return 2 * f_sparse + f_dense


def rigl_training_flops(f_dense: float, f_sparse: float, delta_t: int = 100,
                        grad_accumulation: int = 1) -> float:
    """RigL / SRigL: the dense gradient on the n = ``grad_accumulation`` batches of every
    ΔT + 1 that feed growth, (3 f_S (ΔT + 1 - n) + n (2 f_S + f_D)) / (ΔT + 1) per example."""
    n = grad_accumulation
    return (3 * f_sparse * (delta_t + 1 - n) + n * (2 * f_sparse + f_dense)) / (delta_t + 1)


def flops_report(model, input_shape, method, densities: dict, segments=None) -> dict:
    """Training and inference FLOPs of ``method`` (a ``rigl_np.methods.Method``) as multiples of
    dense training and inference of ``model`` (the full-width model).

    Inference is priced at ``densities`` (the final masks). Training is priced from what the run
    recorded: ``segments`` is ``[(share of the batches, {layer: density}), ...]`` (``methods.
    MaskRecords.density_segments``), each batch at the masks it trained with, so methods whose
    densities change (pruning, SRigL's ablation, a global selection) are priced right; None (a
    method without masks) prices every batch at ``densities``."""
    flops = layer_flops(model, input_shape)
    f_dense = sum(flops.values())
    f_sparse = method.inference_flops(flops, densities)
    train = sum(share * method.training_flops(flops, at)
                for share, at in (segments or [(1.0, densities)]))
    return {"forward_dense": f_dense, "forward_sparse": f_sparse,
            "train_multiplier": train / (3 * f_dense),
            "inference_multiplier": f_sparse / f_dense}
