"""Cross-check against rigl-torch 0.5.2 (``rigl_torch.RigLScheduler``) on LeNet-300-100, through
``python -m rigl_np verify`` on whole-model dumps, as a researcher would check their own code.

rigl-torch's "uniform" allocation keeps the first layer dense. For LeNet-300-100 at
dense_allocation 0.1 that is 235,200 + 3,000 + 100 = 238,300 active of 266,200 weights: a real
global density of 0.8952 (10.48 % sparse, not 90 %). ``layer_densities(..., "uniform",
first_layer_dense=True)`` reproduces it, and verify agrees on a densities file.

For the updates we train a few real SGD steps (momentum 0.9) with rigl-torch, and at every update
step dump the whole model with ``save_update``, straight from the torch tensors: per layer the
weight, mask, dense gradient (the backward hook's ``dense_grad``) and momentum buffer *before*
rigl-torch's update, and its mask, weight and momentum *after* it (the dense first layer too,
with a mask of ones). ``verify`` on the folder must call every layer update identical: the same
masks as rigl_np's, new connections at 0 with zero momentum, kept ones untouched. Ties do not
occur here (active weights are non-zero, gradients continuous), so the tie rules cannot differ.
The schedule (update steps and drop fractions) is verified the same way.

rigl-torch imports torchvision only to name two ResNet block classes; torchvision is not
installable here, so stand-in modules are put into ``sys.modules`` for the import (and taken out
again) when torchvision itself is missing.
"""
import importlib.util
import sys
import types

import numpy as np
import pytest

from rigl_np.rigl import is_update_step
from rigl_np.sparsity import density_report, layer_densities
from rigl_np.verify import save_update, verify_paths

torch = pytest.importorskip("torch")


def _import_rigl_torch():
    if importlib.util.find_spec("rigl_torch") is None:
        pytest.skip("rigl-torch is not installed", allow_module_level=True)
    if importlib.util.find_spec("torchvision") is not None:
        return importlib.import_module("rigl_torch.RigL")
    resnet = types.ModuleType("torchvision.models.resnet")
    resnet.Bottleneck = type("Bottleneck", (), {})
    resnet.BasicBlock = type("BasicBlock", (), {})
    models = types.ModuleType("torchvision.models")
    models.resnet = resnet
    torchvision = types.ModuleType("torchvision")
    torchvision.models = models
    stubs = {"torchvision": torchvision, "torchvision.models": models,
             "torchvision.models.resnet": resnet}
    sys.modules.update(stubs)
    try:
        return importlib.import_module("rigl_torch.RigL")
    finally:
        for name in stubs:
            sys.modules.pop(name, None)


RigLScheduler = _import_rigl_torch().RigLScheduler

NAMES = ["0.weight", "2.weight", "4.weight"]          # the order of rigl-torch's W list
SHAPES = {"0.weight": (300, 784), "2.weight": (100, 300), "4.weight": (10, 100)}
ALPHA, DELTA, T_END, LR, STEPS = 0.3, 4, 40, 0.05, 29


def _lenet300(seed, weight_decay=0.0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 100), torch.nn.ReLU(),
                                torch.nn.Linear(100, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, weight_decay=weight_decay)
    scheduler = RigLScheduler(model, opt, dense_allocation=0.1, T_end=T_END, delta=DELTA,
                              alpha=ALPHA, sparsity_distribution="uniform",
                              ignore_linear_layers=False)
    return model, opt, scheduler


def test_uniform_allocation_matches_rigl_torch(tmp_path):
    _, _, scheduler = _lenet300(seed=0)
    ours = layer_densities(SHAPES, 0.1, "uniform", first_layer_dense=True)
    assert [1 - s for s in scheduler.S] == pytest.approx([ours[n] for n in NAMES])
    masks = {n: m.numpy() for n, m in zip(NAMES, scheduler.backward_masks) if m is not None}
    report = density_report(masks, SHAPES)
    assert [report["layers"][n]["nnz"] for n in NAMES] == [235200, 3000, 100]
    assert report["global_density"] == pytest.approx(238300 / 266200)     # 0.8952
    path = save_update(tmp_path / "densities.npz", kind="densities", density=0.1,
                       distribution="uniform", dense_layers=np.array(["0.weight"]),
                       **{f"shape/{n}": np.array(s) for n, s in SHAPES.items()},
                       **{f"mask/{n}": m for n, m in masks.items()},
                       **{"mask/0.weight": np.ones(SHAPES["0.weight"], bool)})
    results, errors, _ = verify_paths([path])
    assert not errors and [r.verdict for r in results] == ["identical"] * 3


def _layers(scheduler, opt):
    """``{name: {weight, mask, momentum}}`` of every layer now, as torch tensors (copies)."""
    out = {}
    for name, w, mask in zip(NAMES, scheduler.W, scheduler.backward_masks):
        out[name] = {"weight": w.detach().clone(),
                     "mask": torch.ones_like(w, dtype=torch.bool) if mask is None
                     else mask.clone(),
                     "momentum": opt.state[w]["momentum_buffer"].clone()}
    return out


@pytest.mark.parametrize("seed, weight_decay", [(0, 0.0), (1, 5e-4)])
def test_every_update_of_rigl_torch_verifies_identical(tmp_path, seed, weight_decay):
    model, opt, scheduler = _lenet300(seed, weight_decay)
    data = torch.Generator().manual_seed(seed)
    steps, fractions, changed = [], [], 0
    for step in range(1, STEPS + 1):
        x = torch.randn(64, 784, generator=data)
        y = torch.randint(0, 10, (64,), generator=data)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        if is_update_step(step, DELTA, T_END):       # what rigl-torch's update starts from
            before = _layers(scheduler, opt)
            grads = {n: w.grad.clone() if hook is None else hook.dense_grad.clone()
                     for n, w, hook in zip(NAMES, scheduler.W, scheduler.backward_hook_objects)}
        if scheduler():                               # True: an ordinary step
            opt.step()
            continue
        f = float(scheduler.cosine_annealing())
        steps.append(step)
        fractions.append(f)
        after = _layers(scheduler, opt)
        layers = {}
        for name in NAMES:
            b, a = before[name], after[name]
            layers[name] = {"weight": b["weight"], "mask": b["mask"], "grad": grads[name],
                            "new_mask": a["mask"], "new_weight": a["weight"],
                            "state": {"momentum": b["momentum"]},
                            "new_state": {"momentum": a["momentum"]}}
            changed += int((a["mask"] != b["mask"]).sum())
        save_update(tmp_path / f"step_{step:04d}.npz", drop_fraction=f, step=step, **layers)
    assert steps == [4, 8, 12, 16, 20, 24, 28] and changed > 0   # the masks really changed
    results, errors, n_files = verify_paths([tmp_path])
    assert not errors and n_files == 7 and len(results) == 7 * 3
    assert {r.verdict for r in results} == {"identical"}, [r.detail for r in results
                                                           if r.verdict != "identical"]
    schedule = save_update(tmp_path / "schedule" / "s.npz", kind="schedule",
                           steps=np.array(steps), drop_fractions=np.array(fractions),
                           alpha=ALPHA, delta_t=DELTA, t_end=T_END, total_steps=STEPS)
    [r], _, _ = verify_paths([schedule])
    assert r.verdict == "identical"
