"""Stateless layer maths: each op is a forward/backward pair (CS231n's layers.py style).

``<op>_forward(inputs...) -> (out, cache)`` and ``<op>_backward(dout, cache) -> gradients`` in
input order. Every function takes its array module from its inputs, so it runs on NumPy and CuPy
alike. One concept per file: linear, conv (im2col/col2im), pool, norm, activation, loss;
``reference`` holds slow loop versions used only to test the fast ones.
"""
from rigl_np.functional.activation import (dropout_backward, dropout_forward, flatten_backward,
                                           flatten_forward, relu_backward, relu_forward)
from rigl_np.functional.conv import (col2im, conv2d_backward, conv2d_forward, conv_output_size,
                                     im2col)
from rigl_np.functional.linear import linear_backward, linear_forward
from rigl_np.functional.loss import softmax_cross_entropy
from rigl_np.functional.norm import batch_norm_backward, batch_norm_forward
from rigl_np.functional.pool import (avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward,
                                     max_pool2d_forward)

__all__ = [
    "linear_forward", "linear_backward",
    "conv2d_forward", "conv2d_backward", "im2col", "col2im", "conv_output_size",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "batch_norm_forward", "batch_norm_backward",
    "relu_forward", "relu_backward", "flatten_forward", "flatten_backward",
    "dropout_forward", "dropout_backward",
    "softmax_cross_entropy",
]
