"""The README's main job against rigl-torch 0.5.2 training the same run, on one machine, in one run.

The main job is ``python -m rigl_np train`` with its defaults: RigL, ERK 90 %, LeNet-300-100,
Fashion-MNIST, 10 epochs of batch 128, SGD (momentum 0.9, weight decay 1e-4, lr 0.05, cosine per
step), Delta T 100, alpha 0.3, t_end 75 %, a test evaluation after every epoch and a checkpoint
every 200 batches. rigl-torch trains the same run: the same data arrays and batch order
(``rigl_np.data``), the same learning rate at every step (``rigl_np.optim.learning_rate``),
``RigLScheduler(delta=100, alpha=0.3, T_end=75 %)`` driving ``torch.optim.SGD``, the loss and
the accuracy read back every batch (as rigl_np does), a test evaluation after every epoch. Its
masks are set to the ERK densities rigl_np draws (``layer_densities``): rigl-torch itself only
knows "uniform", which keeps the first layer dense, and masks a dense first layer nowhere.

Each run is its own subprocess at the stated BLAS/OpenMP thread count (rigl_np and torch
alternating, ``--repeats`` pairs). Printed per run: the training seconds (the epochs' train and
evaluation time; rigl_np's from its history.csv, which includes its checkpoints) and the whole
command's wall seconds (start-up, data loading, and for rigl_np the figures it writes at the end)
and CPU seconds (user + system of all its threads: what the command cost the machine, which other
processes sharing the cores barely move, unlike wall time); then the median ratios rigl_np /
rigl-torch. Target: training time ratio <= 0.8.

    python benchmarks/main_job.py [--threads 1] [--repeats 2] [--epochs 10]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LR, MOMENTUM, WEIGHT_DECAY, BATCH, DELTA_T, ALPHA, T_END = 0.05, 0.9, 1e-4, 128, 100, 0.3, 0.75


def rigl_torch_run(epochs: int, threads: int) -> float:
    """Train the main job with rigl-torch in this process; returns its training seconds."""
    import torch

    from rigl_np.data import epoch_order, load_dataset, minibatches, normalize, num_batches
    from rigl_np.optim import learning_rate
    from rigl_np.sparsity import layer_densities
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_rigl_torch import _import_rigl_torch     # rigl-torch, with its torchvision stand-in

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ds = load_dataset("fashion-mnist")
    train_x, test_x = normalize(ds.train_x), normalize(ds.test_x)
    n = len(ds.train_y)
    per_epoch = num_batches(n, BATCH)
    total = epochs * per_epoch
    nn = torch.nn
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                          nn.ReLU(), nn.Linear(100, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    # 1. ERK densities instead of rigl-torch's "uniform": its constructor draws the masks (and
    #    hooks the layers that have one) through random_sparsify, which we give ERK's S first
    erk = layer_densities({i: (m.out_features, m.in_features) for i, m in
                           enumerate(m for m in model if isinstance(m, nn.Linear))}, 0.1, "erk")

    class ERKScheduler(_import_rigl_torch().RigLScheduler):
        def random_sparsify(self):
            self.S = [1 - erk[i] for i in range(len(self.W))]
            super().random_sparsify()

    scheduler = ERKScheduler(model, opt, dense_allocation=0.1, T_end=int(T_END * total),
                             delta=DELTA_T, alpha=ALPHA, ignore_linear_layers=False)
    # 2. the loop: rigl_np's batches and learning rates, rigl-torch's step
    tx, ty = torch.from_numpy(test_x), torch.from_numpy(ds.test_y)
    started, step = time.perf_counter(), 0
    for epoch in range(epochs):
        model.train()
        loss_sum, correct = 0.0, 0
        for xb, yb in minibatches(train_x, ds.train_y, BATCH, epoch_order(n, 0, epoch)):
            for group in opt.param_groups:
                group["lr"] = learning_rate(step, total, LR, "cosine", 0, 1)
            xb, yb = torch.from_numpy(xb), torch.from_numpy(yb)
            opt.zero_grad()
            logits = model(xb)
            loss = nn.functional.cross_entropy(logits, yb)
            loss.backward()
            if scheduler():
                opt.step()
            loss_sum += loss.item() * len(yb)
            correct += int((logits.argmax(1) == yb).sum())
            step += 1
        model.eval()
        with torch.no_grad():
            hits = sum(int((model(tx[i:i + 1000]).argmax(1) == ty[i:i + 1000]).sum())
                       for i in range(0, len(ty), 1000))
        print(f"epoch {epoch + 1} loss {loss_sum / n:.4f} test {hits / len(ty):.4f}",
              file=sys.stderr)
    return time.perf_counter() - started


def _env(threads: int) -> dict:
    return dict(os.environ, **{v: str(threads) for v in
                               ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})


def _run(command: list, threads: int) -> tuple:
    """(stdout, wall seconds, CPU seconds) of one subprocess at ``threads`` threads. CPU time
    (user + system, all its threads) barely moves when other processes share the cores; wall
    time does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(command, env=_env(threads), check=True, capture_output=True,
                         text=True).stdout
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return out, wall, cpu


def run_rigl_np(epochs: int, threads: int, out: Path) -> tuple:
    """(training seconds, command seconds, command CPU seconds) of ``python -m rigl_np train``."""
    _, wall, cpu = _run([sys.executable, "-m", "rigl_np", "train", "--epochs", str(epochs),
                         "--out", str(out), "--overwrite"], threads)
    with open(out / "history.csv", newline="") as f:
        return sum(float(row["seconds"]) for row in csv.DictReader(f)), wall, cpu


def run_torch(epochs: int, threads: int) -> tuple:
    """(training seconds, command seconds, command CPU seconds) of ``rigl_torch_run`` in a
    fresh subprocess."""
    out, wall, cpu = _run([sys.executable, __file__, "--child", str(epochs), str(threads)],
                          threads)
    return json.loads(out.strip().splitlines()[-1]), wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS / OpenMP / torch threads")
    parser.add_argument("--repeats", type=int, default=2, help="rigl_np / rigl-torch pairs")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each run")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(rigl_torch_run(*args.child)))
        return
    print(f"main job, {args.epochs} epochs, {args.threads} thread(s); seconds (cpu: the whole "
          "command's CPU time)")
    print(f"{'pair':>4} {'rigl_np train':>13} {'command':>8} {'cpu':>6} {'rigl-torch train':>16} "
          f"{'command':>8} {'cpu':>6} {'train ratio':>11} {'cpu ratio':>9}")
    ratios, cpu_ratios = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for pair in range(args.repeats):
            ours, ours_wall, ours_cpu = run_rigl_np(args.epochs, args.threads, Path(tmp) / "run")
            theirs, theirs_wall, theirs_cpu = run_torch(args.epochs, args.threads)
            ratios.append(ours / theirs)
            cpu_ratios.append(ours_cpu / theirs_cpu)
            print(f"{pair + 1:>4} {ours:13.1f} {ours_wall:8.1f} {ours_cpu:6.1f} {theirs:16.1f} "
                  f"{theirs_wall:8.1f} {theirs_cpu:6.1f} {ratios[-1]:11.2f} {cpu_ratios[-1]:9.2f}",
                  flush=True)
    print(f"rigl_np / rigl-torch, median (range) over {args.repeats} pairs: training time "
          f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}), whole command's "
          f"CPU time {statistics.median(cpu_ratios):.2f} "
          f"({min(cpu_ratios):.2f}-{max(cpu_ratios):.2f})")


if __name__ == "__main__":
    main()
