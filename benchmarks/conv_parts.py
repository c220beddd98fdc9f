"""Where a LeNet-5 convolution's time goes: the column copies against the three matrix products.

For each of LeNet-5's two conv layers (batch 128, float32) and BLAS thread count (1 and 2), prints
the median time of each part of ``rigl_np.functional.conv``: im2col, the forward product, the
weight-gradient product in the operand order rigl_np uses (``(cols @ dout.T).T``) and in the
textbook order (``dout @ cols.T``, the same sums), the input-gradient product and col2im (conv1,
whose input is data, needs neither of the last two).

    python benchmarks/conv_parts.py [--repeats 100]

Each thread count runs in a fresh subprocess (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS,
MKL_NUM_THREADS set before NumPy loads); the parts are timed round-robin (rigl_np.timing).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

BATCH = 128
# name: (input shape (N, C, H, W), weight shape (F, C, kh, kw), padding)
LAYERS = {"conv1": ((BATCH, 1, 28, 28), (6, 1, 5, 5), 2),
          "conv2": ((BATCH, 6, 14, 14), (16, 6, 5, 5), 0)}
PARTS = ("im2col", "forward", "dW ours", "dW textbook", "dX", "col2im")


def measure(repeats: int) -> dict:
    """Run inside the subprocess: {layer: {part: median seconds}}."""
    import numpy as np

    from rigl_np.functional.conv import col2im, im2col
    from rigl_np.timing import round_robin

    rng = np.random.default_rng(0)
    results = {}
    for name, (x_shape, w_shape, padding) in LAYERS.items():
        f, _, k, _ = w_shape
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w2d = rng.standard_normal(w_shape, dtype=np.float32).reshape(f, -1)  # (F, C*k*k)
        cols = im2col(x, k, k, 1, padding)                                     # (C*k*k, L)
        dout = rng.standard_normal((f, cols.shape[1]), dtype=np.float32)       # (F, L)
        parts = {"im2col": lambda: im2col(x, k, k, 1, padding),
                 "forward": lambda: w2d @ cols,
                 "dW ours": lambda: (cols @ dout.T).T,
                 "dW textbook": lambda: dout @ cols.T}
        if x_shape[1] > 1:                                       # not the first layer
            dcols = w2d.T @ dout                                 # (C*k*k, L)
            parts["dX"] = lambda: w2d.T @ dout
            parts["col2im"] = lambda: col2im(dcols, x_shape, k, k, 1, padding)
        results[name] = round_robin(parts, repeats, warmup=3)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100, help="timed calls per part")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.repeats)))
        return
    print(f"batch {BATCH}, float32, median of {args.repeats} calls; times in ms")
    print(f"{'layer':<6} {'threads':>7} " + " ".join(f"{p:>11}" for p in PARTS)
          + f" {'dW textbook/ours':>16}")
    for threads in (1, 2):
        env = dict(os.environ, **{v: str(threads) for v in
                                  ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
        out = subprocess.run([sys.executable, __file__, "--repeats", str(args.repeats), "--child"],
                             env=env, check=True, capture_output=True, text=True).stdout
        for name, times in json.loads(out.strip().splitlines()[-1]).items():
            cells = " ".join(f"{times[p] * 1e3:11.3f}" if p in times else f"{'-':>11}"
                             for p in PARTS)
            ratio = times["dW textbook"] / times["dW ours"]
            print(f"{name:<6} {threads:>7} {cells} {ratio:16.2f}")


if __name__ == "__main__":
    main()
