"""Cross-checks of rigl_np.functional against PyTorch autograd, in float64.

For every op: the forward output and every gradient of sum(out * dout), for one fixed random
dout, must match torch to ~1e-10. Batch norm is also compared on its running statistics after a
training step, and max pooling on inputs full of ties (PyTorch's first-maximum rule).
"""
import numpy as np
import pytest

from rigl_np import backend
from rigl_np import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
RNG = np.random.default_rng(1)


def randn(*shape):
    return RNG.standard_normal(shape)


def compare(ours, theirs, inputs, *extras):
    """Run ours(*inputs) -> (out, grads) and theirs(*tensors) -> out; compare out and each grad.

    ``ours(dout, *backend arrays)`` returns (out, gradients in input order); ``theirs`` takes
    float64 tensors that require grad. ``extras`` are non-differentiable host arrays handed to
    both (labels, masks), moved to the backend for ours and to torch for theirs.
    """
    tensors = [torch.tensor(a, requires_grad=True) for a in inputs]
    expected = theirs(*tensors, *(torch.from_numpy(e) for e in extras))
    dout = RNG.standard_normal(tuple(expected.shape))
    (expected * torch.from_numpy(dout)).sum().backward()
    out, grads = ours(backend.asarray(dout), *(backend.asarray(a) for a in (*inputs, *extras)))
    np.testing.assert_allclose(backend.to_numpy(out), expected.detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    for i, (grad, t) in enumerate(zip(grads, tensors)):
        np.testing.assert_allclose(backend.to_numpy(grad), t.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of input {i}")


def pair(forward, backward):
    """ours(dout, *arrays) from a forward/backward pair; extra arguments go to forward."""
    def ours(dout, *arrays):
        out, cache = forward(*arrays)
        grads = backward(dout, cache)
        return out, grads if isinstance(grads, tuple) else (grads,)
    return ours


@pytest.mark.parametrize("bias", [True, False])
def test_linear(backend_name, bias):
    inputs = [randn(4, 6), randn(3, 6)] + ([randn(3)] if bias else [])
    compare(pair(lambda x, w, b=None: F.linear_forward(x, w, b), F.linear_backward),
            lambda x, w, b=None: TF.linear(x, w, b), inputs)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", [
    ((2, 3, 6, 6), (4, 3, 3, 3), 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 3), 2, 1),
    ((2, 2, 8, 7), (3, 2, 5, 2), 2, 2),
])
def test_conv2d(backend_name, x_shape, w_shape, stride, padding):
    compare(pair(lambda x, w, b: F.conv2d_forward(x, w, b, stride, padding), F.conv2d_backward),
            lambda x, w, b: TF.conv2d(x, w, b, stride=stride, padding=padding),
            [randn(*x_shape), randn(*w_shape), randn(w_shape[0])])


# x shape, kernel, stride: tiles, overlapping, ragged, gaps between windows
POOLS = [((2, 3, 6, 6), 2, None), ((2, 3, 7, 7), 3, 2), ((2, 3, 7, 5), 2, None),
         ((1, 2, 9, 9), 2, 3)]


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("x_shape, kernel, stride", POOLS)
def test_max_pool2d(backend_name, x_shape, kernel, stride, ties):
    # With ties (values in {0, 1, 2}) PyTorch sends each window's gradient to its first max.
    x = RNG.integers(0, 3, x_shape).astype(np.float64) if ties else randn(*x_shape)
    compare(pair(lambda x: F.max_pool2d_forward(x, kernel, stride), F.max_pool2d_backward),
            lambda x: TF.max_pool2d(x, kernel, stride), [x])


@pytest.mark.parametrize("x_shape, kernel, stride", POOLS)
def test_avg_pool2d(backend_name, x_shape, kernel, stride):
    compare(pair(lambda x: F.avg_pool2d_forward(x, kernel, stride), F.avg_pool2d_backward),
            lambda x: TF.avg_pool2d(x, kernel, stride), [randn(*x_shape)])


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("x_shape", [(8, 3), (4, 3, 3, 2)], ids=["1d", "2d"])
def test_batch_norm(backend_name, x_shape, train):
    mean0, var0 = randn(3), RNG.uniform(0.5, 2.0, 3)
    ours_stats = [backend.asarray(mean0.copy()), backend.asarray(var0.copy())]
    torch_stats = [torch.tensor(mean0), torch.tensor(var0)]
    compare(pair(lambda x, g, b: F.batch_norm_forward(x, g, b, *ours_stats, train, 0.3, 1e-4),
                 F.batch_norm_backward),
            lambda x, g, b: TF.batch_norm(x, *torch_stats, g, b, train, 0.3, 1e-4),
            [randn(*x_shape) * 3 + 2, randn(3), randn(3)])
    for ours, theirs in zip(ours_stats, torch_stats):  # after one step: updated in train only
        np.testing.assert_allclose(backend.to_numpy(ours), theirs.numpy(), rtol=1e-12)


def test_relu(backend_name):
    x = RNG.uniform(0.1, 1.0, (3, 5)) * RNG.choice([-1.0, 1.0], (3, 5))
    compare(pair(F.relu_forward, F.relu_backward), torch.relu, [x])


def test_flatten(backend_name):
    compare(pair(F.flatten_forward, F.flatten_backward), lambda x: x.flatten(1),
            [randn(2, 3, 2, 2)])


def test_dropout(backend_name):
    # torch draws its own mask, so it is given ours: its dropout is x * keep / (1 - p) too.
    keep = RNG.random((4, 5)) > 0.3
    compare(pair(lambda x, k: F.dropout_forward(x, 0.3, k), F.dropout_backward),
            lambda x, k: x * k / (1 - 0.3), [randn(4, 5)], keep)


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_softmax_cross_entropy(backend_name, scale):
    def ours(dout, logits, labels):
        loss, dlogits = F.softmax_cross_entropy(logits, labels)
        return loss, (dout * dlogits,)
    compare(ours, TF.cross_entropy, [randn(6, 4) * scale], RNG.integers(0, 4, 6))
