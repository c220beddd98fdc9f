"""Time of ``verify`` on a whole-model RigL update of ResNet-50, against rigl_np's own update.

ResNet-50's 54 convolution and linear weights (25.5 M, written out below; no torchvision), ERK
masks at 80 % sparsity, random weights (masked) and dense gradients (seed 0), drop fraction 0.3,
float32. Timed, each the median of ``--repeats`` runs:

- rigl_np's update: ``rigl_update`` on every layer (the masks), then the new weights (zero-init,
  re-masked), as the dump would hold them;
- verify: ``rigl_np.verify.verify_paths`` on the dump ``save_update`` wrote of that update
  (weight, mask, grad, drop_fraction, new_mask, new_weight per layer): reading every member,
  rigl_np's update again, the comparison, and the weight rules. The file is read from the page
  cache (it was just written).

Target (issue 11): verify at most 3x rigl_np's update. BLAS threads are set below, before NumPy
loads (neither side uses BLAS).

    python benchmarks/verify.py [--repeats 3] [--dir DIR]
"""
from __future__ import annotations

import os

THREADS = "1"
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = THREADS

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from rigl_np.rigl import rigl_update  # noqa: E402
from rigl_np.sparsity import layer_densities, random_masks  # noqa: E402
from rigl_np.verify import save_update, verify_paths  # noqa: E402

# torchvision's resnet50: conv1, 16 bottlenecks (conv1 1x1, conv2 3x3, conv3 1x1, and a 1x1
# downsample in the first block of each stage), fc. (out, in, kh, kw) and (out, in).
RESNET50 = [
    ("conv1", (64, 3, 7, 7)),
    ("layer1.0.conv1", (64, 64, 1, 1)), ("layer1.0.conv2", (64, 64, 3, 3)),
    ("layer1.0.conv3", (256, 64, 1, 1)), ("layer1.0.downsample", (256, 64, 1, 1)),
    ("layer1.1.conv1", (64, 256, 1, 1)), ("layer1.1.conv2", (64, 64, 3, 3)),
    ("layer1.1.conv3", (256, 64, 1, 1)),
    ("layer1.2.conv1", (64, 256, 1, 1)), ("layer1.2.conv2", (64, 64, 3, 3)),
    ("layer1.2.conv3", (256, 64, 1, 1)),
    ("layer2.0.conv1", (128, 256, 1, 1)), ("layer2.0.conv2", (128, 128, 3, 3)),
    ("layer2.0.conv3", (512, 128, 1, 1)), ("layer2.0.downsample", (512, 256, 1, 1)),
    ("layer2.1.conv1", (128, 512, 1, 1)), ("layer2.1.conv2", (128, 128, 3, 3)),
    ("layer2.1.conv3", (512, 128, 1, 1)),
    ("layer2.2.conv1", (128, 512, 1, 1)), ("layer2.2.conv2", (128, 128, 3, 3)),
    ("layer2.2.conv3", (512, 128, 1, 1)),
    ("layer2.3.conv1", (128, 512, 1, 1)), ("layer2.3.conv2", (128, 128, 3, 3)),
    ("layer2.3.conv3", (512, 128, 1, 1)),
    ("layer3.0.conv1", (256, 512, 1, 1)), ("layer3.0.conv2", (256, 256, 3, 3)),
    ("layer3.0.conv3", (1024, 256, 1, 1)), ("layer3.0.downsample", (1024, 512, 1, 1)),
    ("layer3.1.conv1", (256, 1024, 1, 1)), ("layer3.1.conv2", (256, 256, 3, 3)),
    ("layer3.1.conv3", (1024, 256, 1, 1)),
    ("layer3.2.conv1", (256, 1024, 1, 1)), ("layer3.2.conv2", (256, 256, 3, 3)),
    ("layer3.2.conv3", (1024, 256, 1, 1)),
    ("layer3.3.conv1", (256, 1024, 1, 1)), ("layer3.3.conv2", (256, 256, 3, 3)),
    ("layer3.3.conv3", (1024, 256, 1, 1)),
    ("layer3.4.conv1", (256, 1024, 1, 1)), ("layer3.4.conv2", (256, 256, 3, 3)),
    ("layer3.4.conv3", (1024, 256, 1, 1)),
    ("layer3.5.conv1", (256, 1024, 1, 1)), ("layer3.5.conv2", (256, 256, 3, 3)),
    ("layer3.5.conv3", (1024, 256, 1, 1)),
    ("layer4.0.conv1", (512, 1024, 1, 1)), ("layer4.0.conv2", (512, 512, 3, 3)),
    ("layer4.0.conv3", (2048, 512, 1, 1)), ("layer4.0.downsample", (2048, 1024, 1, 1)),
    ("layer4.1.conv1", (512, 2048, 1, 1)), ("layer4.1.conv2", (512, 512, 3, 3)),
    ("layer4.1.conv3", (2048, 512, 1, 1)),
    ("layer4.2.conv1", (512, 2048, 1, 1)), ("layer4.2.conv2", (512, 512, 3, 3)),
    ("layer4.2.conv3", (2048, 512, 1, 1)),
    ("fc", (1000, 2048)),
]
DROP_FRACTION = 0.3


def inputs(seed=0):
    shapes = dict(RESNET50)
    rng = np.random.default_rng(seed)
    masks = random_masks(shapes, layer_densities(shapes, 0.2, "erk"), rng)
    weights = {n: (rng.standard_normal(s, dtype=np.float32) * masks[n]) for n, s in shapes.items()}
    grads = {n: rng.standard_normal(s, dtype=np.float32) for n, s in shapes.items()}
    return weights, masks, grads


def our_update(weights, masks, grads) -> dict:
    """rigl_np's update of every layer: ``{name: (new mask, new weight)}``."""
    out = {}
    for name, w in weights.items():
        r = rigl_update(w, masks[name], grads[name], DROP_FRACTION)
        new_weight = w.copy()
        new_weight[r.new] = 0
        new_weight *= r.mask
        out[name] = (r.mask, new_weight)
    return out


def _median(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to write the dump (default: a "
                        "temporary folder)")
    args = parser.parse_args()
    weights, masks, grads = inputs()
    n = sum(w.size for w in weights.values())
    t_update, updated = _median(lambda: our_update(weights, masks, grads), args.repeats)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        dump = Path(tmp) / "resnet50_update.npz"
        start = time.perf_counter()
        save_update(dump, drop_fraction=DROP_FRACTION,
                    **{name: {"weight": weights[name], "mask": masks[name],
                              "grad": grads[name], "new_mask": updated[name][0],
                              "new_weight": updated[name][1]} for name in weights})
        t_write = time.perf_counter() - start
        size = dump.stat().st_size
        t_verify, (results, errors, _) = _median(lambda: verify_paths([dump]), args.repeats)
    verdicts = sorted({r.verdict for r in results})
    assert not errors and verdicts == ["identical"] and len(results) == len(RESNET50), verdicts
    print(f"ResNet-50, {len(RESNET50)} conv + linear weights, {n:,} weights "
          f"({n / 1e6:.1f} M), ERK 80 % sparsity, drop fraction {DROP_FRACTION}, float32; "
          f"OPENBLAS_NUM_THREADS={THREADS}; median of {args.repeats}")
    print(f"dump: {size / 2**20:,.0f} MiB, written in {t_write:.2f} s (not timed below)")
    print("| step | seconds | / rigl_np update |")
    print("|---|---|---|")
    print(f"| rigl_np's update of every layer (rigl_update + new weights) | {t_update:.2f} | 1.00x |")
    print(f"| verify of the dump ({len(results)} layers, all {verdicts[0]}) | {t_verify:.2f} | "
          f"{t_verify / t_update:.2f}x |")
    print(f"target: verify <= 3x rigl_np's update: {'met' if t_verify <= 3 * t_update else 'NOT met'}")


if __name__ == "__main__":
    main()
