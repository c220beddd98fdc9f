"""2-D max and average pooling over square windows, forward and backward.

Both poolings share one idea: lay every pooling window out as a column (the same layout as
conv's im2col with one channel), reduce each column to one number, and in the backward pass
spread each output gradient back over its column and put the columns back in place.
- Common case (stride == kernel, H and W divisible by it): the windows tile x exactly, so the
  row of offset (i, j) is the strided slice x[:, :, i::k, j::k], copied once per offset, and
  back again by assignment (each pixel lies in one window). A single transposing copy does the
  same, but its innermost loop runs over k = 2 elements: measured at 5.8 ms against 0.6 ms for
  the gradient of LeNet-5's first pooling (128 x 6 x 28 x 28), most of that layer's backward.
- Any other case (overlapping or ragged windows): im2col / col2im, which loop over the
  kernel*kernel offsets; col2im adds up the gradients of overlapping windows.

Max-pool ties: the whole gradient of a window goes to ONE position, the first maximum in
row-major order inside the window (what PyTorch does). The forward pass marks it in a boolean
one-hot column per window, built from element-wise comparisons only: no scatter such as
np.add.at, so CuPy runs it as is, and no argmax, which NumPy runs slowly across rows.
Left out: padding, dilation, ceil_mode, non-square windows.
"""
from rigl_np import backend
from rigl_np.functional.conv import col2im, conv_output_size, im2col


def _tiles_exactly(x_shape, kernel, stride):
    """True when the windows are the disjoint k x k tiles of the whole image."""
    return stride == kernel and x_shape[2] % kernel == 0 and x_shape[3] % kernel == 0


def _windows(x, kernel, stride):
    """Every pooling window of x (N, C, H, W) as one column: (kernel*kernel, N*C*oh*ow)."""
    n, c, h, w = x.shape
    if _tiles_exactly(x.shape, kernel, stride):
        xp = backend.array_module(x)
        cols = xp.empty((kernel, kernel, *_output_shape(x.shape, kernel, stride)), dtype=x.dtype)
        for i in range(kernel):
            for j in range(kernel):
                cols[i, j] = x[:, :, i::kernel, j::kernel]  # (N, C, oh, ow): offset (i, j)
        return cols.reshape(kernel * kernel, -1)  # (k*k, N*C*oh*ow)
    # Each channel as its own one-channel image, so im2col's rows are the window offsets.
    return im2col(x.reshape(n * c, 1, h, w), kernel, kernel, stride, 0)  # (k*k, N*C*oh*ow)


def _unwindows(cols, x_shape, kernel, stride):
    """The adjoint of _windows: (kernel*kernel, N*C*oh*ow) columns back to (N, C, H, W)."""
    n, c, h, w = x_shape
    if _tiles_exactly(x_shape, kernel, stride):
        xp = backend.array_module(cols)
        cols = cols.reshape(kernel, kernel, n, c, h // kernel, w // kernel)  # (k, k, N, C, oh, ow)
        dx = xp.empty(x_shape, dtype=cols.dtype)  # (N, C, H, W), every pixel written once below
        for i in range(kernel):
            for j in range(kernel):
                dx[:, :, i::kernel, j::kernel] = cols[i, j]
        return dx
    return col2im(cols, (n * c, 1, h, w), kernel, kernel, stride, 0).reshape(n, c, h, w)


def _output_shape(x_shape, kernel, stride):
    n, c, h, w = x_shape
    return n, c, conv_output_size(h, kernel, stride, 0), conv_output_size(w, kernel, stride, 0)


def _first_max(windows, maxima):
    """(k*k, M) bool, True at the first maximum of each column (offsets in row-major order)."""
    one_hot = windows == maxima  # (k*k, M), every maximum of each window
    seen = one_hot[0].copy()  # (M,), a maximum was found at an earlier offset
    for offset in range(1, one_hot.shape[0]):
        one_hot[offset] &= ~seen
        seen |= one_hot[offset]
    return one_hot


def max_pool2d_forward(x, kernel, stride=None):
    """Max over each kernel x kernel window, like torch.nn.functional.max_pool2d.

    Inputs:  x (N, C, H, W); kernel int; stride int, default kernel.
    Output:  out (N, C, oh, ow), oh = (H - kernel) // stride + 1 (ow likewise).
    Cache:   (first_max (k*k, N*C*oh*ow) bool: the winning pixel of each window, x_shape, kernel,
             stride).
    """
    stride = kernel if stride is None else stride
    windows = _windows(x, kernel, stride)  # (k*k, N*C*oh*ow)
    maxima = windows.max(axis=0)  # (N*C*oh*ow,)
    # first_max pins the tie rule and is all backward needs: one byte per window pixel, a quarter
    # of keeping the float32 windows (or x) and searching them again.
    first_max = _first_max(windows, maxima)  # (k*k, N*C*oh*ow)
    out = maxima.reshape(_output_shape(x.shape, kernel, stride))  # (N, C, oh, ow)
    return out, (first_max, x.shape, kernel, stride)


def max_pool2d_backward(dout, cache):
    """Gradient of max_pool2d_forward: each window's dout goes to its first maximum.

    Inputs:  dout (N, C, oh, ow); cache from max_pool2d_forward.
    Output:  dx (N, C, H, W); overlapping windows add up.
    """
    first_max, x_shape, kernel, stride = cache
    dcols = first_max * dout.reshape(1, -1)  # (k*k, N*C*oh*ow), dout's dtype
    return _unwindows(dcols, x_shape, kernel, stride)


def avg_pool2d_forward(x, kernel, stride=None):
    """Mean over each kernel x kernel window, like torch.nn.functional.avg_pool2d.

    Inputs:  x (N, C, H, W); kernel int; stride int, default kernel.
    Output:  out (N, C, oh, ow), oh = (H - kernel) // stride + 1 (ow likewise).
    Cache:   (x_shape, kernel, stride): the gradient of a mean does not depend on x.
    """
    stride = kernel if stride is None else stride
    windows = _windows(x, kernel, stride)  # (k*k, N*C*oh*ow)
    out = windows.mean(axis=0).reshape(_output_shape(x.shape, kernel, stride))  # (N, C, oh, ow)
    return out, (x.shape, kernel, stride)


def avg_pool2d_backward(dout, cache):
    """Gradient of avg_pool2d_forward: each window's dout spread evenly over its pixels.

    Inputs:  dout (N, C, oh, ow); cache from avg_pool2d_forward.
    Output:  dx (N, C, H, W); overlapping windows add up.
    """
    x_shape, kernel, stride = cache
    xp = backend.array_module(dout)
    share = dout.reshape(1, -1) / (kernel * kernel)  # (1, N*C*oh*ow)
    dcols = xp.broadcast_to(share, (kernel * kernel, share.shape[1]))  # (k*k, N*C*oh*ow), a view
    return _unwindows(dcols, x_shape, kernel, stride)
