"""2-D convolution as one matrix product: im2col, col2im and conv2d forward/backward.

Once every kh x kw input patch is laid out as one column ("im2col"), a convolution with an
(F, C, kh, kw) filter bank is the product W_2d @ cols. The backward pass is two more products
plus col2im, the mirror (adjoint) of im2col, which adds every column back onto the input pixels
it was copied from; overlapping patches add up.

Column layout, chosen because it was fastest on LeNet-5 and small-CNN shapes (NumPy/OpenBLAS):
cols is (C*kh*kw, N*oh*ow), one row per (input channel, kernel offset) and one column per output
pixel of the whole batch. Forward, weight gradient and input gradient are then each a single 2-D
matmul (one BLAS or cuBLAS call, no batched loop); the price is one transposing copy of out and
of dout between (F, N, oh, ow) and NCHW.

im2col and col2im are written like Chainer's utils/conv.py: a Python loop over the kh*kw kernel
offsets, each copying one strided slice, so they run unchanged on CuPy (no np.add.at, no stride
tricks). Left out: dilation and groups.
"""
from rigl_np import backend


def conv_output_size(size, kernel, stride, padding):
    """Output length along one axis: floor((size + 2*padding - kernel) / stride) + 1."""
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"kernel {kernel} does not fit an input of {size} with padding {padding}")
    return out


def im2col(x, kh, kw, stride, padding):
    """Every kh x kw patch of x (zero-padded by `padding`) as one column.

    Inputs:  x (N, C, H, W).
    Output:  cols (C*kh*kw, N*oh*ow); row (c, i, j) holds x_padded[n, c, i + stride*r, j + stride*s]
             in column (n, r, s).
    """
    xp = backend.array_module(x)
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    # Pad and move channels first in one copy, so that each slice below is a (C, N, oh, ow) block.
    padded = xp.zeros((c, n, h + 2 * padding, w + 2 * padding), dtype=x.dtype)  # (C, N, Hp, Wp)
    padded[:, :, padding:padding + h, padding:padding + w] = x.transpose(1, 0, 2, 3)
    cols = xp.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # The pixels kernel offset (i, j) sees from every output position.
            cols[:, i, j] = padded[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return cols.reshape(c * kh * kw, n * oh * ow)  # (C*kh*kw, N*oh*ow)


def col2im(cols, x_shape, kh, kw, stride, padding):
    """The adjoint of im2col: add every column back onto the pixels it was copied from.

    Inputs:  cols (C*kh*kw, N*oh*ow); x_shape (N, C, H, W) of the image im2col was given.
    Output:  dx (N, C, H, W), contiguous; the padding border is dropped.
    """
    xp = backend.array_module(cols)
    n, c, h, w = x_shape
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    cols = cols.reshape(c, kh, kw, n, oh, ow)  # (C, kh, kw, N, oh, ow)
    padded = xp.zeros((c, n, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)  # (C, N, Hp, Wp)
    for i in range(kh):
        for j in range(kw):
            # One slice never hits a pixel twice, so += is safe on CuPy without atomics.
            padded[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += cols[:, i, j]
    inner = padded[:, :, padding:padding + h, padding:padding + w]  # (C, N, H, W)
    return xp.ascontiguousarray(inner.transpose(1, 0, 2, 3))  # (N, C, H, W)


def conv2d_forward(x, w, b, stride=1, padding=0):
    """Cross-correlation like torch.nn.functional.conv2d (no dilation, no groups).

    Inputs:  x (N, C, H, W); w (F, C, kh, kw); b (F,) or None; stride, padding ints.
    Output:  out (N, F, oh, ow), oh = (H + 2*padding - kh) // stride + 1 (ow likewise).
    Cache:   (cols (C*kh*kw, N*oh*ow), w (F, C, kh, kw), x_shape, stride, padding, has_bias).
    """
    xp = backend.array_module(x, w, b)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"input has {x.shape[1]} channels but the weight expects {w.shape[1]}")
    n = x.shape[0]
    f, _, kh, kw = w.shape
    oh = conv_output_size(x.shape[2], kh, stride, padding)
    ow = conv_output_size(x.shape[3], kw, stride, padding)
    cols = im2col(x, kh, kw, stride, padding)  # (C*kh*kw, N*oh*ow)
    prod = (w.reshape(f, -1) @ cols).reshape(f, n, oh, ow)  # (F, N, oh, ow)
    # Back to NCHW in one copy; the bias is added during that copy rather than in a pass of its own.
    out = xp.empty((n, f, oh, ow), dtype=prod.dtype)  # (N, F, oh, ow)
    if b is None:
        out[...] = prod.transpose(1, 0, 2, 3)
    else:
        xp.add(prod.transpose(1, 0, 2, 3), b[:, None, None], out=out)
    # cols: dW = dout @ cols.T needs it. Kept rather than recomputed from x: it costs kh*kw times
    #   the memory of x, but saves a second im2col in every backward pass.
    # w: dcols = W.T @ dout; a reference, not a copy. x_shape, stride, padding: for col2im.
    cache = (cols, w, x.shape, stride, padding, b is not None)
    return out, cache


def conv2d_backward(dout, cache, input_grad=True):
    """Gradients of conv2d_forward.

    Inputs:  dout (N, F, oh, ow); cache from conv2d_forward; input_grad False skips dx (the
             first layer's input is data).
    Outputs: dx (N, C, H, W) or None; dw (F, C, kh, kw); db (F,) or None when there was no bias.
    """
    cols, w, x_shape, stride, padding, has_bias = cache
    f, _, kh, kw = w.shape
    dout = dout.transpose(1, 0, 2, 3).reshape(f, -1)  # (F, N*oh*ow), the layout of out before
    # dW = dout @ cols.T, computed as the transpose of cols @ dout.T: the same sums, but OpenBLAS
    #   runs this operand order about 1.4x faster on conv shapes, whose inner dimension N*oh*ow is
    #   long (benchmarks/conv_parts.py prints both).
    dw = (cols @ dout.T).T.reshape(w.shape)  # (F, C, kh, kw)
    db = dout.sum(axis=1) if has_bias else None  # (F,)
    dx = None
    if input_grad:
        dcols = w.reshape(f, -1).T @ dout  # (C*kh*kw, N*oh*ow)
        dx = col2im(dcols, x_shape, kh, kw, stride, padding)  # (N, C, H, W)
    return dx, dw, db
