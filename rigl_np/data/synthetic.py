"""A small synthetic data set shaped like MNIST, for seconds-long demos and tests.

Ten classes of simple line drawings (ring, bars, diagonals, plus, cross, square, disk, double
bar) on a 28x28 grey canvas, ``(1, 28, 28)`` uint8 like MNIST, so every model and plot that takes
MNIST takes this. Each example jitters its shape (position, size, stroke width, brightness) and
adds pixel noise, so the task is not a lookup but an MLP still reaches high accuracy (>95 %) in a
few epochs of a few seconds. Nothing is read from disk and the same seed always gives the same
arrays (one NumPy ``Generator``; train and test are drawn from it in that order, with balanced
classes).

Left out on purpose: anything that needs tuning to be interesting (class overlap, label noise).
It is a smoke test and a teaching aid, not a benchmark.
"""
from __future__ import annotations

import numpy as np

from .dataset import Dataset

CLASSES = ("ring", "vertical bar", "horizontal bar", "diagonal", "anti-diagonal", "plus",
           "cross", "square", "disk", "double bar")
SIZE = 28  # canvas side, as MNIST


def _strokes(u, v, s, t) -> np.ndarray:
    """Every class's shape at canvas coordinates (u, v) in [-1, 1], size s, stroke half-width t.

    Returns booleans ``(10, N, 28, 28)``: entry ``[c, i]`` is example i drawn as class c.
    """
    r = np.sqrt(u ** 2 + v ** 2)
    vertical = (np.abs(u) < t) & (np.abs(v) < 0.7 * s)
    horizontal = (np.abs(v) < t) & (np.abs(u) < 0.7 * s)
    diagonal = (np.abs(u - v) / np.sqrt(2) < t) & (r < 0.8 * s)
    anti = (np.abs(u + v) / np.sqrt(2) < t) & (r < 0.8 * s)
    return np.stack([
        np.abs(r - 0.6 * s) < t,                                        # ring
        vertical, horizontal, diagonal, anti,
        vertical | horizontal,                                          # plus
        diagonal | anti,                                                # cross
        np.abs(np.maximum(np.abs(u), np.abs(v)) - 0.55 * s) < t,        # square outline
        r < 0.45 * s,                                                   # filled disk
        (np.abs(np.abs(u) - 0.4 * s) < t) & (np.abs(v) < 0.7 * s),      # double bar
    ])


def render(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one jittered, noisy example per label: ``(N, 1, 28, 28)`` uint8."""
    n = len(labels)
    # 1. Per-example jitter, shaped (N, 1, 1) to broadcast over the canvas.
    #    float32 throughout: plenty for drawing, and twice as fast as float64.
    shift = rng.uniform(-0.15, 0.15, size=(2, n, 1, 1)).astype(np.float32)  # centre offset (u, v)
    size = rng.uniform(0.8, 1.1, size=(n, 1, 1)).astype(np.float32)         # shape scale
    width = rng.uniform(0.10, 0.18, size=(n, 1, 1)).astype(np.float32)      # stroke half-width
    bright = rng.uniform(150, 255, size=(n, 1, 1)).astype(np.float32)       # stroke intensity
    # 2. Canvas coordinates in [-1, 1], moved by the shift.
    axis = np.linspace(-1.0, 1.0, SIZE, dtype=np.float32)
    v, u = np.meshgrid(axis, axis, indexing="ij")          # v: rows (down), u: columns
    u, v = u - shift[0], v - shift[1]                      # (N, 28, 28)
    # 3. Strokes per class, then brightness and noise.
    ink = _strokes(u, v, size, width)[labels, np.arange(n)]  # (N, 28, 28), each its own class
    pixels = ink * bright + 30.0 * rng.standard_normal((n, SIZE, SIZE), dtype=np.float32)
    return np.clip(pixels, 0, 255).astype(np.uint8)[:, None]  # (N, 1, 28, 28)


def make_synthetic(n_train: int = 5000, n_test: int = 1000, seed: int = 0) -> Dataset:
    """The synthetic data set: balanced classes, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    splits = []
    for n in (n_train, n_test):
        labels = rng.permutation(np.arange(n) % len(CLASSES)).astype(np.int64)  # (N,)
        splits.append((render(labels, rng), labels))
    (train_x, train_y), (test_x, test_y) = splits
    return Dataset(name="synthetic", train_x=train_x, train_y=train_y, test_x=test_x,
                   test_y=test_y, num_classes=len(CLASSES), classes=CLASSES,
                   source=f"generated (seed {seed})")
