"""Training-step time of LeNet-300-100 and LeNet-5 (batch 128) against the floor NumPy cannot beat.

For each model and BLAS thread count (1 and 2), prints the median time of one full training step
(forward, loss, backward, SGD momentum + weight decay), the median time of the step's matrix
multiplies alone on the same shapes (the floor: everything else is overhead), their ratio, and,
when torch is installed, the same model's PyTorch step at the same thread count.

Also the sparse step between mask updates (RigL at ERK 90 %: masked gradients, re-masked weights
and momentum) against the dense step of the same model, and the finite check a run makes before
every checkpoint (``rigl_np.train.non_finite`` over ``rigl_np.checkpoint.state_arrays``: the
RigL run's parameters, momentum and method arrays) as a fraction of one training step, and spread over the default 200 batches between
checkpoints.

Also the SGD step alone (its six element-wise passes over every parameter, outside the step) as
a fraction of the floor ("opt/floor"): the step can come no closer to its floor than 1 + that.

Targets: MLP step <= 1.3x its floor, LeNet-5 step <= 2x its floor; MLP/PyTorch <= 1.0; the sparse
step between updates <= 1.15x the dense step; the finite check, made once per checkpoint, <= 2 %
of the training step it is spread over ("per 200": the default --checkpoint-every); "check/step"
is one check against one step, what it would cost with --checkpoint-every 1.

    python benchmarks/step_time.py [--repeats 50]

Thread counts are set per measurement in a fresh subprocess (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS,
MKL_NUM_THREADS and torch.set_num_threads), so each number is taken at exactly the stated count.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

BATCH = 128
# The matrix products of one training step, as (M, K, N) for an (M, K) @ (K, N) product.
# Linear(in, out) on a batch B: forward (B,in)@(in,out); dW (out,B)@(B,in); dX (B,out)@(out,in).
# Conv as im2col on L = B*Ho*Wo positions with P = C*kh*kw patch size and F filters:
# forward (L,P)@(P,F); dW (F,L)@(L,P); dX columns (L,F)@(F,P). The first layer needs no dX.


def _linear(b, i, o, first=False):
    return [(b, i, o), (o, b, i)] + ([] if first else [(b, o, i)])


def _conv(b, c, k, f, out_hw, first=False):
    positions, patch = b * out_hw * out_hw, c * k * k
    return [(positions, patch, f), (f, positions, patch)] + ([] if first else [(positions, f, patch)])


MATMULS = {
    "lenet300": _linear(BATCH, 784, 300, first=True) + _linear(BATCH, 300, 100)
    + _linear(BATCH, 100, 10),
    "lenet5": _conv(BATCH, 1, 5, 6, 28, first=True) + _conv(BATCH, 6, 5, 16, 10)
    + _linear(BATCH, 400, 120) + _linear(BATCH, 120, 84) + _linear(BATCH, 84, 10),
}


def _sparse_step(model_name, x, y):
    """A RigL (ERK 90 %) training step that is not an update step, and the finite check of that
    run's state, as two closures."""
    from rigl_np import backend
    from rigl_np.methods import RigL
    from rigl_np.models import build_model
    from rigl_np.optim import SGD
    from rigl_np.sparsity import layer_densities
    from rigl_np.checkpoint import state_arrays
    from rigl_np.train import non_finite, train_step

    model = build_model(model_name, (1, 28, 28), 10, backend.host_rng(0))
    shapes = {n: model.params()[n].shape for n in model.sparsifiable()}
    method = RigL.build(layer_densities(shapes, 0.1, "erk"), backend.host_rng(1), delta_t=10**9,
                        t_end=10**9)
    opt = SGD(model.params(), 0.01, momentum=0.9, weight_decay=1e-4)
    method.attach(model, opt)
    return (lambda: train_step(model, opt, x, y, 1, method),
            lambda: non_finite(state_arrays(model, opt, method)))


def measure(model_name: str, repeats: int) -> dict:
    """Run inside the subprocess: rigl_np step, matmul floor and torch step, in seconds."""
    import numpy as np

    from rigl_np import backend
    from rigl_np.models import build_model
    from rigl_np.optim import SGD
    from rigl_np.timing import round_robin
    from rigl_np.train import train_step

    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    model = build_model(model_name, (1, 28, 28), 10, backend.host_rng(0))
    opt = SGD(model.params(), 0.01, momentum=0.9, weight_decay=1e-4)
    pairs = [(rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32))
             for m, k, n in MATMULS[model_name]]
    sparse_step, finite_check = _sparse_step(model_name, x, y)
    # The optimizer step alone, on copies of the parameters and one step's gradients: the part of
    # the step that no thread count shortens (NumPy's element-wise passes use one core).
    train_step(model, opt, x, y, 1)
    alone = SGD({k: v.copy() for k, v in model.params().items()}, 0.01, momentum=0.9,
                weight_decay=1e-4)
    grads = {k: v.copy() for k, v in model.grads().items()}
    fns = {"step": lambda: train_step(model, opt, x, y, 1), "sparse_step": sparse_step,
           "floor": lambda: [a @ b for a, b in pairs], "finite_check": finite_check,
           "optimizer": lambda: alone.step(grads)}
    times = round_robin(fns, repeats, warmup=3)
    # PyTorch in a round of its own: its OpenMP threads keep spinning for a while after each
    # call and compete for the second core with the NumPy functions timed after it (measured:
    # in one shared round the MLP's sparse/dense ratio at 2 threads read 1.69, alone 1.08-1.10).
    torch_step = _torch_step(model_name, x, y)
    if torch_step is not None:
        against = round_robin({"torch": torch_step, "step": fns["step"]}, repeats, warmup=3)
        times["torch"], times["step/torch"] = against["torch"], against["step"] / against["torch"]
    return times


def _torch_step(model_name, x, y):
    """The same model's PyTorch training step as a closure, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(int(os.environ["OPENBLAS_NUM_THREADS"]))
    nn = torch.nn
    if model_name == "lenet300":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                            nn.ReLU(), nn.Linear(100, 10))
    else:
        net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                            nn.Linear(84, 10))
    topt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def torch_step():
        topt.zero_grad()
        nn.functional.cross_entropy(net(tx), ty).backward()
        topt.step()
    return torch_step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed steps per measurement")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], args.repeats)))
        return
    print(f"batch {BATCH}, median of {args.repeats} steps; times in ms")
    print(f"{'model':<10} {'threads':>7} {'step':>8} {'matmuls':>8} {'step/floor':>10} "
          f"{'torch':>8} {'step/torch':>10} {'sparse':>8} {'sparse/step':>11} "
          f"{'check':>7} {'check/step':>10} {'per 200':>8} {'opt/floor':>9}")
    for model_name in MATMULS:
        for threads in (1, 2):
            env = dict(os.environ, **{v: str(threads) for v in
                                      ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
            out = subprocess.run([sys.executable, __file__, "--repeats", str(args.repeats),
                                  "--child", model_name, str(threads)], env=env, check=True,
                                 capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            torch_ms = f"{r['torch'] * 1e3:8.2f}" if "torch" in r else f"{'-':>8}"
            torch_ratio = f"{r['step/torch']:10.2f}" if "torch" in r else f"{'-':>10}"
            check = r["finite_check"] / r["sparse_step"]       # of the step it guards
            print(f"{model_name:<10} {threads:>7} {r['step'] * 1e3:8.2f} {r['floor'] * 1e3:8.2f} "
                  f"{r['step'] / r['floor']:10.2f} {torch_ms} {torch_ratio} "
                  f"{r['sparse_step'] * 1e3:8.2f} {r['sparse_step'] / r['step']:11.2f} "
                  f"{r['finite_check'] * 1e3:7.3f} {100 * check:9.2f}% {100 * check / 200:7.3f}% "
                  f"{r['optimizer'] / r['floor']:9.2f}")


if __name__ == "__main__":
    main()
