"""Time of one full RigL mask update of LeNet-300-100 at ERK 90 % sparsity, rigl_np vs rigl-torch.

One update = for every sparse layer: drop by |W|, grow by |G| (``rigl_update``), then zero-init
the new weights, reset their momentum and re-mask weights and momentum (``apply_update``). ERK at
density 0.1 gives fc1 7.96 %, fc2 23.0 % and fc3 dense (never updated). Inputs: random weights,
dense gradients and momenta (seed 0), drop fraction 0.3.

Rows: rigl_np's mask decision alone, rigl_np's full update, and, when torch is installed,
rigl-torch 0.5.2's ``_rigl_step`` on the same masks, weights, gradients and momenta (its scheduler
is built and then given our ERK masks, since it only allocates "uniform" itself), plus rigl-torch
as it configures itself (uniform with fc1 dense, so it updates only fc2 and fc3). The script also
checks that rigl_np and rigl-torch choose the same masks from the same numbers.

Target (task brief): rigl_np's full update <= 8 ms on 2 cores.

    python benchmarks/mask_update.py [--repeats 50]
"""
from __future__ import annotations

import os

THREADS = "2"  # BLAS/OpenMP threads, set before NumPy/torch load (the update hardly uses BLAS)
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = THREADS

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402

from rigl_np.optim import SGD  # noqa: E402
from rigl_np.rigl import apply_update, rigl_update  # noqa: E402
from rigl_np.sparsity import layer_densities, random_masks  # noqa: E402

SHAPES = {"0.weight": (300, 784), "2.weight": (100, 300), "4.weight": (10, 100)}
DROP_FRACTION = 0.3


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    densities = layer_densities(SHAPES, 0.1, "erk")
    masks = random_masks(SHAPES, densities, rng)
    def draw(name, masked):
        values = rng.standard_normal(SHAPES[name]) * (masks[name] if masked else 1)
        return values.astype(np.float32)
    weights = {n: draw(n, masked=True) for n in SHAPES}
    grads = {n: draw(n, masked=False) for n in SHAPES}
    momenta = {n: draw(n, masked=True) for n in SHAPES}
    return densities, masks, weights, grads, momenta


def _median_ms(setup, run, repeats):
    """Median wall time of ``run(setup())`` in ms; ``setup`` (fresh copies) is not timed."""
    times = []
    for i in range(repeats + 3):
        state = setup()
        start = time.perf_counter()
        run(state)
        if i >= 3:                                   # three warm-up runs
            times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def bench_rigl_np(inputs, repeats, apply=True):
    _, masks, weights, grads, momenta = inputs

    def setup():
        params = {n: w.copy() for n, w in weights.items()}
        opt = SGD(params, lr=0.1, momentum=0.9)
        for n in SHAPES:
            opt.state[n]["momentum"][...] = momenta[n]
        return params, dict(masks), opt

    def run(state):
        params, current, opt = state
        for name in SHAPES:
            result = rigl_update(params[name], current[name], grads[name], DROP_FRACTION)
            if apply:
                apply_update(params, current, name, result, opt)

    return _median_ms(setup, run, repeats)


def _rigl_torch_scheduler():
    """rigl_torch.RigL.RigLScheduler; stand-in torchvision modules when it is not installed."""
    if "torchvision" not in sys.modules and importlib.util.find_spec("torchvision") is None:
        resnet = types.SimpleNamespace(Bottleneck=type("Bottleneck", (), {}),
                                       BasicBlock=type("BasicBlock", (), {}))
        models = types.SimpleNamespace(resnet=resnet)
        sys.modules.update({"torchvision": types.SimpleNamespace(models=models),
                            "torchvision.models": models, "torchvision.models.resnet": resnet})
    from rigl_torch.RigL import RigLScheduler
    return RigLScheduler


def bench_rigl_torch(inputs, repeats, own_allocation=False):
    """Median ms of rigl-torch's ``_rigl_step``, and its masks after one step (for the check)."""
    import torch
    torch.set_num_threads(int(THREADS))
    densities, masks, weights, grads, momenta = inputs
    model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 100), torch.nn.ReLU(),
                                torch.nn.Linear(100, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = _rigl_torch_scheduler()(model, opt, dense_allocation=0.1, T_end=1000, delta=100,
                                    ignore_linear_layers=False, alpha=DROP_FRACTION)
    if own_allocation:                               # uniform, fc1 dense, its own random masks
        start = {n: m.clone() for n, m in zip(SHAPES, sched.backward_masks) if m is not None}
        hooks = sched.backward_hook_objects
    else:                                            # our ERK densities and masks
        sched.S = [1 - densities[n] for n in SHAPES]
        start = {n: torch.from_numpy(masks[n]) for n, s in zip(SHAPES, sched.S) if s > 0}
        hooks = sched.backward_hook_objects = [types.SimpleNamespace() for _ in SHAPES]
    for hook, n in zip(hooks, SHAPES):
        if hook is not None:
            hook.dense_grad = torch.from_numpy(grads[n])

    def setup():
        with torch.no_grad():
            for w, n in zip(sched.W, SHAPES):
                w.copy_(torch.from_numpy(weights[n]))
                opt.state[w]["momentum_buffer"] = torch.from_numpy(momenta[n].copy())
        sched.backward_masks = [start[n].clone() if n in start else None for n in SHAPES]
        sched.step = 0                               # cosine at step 0 = alpha = DROP_FRACTION
        for w in sched.W:
            w.grad = torch.zeros_like(w)             # _rigl_step re-masks .grad
        return None

    ms = _median_ms(setup, lambda _: sched._rigl_step(), repeats)
    return ms, {n: m.numpy() for n, m in zip(SHAPES, sched.backward_masks) if m is not None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    inputs = _inputs()
    densities = inputs[0]
    layers = ", ".join(f"{n} {d:.4f}" for n, d in densities.items())
    print(f"LeNet-300-100, ERK density 0.1: {layers}; drop fraction {DROP_FRACTION}; "
          f"{THREADS} BLAS threads; median of {args.repeats}")
    rows = [("rigl_np rigl_update (masks only)", bench_rigl_np(inputs, args.repeats, apply=False)),
            ("rigl_np rigl_update + apply_update", bench_rigl_np(inputs, args.repeats))]
    if importlib.util.find_spec("torch") and importlib.util.find_spec("rigl_torch"):
        ms, torch_masks = bench_rigl_torch(inputs, args.repeats)
        rows.append(("rigl-torch _rigl_step, same ERK masks", ms))
        rows.append(("rigl-torch _rigl_step, its own uniform (fc1 dense)",
                     bench_rigl_torch(inputs, args.repeats, own_allocation=True)[0]))
        params, current = {n: w.copy() for n, w in inputs[2].items()}, dict(inputs[1])
        for name in SHAPES:
            result = rigl_update(params[name], current[name], inputs[3][name], DROP_FRACTION)
            apply_update(params, current, name, result)
        same = all(np.array_equal(current[n], m) for n, m in torch_masks.items())
        print(f"rigl_np and rigl-torch choose the same masks: {same}")
    width = max(len(name) for name, _ in rows)
    print(f"{'implementation':<{width}}  median ms")
    for name, ms in rows:
        print(f"{name:<{width}}  {ms:9.2f}")


if __name__ == "__main__":
    main()
