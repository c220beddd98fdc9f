"""Thin layer objects and ``Sequential``: each layer owns its parameters, gradients and cache and
calls the stateless maths in ``rigl_np.functional``.

- ``layer.params`` / ``layer.grads``: dicts ``{"weight": array, "bias": array}``; the optimizer
  updates the parameter arrays in place, so layers never need to be told about a step.
- ``layer.buffers``: state that is not trained (BatchNorm running statistics).
- ``Sequential`` names every parameter ``"<layer name>.<param>"`` (``"fc1.weight"``), like a
  PyTorch ``state_dict``; ``sparsifiable()`` lists the Linear and Conv2d weights, the only
  parameters sparse training masks (docs/semantics.md "Conventions").

Masks are deliberately not here: they live in a dict outside the model, owned by the training
method (``rigl_np.methods``), which applies them at the two hooks ``rigl_np.train`` calls.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np import functional as F


class Layer:
    """A layer with no parameters; subclasses fill ``params``/``buffers`` and define the maths."""

    def __init__(self):
        self.params, self.grads, self.buffers = {}, {}, {}
        self.cache = None

    def forward(self, x, train: bool = True):
        raise NotImplementedError

    def backward(self, dout, input_grad: bool = True):
        raise NotImplementedError


def _zeros(*shape):
    return backend.xp().zeros(shape, dtype="float32")


class Linear(Layer):
    """y = x W^T + b, weight (out_features, in_features) as in PyTorch."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.params["weight"] = _zeros(out_features, in_features)
        if bias:
            self.params["bias"] = _zeros(out_features)

    def forward(self, x, train=True):
        out, self.cache = F.linear_forward(x, self.params["weight"], self.params.get("bias"))
        return out

    def backward(self, dout, input_grad=True):
        dx, self.grads["weight"], db = F.linear_backward(dout, self.cache, input_grad=input_grad)
        if db is not None:
            self.grads["bias"] = db
        return dx


class Conv2d(Layer):
    """2-d convolution (cross-correlation), weight (out, in, kh, kw) as in PyTorch, NCHW input."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.stride, self.padding = stride, padding
        self.params["weight"] = _zeros(out_channels, in_channels, kernel_size, kernel_size)
        if bias:
            self.params["bias"] = _zeros(out_channels)

    def forward(self, x, train=True):
        out, self.cache = F.conv2d_forward(x, self.params["weight"], self.params.get("bias"),
                                           stride=self.stride, padding=self.padding)
        return out

    def backward(self, dout, input_grad=True):
        dx, self.grads["weight"], db = F.conv2d_backward(dout, self.cache, input_grad=input_grad)
        if db is not None:
            self.grads["bias"] = db
        return dx


class BatchNorm(Layer):
    """Batch normalisation over (N,) for (N, C) input or over (N, H, W) for (N, C, H, W) input."""

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.params["weight"] = _zeros(num_features) + 1
        self.params["bias"] = _zeros(num_features)
        self.buffers["running_mean"] = _zeros(num_features)
        self.buffers["running_var"] = _zeros(num_features) + 1

    def forward(self, x, train=True):
        out, self.cache = F.batch_norm_forward(
            x, self.params["weight"], self.params["bias"], self.buffers["running_mean"],
            self.buffers["running_var"], train, momentum=self.momentum, eps=self.eps)
        return out

    def backward(self, dout, input_grad=True):
        dx, self.grads["weight"], self.grads["bias"] = F.batch_norm_backward(dout, self.cache)
        return dx


class _Stateless(Layer):
    """A parameter-free op given as a (forward, backward) pair from ``rigl_np.functional``."""

    def __init__(self, forward, backward, **kwargs):
        super().__init__()
        self._forward, self._backward, self._kwargs = forward, backward, kwargs

    def forward(self, x, train=True):
        out, self.cache = self._forward(x, **self._kwargs)
        return out

    def backward(self, dout, input_grad=True):
        return self._backward(dout, self.cache)


def ReLU():
    return _Stateless(F.relu_forward, F.relu_backward)


def Flatten():
    return _Stateless(F.flatten_forward, F.flatten_backward)


def MaxPool2d(kernel_size, stride=None):
    return _Stateless(F.max_pool2d_forward, F.max_pool2d_backward, kernel=kernel_size, stride=stride)


def AvgPool2d(kernel_size, stride=None):
    return _Stateless(F.avg_pool2d_forward, F.avg_pool2d_backward, kernel=kernel_size, stride=stride)


class Dropout(Layer):
    """Inverted dropout; the keep mask is drawn on the host RNG (docs/semantics.md "Conventions": every draw on the host)."""

    def __init__(self, p: float, rng):
        super().__init__()
        self.p, self.rng = p, rng

    def forward(self, x, train=True):
        if not train or self.p == 0:
            self.cache = None
            return x
        keep = backend.asarray(self.rng.random(x.shape) >= self.p)
        out, self.cache = F.dropout_forward(x, self.p, keep)
        return out

    def backward(self, dout, input_grad=True):
        return dout if self.cache is None else F.dropout_backward(dout, self.cache)


class Sequential:
    """Named layers applied in order; parameters flattened to ``{"<layer>.<param>": array}``."""

    def __init__(self, layers):
        self.layers = list(layers)  # [(name, Layer)]
        names = [name for name, _ in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layer names must be unique, got {names}")

    def forward(self, x, train: bool = True):
        for _, layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, dout):
        """Backpropagate ``dout`` down to the first layer with parameters, which skips its input
        gradient: nothing below it learns, so that product (the largest in an MLP) is never needed."""
        first = next(i for i, (_, layer) in enumerate(self.layers) if layer.params)
        for i in range(len(self.layers) - 1, first - 1, -1):
            dout = self.layers[i][1].backward(dout, input_grad=i > first)

    def _flat(self, attr):
        return {f"{name}.{key}": value for name, layer in self.layers
                for key, value in getattr(layer, attr).items()}

    def params(self) -> dict:
        """``{"fc1.weight": array, ...}``: the live parameter arrays (updated in place)."""
        return self._flat("params")

    def grads(self) -> dict:
        """The gradients of the last ``backward``, keyed like ``params()``."""
        return self._flat("grads")

    def buffers(self) -> dict:
        """Non-trained state (BatchNorm running statistics), keyed like ``params()``."""
        return self._flat("buffers")

    def swap(self, values: dict) -> dict:
        """Put the arrays ``values`` (``{"fc1.weight": array}``) in the named parameters' place
        and return the arrays they replaced (``swap`` them back to restore). The optimizer keeps
        updating the original arrays, which it holds."""
        layers = dict(self.layers)
        previous = {}
        for key, value in values.items():
            layer, _, param = key.rpartition(".")
            previous[key] = layers[layer].params[param]
            layers[layer].params[param] = value
        return previous

    def sparsifiable(self) -> list:
        """Names of the Linear and Conv2d weights, in layer order: what sparse training masks."""
        return [f"{name}.weight" for name, layer in self.layers if isinstance(layer, (Linear, Conv2d))]

    def load(self, values: dict) -> None:
        """Copy arrays (host or backend) into the parameters and buffers of the same names."""
        live = {**self.params(), **self.buffers()}
        missing = set(live) - set(values)
        if missing:
            raise KeyError(f"no values given for {sorted(missing)}")
        for name, array in live.items():
            array[...] = backend.asarray(values[name], dtype=array.dtype)
