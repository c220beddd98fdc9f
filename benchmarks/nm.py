"""Condensed N:M layers against dense, masked dense and the constant fan-in condensed layer.

One 4096 x 4096 float32 Linear layer, random N:M masks at 2:4, 1:4, 2:8 and 1:8, batch 1 and 256.
For each: the median forward time of
- dense:      x @ W.T + b with the weight stored densely;
- masked:     x @ (W * M).T + b, the mask applied on every call (how sparse training runs);
- fan-in:     ``rigl_np.srigl.CondensedLinear`` of the same mask (an N:M mask has a constant
              fan-in, in * N / M): values and int16 indices;
- N:M:        ``rigl_np.nm.CondensedNMLinear``: values and positions in log2(M) bits, decoded
              into indices on every call, then the same product as fan-in;
each as a multiple of dense's speed measured in the same run (calls interleaved round-robin, each
from a cold cache), and the bytes each one holds. BLAS threads are set before NumPy loads
(default 2, ``--threads``) and printed.

    python benchmarks/nm.py [--threads 2] [--width 4096] [--patterns 2:4 1:4 2:8 1:8]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
parser.add_argument("--width", type=int, default=4096, help="layer width (default 4096)")
parser.add_argument("--patterns", nargs="+", default=["2:4", "1:4", "2:8", "1:8"])
parser.add_argument("--batches", type=int, nargs="+", default=[1, 256])
parser.add_argument("--repeats", type=int, default=0, help="timed calls each (default 30 at "
                    "batch 1, 3 at larger batches)")
args = parser.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)  # before NumPy loads its BLAS

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from rigl_np.masks.nm import nm_mask  # noqa: E402
from rigl_np.nm import CondensedNMLinear  # noqa: E402
from rigl_np.srigl import CondensedLinear  # noqa: E402
from rigl_np.timing import blas_threads, round_robin  # noqa: E402

_FLUSH = np.zeros(16 << 20, dtype=np.float32)   # 64 MB, read before every timed call


def evict() -> None:
    """Push the previous call's arrays out of the CPU caches (as other layers would)."""
    _FLUSH.sum()


def variants(weight, mask, bias, n: int, m: int) -> dict:
    """{name: (forward function, bytes held)}."""
    fan_in = CondensedLinear.from_dense(weight, mask, bias)
    nm = CondensedNMLinear.from_dense(weight, mask, n, m, bias)
    return {"dense": (lambda x: x @ weight.T + bias, weight.nbytes + bias.nbytes),
            "masked": (lambda x: x @ (weight * mask).T + bias,
                       weight.nbytes + mask.nbytes + bias.nbytes),
            "fan-in": (fan_in.forward, fan_in.nbytes),
            "N:M": (nm.forward, nm.nbytes)}


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"N:M forward, one {args.width} x {args.width} float32 Linear layer; BLAS threads: "
          f"{blas_threads()}; median of round-robin calls, each from a cold cache")
    names = ["dense", "masked", "fan-in", "N:M"]
    header = (f"{'N:M':>4} {'batch':>5} " + " ".join(f"{n + ' ms (x)':>18}" for n in names)
              + "   MB held (x dense)")
    print(header + "\n" + "-" * len(header))
    for pattern in args.patterns:
        n, m = map(int, pattern.split(":"))
        mask = nm_mask((args.width, args.width), n, m, rng)
        weight = (rng.standard_normal(mask.shape, dtype=np.float32) / np.sqrt(args.width * n / m)
                  * mask)
        bias = rng.standard_normal(args.width, dtype=np.float32)
        found = variants(weight, mask, bias, n, m)
        held = {k: b for k, (_, b) in found.items()}
        memory = " ".join(f"{k}={held[k] / 2**20:.1f}({held[k] / held['dense']:.3f})"
                          for k in names)
        for batch in args.batches:
            x = rng.standard_normal((batch, args.width), dtype=np.float32)
            outputs = {k: f(x) for k, (f, _) in found.items()}
            for k, y in outputs.items():                     # the same function, every variant
                np.testing.assert_allclose(y, outputs["dense"], rtol=2e-3, atol=2e-3, err_msg=k)
            reps = args.repeats or (30 if batch == 1 else 3)
            t = round_robin({k: (lambda f=f: f(x)) for k, (f, _) in found.items()}, reps,
                            warmup=1, before_each=evict)
            cells = " ".join(f"{t[k] * 1e3:>9.2f} ({t['dense'] / t[k]:>5.2f}x)" for k in names)
            print(f"{pattern:>4} {batch:>5} {cells}   {memory}", flush=True)
            memory = ""


if __name__ == "__main__":
    main()
