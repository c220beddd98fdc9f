"""The networks of the RigL paper's small-scale experiments, built from ``rigl_np.nn``.

- ``lenet300``: LeNet-300-100, the MLP 784-300-100-10 (the RigL paper's MNIST model);
- ``lenet5``: LeNet-5 with ReLU and max pooling, conv 6@5x5 (padding 2) - pool - conv 16@5x5 -
  pool - fc 120 - fc 84 - fc 10, for 28x28 inputs;
- ``cnn``: a small VGG-style CNN with BatchNorm for 32x32 CIFAR-10 (3 stages, 32/64/128 channels).

In both CNNs ReLU comes after the max pooling, not before: the two commute (both are monotone, so
max(relu(a), relu(b)) = relu(max(a, b)), and the gradient reaches the same pixel or none), so the
network computes the textbook conv - ReLU - pool outputs bit for bit and the same gradients (a
zero may differ in sign), while ReLU touches a quarter of the values. Checked by a hypothesis
test in tests/test_functional.py (ties included) and by tests/test_models.py against PyTorch's
conv - ReLU - pool.

``width`` scales every hidden width (small-dense baselines use it to match a sparse model's
parameter count). Weights use He (Kaiming) normal initialisation, std = sqrt(2 / fan_in), drawn on
the host RNG and moved to the backend (docs/semantics.md "Conventions"); biases start at 0, BatchNorm at (1, 0).
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.nn import BatchNorm, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential

MODELS = ("lenet300", "lenet5", "cnn")

__all__ = ["MODELS", "build_model", "he_init", "sparse_fan_in_init"]


def _w(n, width):
    return max(1, int(round(n * width)))


def lenet300(input_shape=(1, 28, 28), num_classes=10, width=1.0):
    h1, h2 = _w(300, width), _w(100, width)
    return Sequential([
        ("flatten", Flatten()),
        ("fc1", Linear(math.prod(input_shape), h1)), ("relu1", ReLU()),   # (N, 300)
        ("fc2", Linear(h1, h2)), ("relu2", ReLU()),                       # (N, 100)
        ("fc3", Linear(h2, num_classes)),                                 # (N, 10)
    ])


def lenet5(input_shape=(1, 28, 28), num_classes=10, width=1.0):
    c, h, w = input_shape
    c1, c2, f1, f2 = _w(6, width), _w(16, width), _w(120, width), _w(84, width)
    side = ((h // 2) - 4) // 2                                           # 28 -> 14 -> 10 -> 5
    if side < 1 or w != h:
        raise ValueError(f"lenet5 needs square inputs of at least 12x12, got {input_shape}")
    return Sequential([
        ("conv1", Conv2d(c, c1, 5, padding=2)),                           # (N, 6, 28, 28)
        ("pool1", MaxPool2d(2)), ("relu1", ReLU()),                       # (N, 6, 14, 14)
        ("conv2", Conv2d(c1, c2, 5)),                                     # (N, 16, 10, 10)
        ("pool2", MaxPool2d(2)), ("relu2", ReLU()),                       # (N, 16, 5, 5)
        ("flatten", Flatten()),                                           # (N, 400)
        ("fc1", Linear(c2 * side * side, f1)), ("relu3", ReLU()),         # (N, 120)
        ("fc2", Linear(f1, f2)), ("relu4", ReLU()),                       # (N, 84)
        ("fc3", Linear(f2, num_classes)),                                 # (N, 10)
    ])


def cnn(input_shape=(3, 32, 32), num_classes=10, width=1.0):
    c, h, _ = input_shape
    layers, channels = [], c
    for stage, out in enumerate((_w(32, width), _w(64, width), _w(128, width)), start=1):
        layers += [(f"conv{stage}", Conv2d(channels, out, 3, padding=1, bias=False)),
                   (f"bn{stage}", BatchNorm(out)), (f"pool{stage}", MaxPool2d(2)),
                   (f"relu{stage}", ReLU())]                             # (N, out, H/2, W/2)
        channels, h = out, h // 2
    layers += [("flatten", Flatten()),                                    # (N, 128 * 4 * 4)
               ("fc", Linear(channels * h * h, num_classes))]
    return Sequential(layers)


_BUILDERS = {"lenet300": lenet300, "lenet5": lenet5, "cnn": cnn}


def he_init(model: Sequential, rng) -> None:
    """He-normal weights (std sqrt(2 / fan_in)), drawn on the host ``rng``; biases stay as built."""
    for name, p in model.params().items():
        if name in model.sparsifiable():
            fan_in = math.prod(p.shape[1:])
            draw = rng.standard_normal(p.shape) * math.sqrt(2.0 / fan_in)
            p[...] = backend.asarray(draw, dtype=p.dtype)


def sparse_fan_in_init(params: dict, masks: dict) -> None:
    """Rescale He-initialised masked weights to each neuron's *sparse* fan-in.

    He init assumes every input is connected: std sqrt(2 / fan_in) with the dense fan-in. A neuron
    that keeps only k of its fan_in inputs then starts with pre-activations sqrt(k / fan_in) too
    small, and the shrinkage compounds layer by layer. Multiplying row i (one output neuron) by
    sqrt(fan_in / k_i) gives std sqrt(2 / k_i), the sparse-aware initialisation of Evci et al.
    2022 ("Gradient Flow in Sparse Neural Networks"). Rows with no inputs stay zero. The same random
    draws are reused, so dense-init and sparse-init runs of one seed differ only by this scale.
    """
    for name, mask in masks.items():
        w = params[name]                                     # (out, ...) masked weights
        fan_in = math.prod(w.shape[1:])
        k = mask.reshape(w.shape[0], -1).sum(axis=1)         # (out,) active inputs per neuron
        xp = backend.array_module(w)
        scale = xp.sqrt(fan_in / xp.maximum(k, 1)).astype(w.dtype)
        w *= scale.reshape((-1,) + (1,) * (w.ndim - 1))


def build_model(name: str, input_shape, num_classes: int, rng=None, width: float = 1.0) -> Sequential:
    """Build model ``name`` (one of ``MODELS``); He-initialise it from the host ``rng`` if given."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    model = _BUILDERS[name](tuple(input_shape), num_classes, width)
    if rng is not None:
        he_init(model, rng)
    return model
