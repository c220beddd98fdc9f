"""Fully connected (affine) layer: out = x @ W.T + b, and its gradients.

The weight follows PyTorch's layout (out_features, in_features), so row i of W is output
neuron i's fan-in (what a constant fan-in mask in SRigL constrains). Forward and backward are
nothing but the matrix products and a bias add: sparsity lives in the weight's mask, applied by
the caller, not here.
"""


def linear_forward(x, w, b):
    """out = x @ w.T + b.

    Inputs:  x (N, in); w (out, in); b (out,) or None for no bias.
    Output:  out (N, out), x's dtype.
    Cache:   (x (N, in), w (out, in), has_bias bool).
    """
    out = x @ w.T  # (N, out)
    if b is not None:
        out += b  # in place on the fresh product: no extra (N, out) temporary
    # x: dW = dout.T @ x needs the input itself (it is the previous layer's output, kept anyway).
    # w: dx = dout @ w; a reference, not a copy.
    cache = (x, w, b is not None)
    return out, cache


def linear_backward(dout, cache, input_grad=True):
    """Gradients of linear_forward.

    Inputs:  dout (N, out); cache from linear_forward; input_grad False skips dx (the first
             layer's input is data, so its gradient would be thrown away).
    Outputs: dx (N, in) or None; dw (out, in); db (out,) or None when there was no bias.
    """
    x, w, has_bias = cache
    dx = dout @ w if input_grad else None  # (N, in)
    dw = dout.T @ x  # (out, in)
    db = dout.sum(axis=0) if has_bias else None  # (out,)
    return dx, dw, db
