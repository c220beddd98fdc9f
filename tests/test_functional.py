"""rigl_np.functional: gradient checks, fast-versus-loop references, and the layer contracts.

Every test runs once per backend (numpy, the strict CuPy stand-in, and cupy when a GPU is
present). Gradient checks use tests/gradcheck.py in float64 at points away from kinks.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigl_np import backend
from rigl_np import functional as F
from rigl_np.functional import pool, reference
from gradcheck import check_gradients

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape)


def away_from_zero(*shape):
    """|x| in [0.1, 1): the ReLU kink at 0 is far beyond the finite-difference step."""
    return RNG.uniform(0.1, 1.0, shape) * RNG.choice([-1.0, 1.0], shape)


def distinct(*shape):
    """Values 0.1 apart in random order: no ties for max pooling to break."""
    return RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.1


def dev(a):
    return backend.asarray(a)


LABELS = np.array([0, 2, 1, 2])
KEEP = RNG.random((3, 4)) > 0.4
RUN_MEAN, RUN_VAR = randn(3), RNG.uniform(0.5, 2.0, 3)


def batch_norm(train):
    """batch_norm_forward over (x, gamma, beta) with fresh copies of fixed running statistics."""
    def forward(x, gamma, beta):
        running = dev(RUN_MEAN.copy()), dev(RUN_VAR.copy())
        return F.batch_norm_forward(x, gamma, beta, *running, train)
    return forward


def case(name, forward, inputs, backward):
    return pytest.param(forward, inputs, backward, id=name)


def conv_s2_p1(x, w, b):
    return F.conv2d_forward(x, w, b, stride=2, padding=1)


# One line per op: forward -> (out, cache), float64 inputs, backward(dout, cache) -> gradients.
GRADIENT_CASES = [
    case("linear", F.linear_forward, [randn(3, 4), randn(5, 4), randn(5)], F.linear_backward),
    case("linear-no-bias", lambda x, w: F.linear_forward(x, w, None), [randn(3, 4), randn(5, 4)],
         F.linear_backward),
    case("conv", F.conv2d_forward, [randn(2, 3, 5, 5), randn(4, 3, 3, 3), randn(4)],
         F.conv2d_backward),
    case("conv-s2-p1", conv_s2_p1, [randn(2, 2, 5, 6), randn(3, 2, 3, 2), randn(3)],
         F.conv2d_backward),
    case("maxpool-tiles", lambda x: F.max_pool2d_forward(x, 2), [distinct(2, 2, 4, 4)],
         F.max_pool2d_backward),
    case("maxpool-overlap", lambda x: F.max_pool2d_forward(x, 3, 2), [distinct(2, 2, 5, 6)],
         F.max_pool2d_backward),
    case("avgpool-tiles", lambda x: F.avg_pool2d_forward(x, 2), [randn(2, 2, 4, 4)],
         F.avg_pool2d_backward),
    case("avgpool-overlap", lambda x: F.avg_pool2d_forward(x, 3, 2), [randn(2, 2, 5, 6)],
         F.avg_pool2d_backward),
    case("batchnorm1d-train", batch_norm(True), [randn(4, 3), randn(3), randn(3)],
         F.batch_norm_backward),
    case("batchnorm2d-train", batch_norm(True), [randn(2, 3, 2, 3), randn(3), randn(3)],
         F.batch_norm_backward),
    case("batchnorm1d-eval", batch_norm(False), [randn(4, 3), randn(3), randn(3)],
         F.batch_norm_backward),
    case("batchnorm2d-eval", batch_norm(False), [randn(2, 3, 2, 3), randn(3), randn(3)],
         F.batch_norm_backward),
    case("relu", F.relu_forward, [away_from_zero(3, 4)], F.relu_backward),
    case("flatten", F.flatten_forward, [randn(2, 3, 2, 2)], F.flatten_backward),
    case("dropout", lambda x: F.dropout_forward(x, 0.4, dev(KEEP)), [randn(3, 4)],
         F.dropout_backward),
    case("softmax-xent", lambda z: F.softmax_cross_entropy(z, dev(LABELS)), [randn(4, 3)],
         lambda dout, dlogits: dout * dlogits),
]


@pytest.mark.parametrize("forward, inputs, backward", GRADIENT_CASES)
def test_gradients_match_finite_differences(backend_name, forward, inputs, backward):
    def gradients(dout, *xs):
        grads = backward(dout, forward(*xs)[1])
        return grads if isinstance(grads, tuple) else (grads,)
    check_gradients(lambda *xs: forward(*xs)[0], inputs, gradients)


CONV_CONFIGS = [  # x shape, w shape, stride, padding, with bias
    ((2, 3, 7, 7), (4, 3, 3, 3), 1, 0, True),
    ((2, 3, 7, 6), (4, 3, 3, 3), 2, 1, True),
    ((1, 2, 8, 8), (3, 2, 5, 5), 1, 2, False),
    ((2, 2, 6, 7), (3, 2, 2, 3), 3, 0, True),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, bias", CONV_CONFIGS)
def test_conv_matches_loop_reference(backend_name, x_shape, w_shape, stride, padding, bias):
    x, w = dev(randn(*x_shape)), dev(randn(*w_shape))
    b = dev(randn(w_shape[0])) if bias else None
    fast, _ = F.conv2d_forward(x, w, b, stride, padding)
    slow = reference.conv2d_forward_naive(x, w, b, stride, padding)
    np.testing.assert_allclose(backend.to_numpy(fast), backend.to_numpy(slow),
                               rtol=1e-10, atol=1e-12)


POOL_CONFIGS = [  # x shape, kernel, stride: tiles, overlapping, ragged, gaps between windows
    ((2, 3, 8, 8), 2, None), ((2, 3, 7, 7), 3, 2), ((2, 3, 7, 5), 2, None), ((2, 1, 9, 9), 2, 3),
]


@pytest.mark.parametrize("x_shape, kernel, stride", POOL_CONFIGS)
@pytest.mark.parametrize("fast, slow", [
    (F.max_pool2d_forward, reference.max_pool2d_forward_naive),
    (F.avg_pool2d_forward, reference.avg_pool2d_forward_naive),
], ids=["max", "avg"])
def test_pool_matches_loop_reference(backend_name, fast, slow, x_shape, kernel, stride):
    x = dev(randn(*x_shape))
    np.testing.assert_allclose(backend.to_numpy(fast(x, kernel, stride)[0]),
                               backend.to_numpy(slow(x, kernel, stride)), rtol=1e-12)


@pytest.mark.parametrize("x_shape, kh, kw, stride, padding", [
    ((2, 3, 5, 5), 3, 3, 1, 1), ((2, 2, 7, 6), 3, 2, 2, 1), ((1, 2, 9, 9), 2, 2, 3, 0),
])
def test_col2im_is_the_adjoint_of_im2col(backend_name, x_shape, kh, kw, stride, padding):
    x = randn(*x_shape)
    cols = backend.to_numpy(F.im2col(dev(x), kh, kw, stride, padding))
    c = randn(*cols.shape)
    back = backend.to_numpy(F.col2im(dev(c), x_shape, kh, kw, stride, padding))
    assert back.shape == x_shape
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4),
       st.integers(1, 3), st.integers(0, 2**31))
def test_pool_tiles_are_the_general_windows_relaid(n, c, rows, cols, kernel, seed):
    """The tiled fast path (one strided slice per offset) copies exactly what im2col / col2im,
    the general path, would: the same windows and the same gradient image, bit for bit."""
    rng = np.random.default_rng(seed)
    shape = (n, c, rows * kernel, cols * kernel)
    x = rng.standard_normal(shape).astype(np.float32)
    general = F.im2col(x.reshape(n * c, 1, *shape[2:]), kernel, kernel, kernel, 0)
    np.testing.assert_array_equal(pool._windows(x, kernel, kernel), general)
    g = rng.standard_normal(general.shape).astype(np.float32)
    back = F.col2im(g, (n * c, 1, *shape[2:]), kernel, kernel, kernel, 0).reshape(shape)
    np.testing.assert_array_equal(pool._unwindows(g, shape, kernel, kernel), back)


@pytest.mark.parametrize("x_shape", [(1, 1, 4, 4), (1, 1, 5, 5)], ids=["tiles", "ragged"])
def test_max_pool_gives_a_tie_to_the_first_maximum(backend_name, x_shape):
    x = dev(np.ones(x_shape, dtype=np.float32))
    out, cache = F.max_pool2d_forward(x, 2)
    dx = backend.to_numpy(F.max_pool2d_backward(dev(np.ones(out.shape, np.float32)), cache))
    expected = np.zeros(x_shape, np.float32)
    expected[:, :, 0:4:2, 0:4:2] = 1  # the top-left corner of every window
    np.testing.assert_array_equal(dx, expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(0, 5), st.integers(2, 3), st.integers(1, 3),
       st.integers(0, 2**31))
def test_max_pool_and_relu_commute(n, extra, kernel, stride, seed):
    """relu(max_pool(x)) equals max_pool(relu(x)) bit for bit, and the input gradients are equal
    (a zero may differ in sign), ties and windows with no positive value included (small
    integers make both common): the reason the CNNs of rigl_np.models may pool before the ReLU."""
    rng = np.random.default_rng(seed)
    side = kernel + extra                                # at least one window fits
    x = rng.integers(-2, 3, (n, 2, side, side)).astype(np.float32)
    pooled, pool_cache = F.max_pool2d_forward(x, kernel, stride)
    pool_first, relu_cache = F.relu_forward(pooled)
    r, relu_first_cache = F.relu_forward(x)
    relu_first, pool_after_cache = F.max_pool2d_forward(r, kernel, stride)
    np.testing.assert_array_equal(pool_first, relu_first)
    dout = rng.standard_normal(pool_first.shape).astype(np.float32)
    dx_pool_first = F.max_pool2d_backward(F.relu_backward(dout, relu_cache), pool_cache)
    dx_relu_first = F.relu_backward(F.max_pool2d_backward(dout, pool_after_cache),
                                    relu_first_cache)
    # == rather than assert_array_equal: -0.0 and 0.0 are the same gradient
    assert (dx_pool_first == dx_relu_first).all()


@pytest.mark.parametrize("x_shape", [(6, 3), (4, 3, 2, 2)], ids=["1d", "2d"])
def test_batch_norm_running_statistics(backend_name, x_shape):
    x = randn(*x_shape) * 2 + 1
    axes = (0,) if len(x_shape) == 2 else (0, 2, 3)
    gamma, beta = dev(randn(3)), dev(randn(3))
    running_mean, running_var = dev(RUN_MEAN.copy()), dev(RUN_VAR.copy())
    F.batch_norm_forward(dev(x), gamma, beta, running_mean, running_var, train=True, momentum=0.2)
    # Updated in place; the running variance takes the unbiased batch variance.
    np.testing.assert_allclose(backend.to_numpy(running_mean),
                               0.8 * RUN_MEAN + 0.2 * x.mean(axis=axes))
    np.testing.assert_allclose(backend.to_numpy(running_var),
                               0.8 * RUN_VAR + 0.2 * x.var(axis=axes, ddof=1))
    # Eval mode normalises with the running statistics and leaves them alone.
    before = backend.to_numpy(running_mean).copy(), backend.to_numpy(running_var).copy()
    out, _ = F.batch_norm_forward(dev(x), gamma, beta, running_mean, running_var, train=False)
    vec = (1, -1) if len(x_shape) == 2 else (1, -1, 1, 1)
    g, b = backend.to_numpy(gamma).reshape(vec), backend.to_numpy(beta).reshape(vec)
    expected = g * (x - before[0].reshape(vec)) / np.sqrt(before[1].reshape(vec) + 1e-5) + b
    np.testing.assert_allclose(backend.to_numpy(out), expected, rtol=1e-10)
    np.testing.assert_array_equal(backend.to_numpy(running_mean), before[0])
    np.testing.assert_array_equal(backend.to_numpy(running_var), before[1])


def test_batch_norm_train_refuses_one_value_per_channel(backend_name):
    ones = dev(np.ones(2))
    with pytest.raises(ValueError, match="more than one value"):
        F.batch_norm_forward(dev(np.ones((1, 2))), ones, ones, dev(np.zeros(2)), ones, train=True)


def test_softmax_cross_entropy_is_stable_for_huge_logits(backend_name):
    logits = (RNG.standard_normal((5, 4)) * 1e4).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 0])
    loss, dlogits = F.softmax_cross_entropy(dev(logits), dev(labels))
    z = logits.astype(np.float64)
    log_probs = z - z.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    assert loss.shape == () and loss.dtype == np.float32 and dlogits.dtype == np.float32
    assert np.isclose(backend.to_scalar(loss), -log_probs[np.arange(5), labels].mean(), rtol=1e-6)
    expected = (np.exp(log_probs) - np.eye(4)[labels]) / 5
    np.testing.assert_allclose(backend.to_numpy(dlogits), expected, atol=1e-7)


def test_loss_is_a_0d_array(backend_name):
    loss, _ = F.softmax_cross_entropy(dev(randn(3, 2)), dev(np.array([0, 1, 1])))
    assert isinstance(loss, type(dev(np.zeros(1)))) and loss.shape == ()


def _float32_ops():
    x4, x2 = randn(2, 3, 4, 4), randn(4, 3)
    return [
        (F.linear_forward, (x2, randn(5, 3), randn(5)), F.linear_backward),
        (F.conv2d_forward, (x4, randn(2, 3, 3, 3), randn(2)), F.conv2d_backward),
        (lambda x: F.max_pool2d_forward(x, 2), (x4,), F.max_pool2d_backward),
        (lambda x: F.avg_pool2d_forward(x, 3, 1), (x4,), F.avg_pool2d_backward),
        (lambda x, g, b: F.batch_norm_forward(x, g, b, dev(np.zeros(3, np.float32)),
                                              dev(np.ones(3, np.float32)), True),
         (x4, randn(3), randn(3)), F.batch_norm_backward),
        (F.relu_forward, (x2,), F.relu_backward),
        (F.flatten_forward, (x4,), F.flatten_backward),
        (lambda x: F.dropout_forward(x, 0.5, dev(RNG.random(x.shape) > 0.5)), (x2,),
         F.dropout_backward),
    ]


def test_ops_keep_float32(backend_name):
    for forward, inputs, backward in _float32_ops():
        out, cache = forward(*(dev(a.astype(np.float32)) for a in inputs))
        grads = backward(dev(np.ones(out.shape, np.float32)), cache)
        for a in (out, *(grads if isinstance(grads, tuple) else (grads,))):
            assert a.dtype == np.float32, forward


def test_first_layer_may_skip_the_input_gradient(backend_name):
    x, dout = dev(randn(3, 4)), dev(randn(3, 5))
    w = dev(randn(5, 4))
    _, cache = F.linear_forward(x, w, None)
    dx, dw, db = F.linear_backward(dout, cache, input_grad=False)
    assert dx is None and db is None
    full = F.linear_backward(dout, cache)
    np.testing.assert_allclose(backend.to_numpy(dw), backend.to_numpy(full[1]))
    _, cache = F.conv2d_forward(dev(randn(2, 1, 5, 5)), dev(randn(2, 1, 3, 3)), None, padding=1)
    dx, dw, db = F.conv2d_backward(dev(randn(2, 2, 5, 5)), cache, input_grad=False)
    assert dx is None and db is None and dw.shape == (2, 1, 3, 3)


def test_dropout_scales_kept_units(backend_name):
    x, keep = randn(3, 4), KEEP
    out, cache = F.dropout_forward(dev(x), 0.25, dev(keep))
    np.testing.assert_allclose(backend.to_numpy(out), np.where(keep, x / 0.75, 0.0))
    dx = F.dropout_backward(dev(np.ones((3, 4))), cache)
    np.testing.assert_allclose(backend.to_numpy(dx), np.where(keep, 1 / 0.75, 0.0))
    with pytest.raises(ValueError, match="probability"):
        F.dropout_forward(dev(x), 1.0, dev(keep))
