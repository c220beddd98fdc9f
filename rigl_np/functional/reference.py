"""Slow, obviously correct loop versions of conv2d and pooling forward passes, for tests only.

Each output pixel is computed on its own from its input window, the way the definition reads
(like CS231n's conv_forward_naive). The fast im2col / reshape versions are tested against these.
"""
from rigl_np import backend


def conv2d_forward_naive(x, w, b, stride=1, padding=0):
    """Convolution straight from its definition, one output pixel at a time:

    out[n, f, r, s] = b[f] + sum_{c, i, j} x_pad[n, c, r*stride + i, s*stride + j] * w[f, c, i, j]
    """
    xp = backend.array_module(x, w, b)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    x_pad = xp.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=x.dtype)
    x_pad[:, :, padding:padding + h, padding:padding + wd] = x
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out = xp.zeros((n, f, oh, ow), dtype=x.dtype)
    for r in range(oh):
        for s in range(ow):
            window = x_pad[:, :, r * stride:r * stride + kh, s * stride:s * stride + kw]
            for k in range(f):
                out[:, k, r, s] = (window * w[k]).sum(axis=(1, 2, 3))
    if b is not None:
        out += b.reshape(1, f, 1, 1)
    return out


def _pool_naive(x, kernel, stride, reduce):
    xp = backend.array_module(x)
    stride = kernel if stride is None else stride
    n, c, h, w = x.shape
    oh, ow = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    out = xp.zeros((n, c, oh, ow), dtype=x.dtype)
    for r in range(oh):
        for s in range(ow):
            window = x[:, :, r * stride:r * stride + kernel, s * stride:s * stride + kernel]
            out[:, :, r, s] = reduce(window, axis=(2, 3))
    return out


def max_pool2d_forward_naive(x, kernel, stride=None):
    """out[n, c, r, s] = max of x[n, c, r*stride:r*stride + kernel, s*stride:s*stride + kernel]."""
    return _pool_naive(x, kernel, stride, backend.array_module(x).max)


def avg_pool2d_forward_naive(x, kernel, stride=None):
    """out[n, c, r, s] = mean of x[n, c, r*stride:r*stride + kernel, s*stride:s*stride + kernel]."""
    return _pool_naive(x, kernel, stride, backend.array_module(x).mean)
