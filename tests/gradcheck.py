"""The one numerical gradient-check helper (centred differences, float64, relative error).

Usage, one line per op::

    check_gradients(lambda x, w: op_forward(x, w)[0], [x, w],
                    lambda dout, x, w: op_backward(dout, op_forward(x, w)[1]))

``forward(*inputs)`` returns an array ``out``; ``backward(dout, *inputs)`` returns the analytic
gradients of ``sum(out * dout)`` with respect to every input, in input order. A fixed random
``dout`` makes the scalar depend on every output element. Inputs are host float64 arrays; they are
moved to the selected backend for every evaluation, so the check runs on NumPy, the strict stand-in
and CuPy alike. Keep inputs away from kinks (ReLU at 0, ties in max pooling) so the finite
difference is meaningful; with ``eps=1e-6`` a correct float64 gradient has relative error ~1e-8.
"""
import numpy as np

from rigl_np import backend


def relative_error(a, b):
    """max |a - b| / max(|a| + |b|, 1e-8), elementwise, as in the CS231n notes."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))


def numerical_gradient(f, inputs, index, eps=1e-6):
    """d f / d inputs[index] by centred differences; ``f`` maps host inputs to a float."""
    x = inputs[index]
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f(*inputs)
        x[i] = old - eps
        minus = f(*inputs)
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def check_gradients(forward, inputs, backward, wrt=None, tol=1e-6, seed=0):
    """Assert the analytic gradients of ``forward`` match centred differences within ``tol``.

    ``wrt``: indices of the inputs to check (default: all). Returns the worst relative error.
    """
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    dev = lambda xs: [backend.asarray(x) for x in xs]  # noqa: E731 - host -> backend
    out = backend.to_numpy(forward(*dev(inputs)))
    dout = np.random.default_rng(seed).standard_normal(out.shape)

    def scalar(*xs):
        return float(np.sum(backend.to_numpy(forward(*dev(xs))) * dout))

    analytic = backward(backend.asarray(dout), *dev(inputs))
    worst = 0.0
    for i in (range(len(inputs)) if wrt is None else wrt):
        numeric = numerical_gradient(scalar, inputs, i)
        err = relative_error(backend.to_numpy(analytic[i]), numeric)
        assert err < tol, f"input {i}: relative error {err:.2e} exceeds {tol:.0e}"
        worst = max(worst, err)
    return worst
