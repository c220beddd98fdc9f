"""Element-wise and shape-only layers: ReLU, flatten and (inverted) dropout.

Dropout takes its keep mask from the caller: every random draw in rigl_np happens on the host
with a NumPy Generator (docs/semantics.md "Conventions"), so a NumPy run and a CuPy run with one seed drop the same units.
"""
from rigl_np import backend


def relu_forward(x):
    """out = max(x, 0).

    Inputs:  x, any shape.
    Output:  out, x's shape and dtype.
    Cache:   out: the next layer keeps this very array as its input, so caching it costs no
             memory, and out > 0 recovers the mask (a separate boolean mask would be new memory).
    """
    xp = backend.array_module(x)
    out = xp.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """dx = dout where x > 0, else 0 (0 at x == 0 too, like PyTorch).

    Inputs:  dout, x's shape; cache (out) from relu_forward.
    Output:  dx, x's shape.
    """
    return dout * (cache > 0)


def flatten_forward(x):
    """Keep the batch axis, flatten the rest: (N, ...) -> (N, prod(...)).

    Output:  out (N, D), a view when x is contiguous.
    Cache:   x_shape, to undo the reshape.
    """
    return x.reshape(x.shape[0], -1), x.shape  # (N, D)


def flatten_backward(dout, cache):
    """dx = dout reshaped back: (N, D) -> x's shape."""
    return dout.reshape(cache)  # x's shape


def dropout_forward(x, p, keep):
    """Inverted dropout: out = x * keep / (1 - p), so the expected activation is unchanged.

    Inputs:  x, any shape; p, the drop probability, 0 <= p < 1; keep, boolean of x's shape, on
             x's backend (drawn on the host, Bernoulli(1 - p), and moved by the caller).
    Output:  out, x's shape and dtype.
    Cache:   (keep, scale): the mask is needed for dx and cannot be recomputed.
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    scale = 1 / (1 - p)
    return x * keep * scale, (keep, scale)


def dropout_backward(dout, cache):
    """dx = dout * keep / (1 - p).

    Inputs:  dout, x's shape; cache from dropout_forward.
    Output:  dx, x's shape.
    """
    keep, scale = cache
    return dout * keep * scale
