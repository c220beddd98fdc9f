"""Cross-check against rigl-torch 0.5.2 (``rigl_torch.RigLScheduler``) on LeNet-300-100.

rigl-torch's "uniform" allocation keeps the first layer dense. For LeNet-300-100 at
dense_allocation 0.1 that is 235,200 + 3,000 + 100 = 238,300 active of 266,200 weights: a real
global density of 0.8952 (10.48 % sparse, not 90 %). ``layer_densities(..., "uniform",
first_layer_dense=True)`` reproduces it.

For the update itself we train a few real SGD steps (momentum 0.9) with rigl-torch, and at every
update step take the weights, masks, dense gradients (the backward hook's ``dense_grad``) and
momentum buffers *before* rigl-torch's update, run ``rigl_update`` + ``apply_update`` on the same
numbers with our SGD holding the same momentum, and require identical masks, weights and momenta.
Ties do not occur here (active weights are non-zero, gradients continuous), so the two tie rules
cannot disagree.

rigl-torch imports torchvision only to name two ResNet block classes; torchvision is not
installable here, so stand-in modules are put into ``sys.modules`` for the import (and taken out
again) when torchvision itself is missing.
"""
import importlib.util
import sys
import types

import numpy as np
import pytest

from rigl_np import backend
from rigl_np.optim import SGD
from rigl_np.rigl import apply_update, drop_fraction, is_update_step, rigl_update
from rigl_np.sparsity import density_report, layer_densities

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
ALPHA, DELTA, T_END, LR = 0.3, 4, 40, 0.05


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


def test_uniform_allocation_matches_rigl_torch():
    _, _, scheduler = _lenet300(seed=0)
    ours = layer_densities(SHAPES, 0.1, "uniform", first_layer_dense=True)
    assert [1 - s for s in scheduler.S] == pytest.approx([ours[n] for n in NAMES])
    masks = {n: m.numpy() for n, m in zip(NAMES, scheduler.backward_masks) if m is not None}
    report = density_report(masks, SHAPES)
    assert [report["layers"][n]["nnz"] for n in NAMES] == [235200, 3000, 100]
    assert report["global_density"] == pytest.approx(238300 / 266200)     # 0.8952


def _snapshot(scheduler, opt):
    """Weights, masks, dense gradients and momenta of the sparse layers, as NumPy copies."""
    snap = {}
    for name, w, mask, hook in zip(NAMES, scheduler.W, scheduler.backward_masks,
                                   scheduler.backward_hook_objects):
        if mask is None:                              # the dense first layer: never updated
            continue
        snap[name] = {"weight": w.detach().numpy().copy(), "mask": mask.numpy().copy(),
                      "grad": hook.dense_grad.numpy().copy(),
                      "momentum": opt.state[w]["momentum_buffer"].numpy().copy()}
    return snap


def _our_update(snap, step):
    params = {n: backend.asarray(s["weight"].copy()) for n, s in snap.items()}
    masks = {n: backend.asarray(s["mask"]) for n, s in snap.items()}
    opt = SGD(params, lr=LR, momentum=0.9)
    for name, s in snap.items():
        opt.state[name]["momentum"][...] = backend.asarray(s["momentum"])
    n_new = 0
    for name, s in snap.items():
        result = rigl_update(params[name], masks[name], backend.asarray(s["grad"]),
                             drop_fraction(step, ALPHA, T_END))
        apply_update(params, masks, name, result, opt)
        n_new += result.n_new
    return params, masks, opt, n_new


@pytest.mark.parametrize("seed, weight_decay", [(0, 0.0), (1, 5e-4)])
def test_update_matches_rigl_torch(backend_name, seed, weight_decay):
    model, opt, scheduler = _lenet300(seed, weight_decay)
    data = torch.Generator().manual_seed(seed)
    checked = 0
    for step in range(1, 30):
        x = torch.randn(64, 784, generator=data)
        y = torch.randint(0, 10, (64,), generator=data)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        due = is_update_step(step, DELTA, T_END)
        snap = _snapshot(scheduler, opt) if due else None
        if scheduler():                               # False on an update step: no optimizer step
            assert not due
            opt.step()
            continue
        assert due and scheduler.step == step
        assert drop_fraction(step, ALPHA, T_END) == scheduler.cosine_annealing()
        params, masks, ours, n_new = _our_update(snap, step)
        assert n_new > 0                              # the masks really changed
        for name, w, mask in zip(NAMES, scheduler.W, scheduler.backward_masks):
            if name not in snap:
                continue
            assert np.array_equal(backend.to_numpy(masks[name]), mask.numpy()), name
            assert np.array_equal(backend.to_numpy(params[name]), w.detach().numpy()), name
            assert np.array_equal(backend.to_numpy(ours.state[name]["momentum"]),
                                  opt.state[w]["momentum_buffer"].numpy()), name
        checked += 1
    assert checked == 7                               # updates at steps 4, 8, ..., 28
