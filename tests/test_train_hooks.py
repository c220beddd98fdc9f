"""The trainer's hook for a method's own forward weights (``Method.forward_weights``): a step
computes its forward and backward passes with them, the optimizer updates the stored weights, and
the stored arrays are back in the model afterwards; the default (None) changes nothing."""
import numpy as np

from rigl_np import backend
from rigl_np.functional import softmax_cross_entropy
from rigl_np.methods import Static
from rigl_np.models import build_model
from rigl_np.optim import SGD
from rigl_np.train import train_step

SHAPE = (1, 28, 28)


class DoubledFc1(Static):
    """Computes with 2 W for fc1 (a stand-in for Top-KAST's forward set or SR-STE's mask)."""

    def forward_weights(self, step):
        return {"fc1.weight": 2 * self.params["fc1.weight"]}


def _setup(cls):
    model = build_model("lenet300", SHAPE, 10, backend.host_rng(0), width=0.1)
    densities = {n: 0.5 for n in model.sparsifiable()}
    method = cls(densities, backend.host_rng(1))
    opt = SGD(model.params(), 0.1, momentum=0.0)
    method.attach(model, opt)
    rng = np.random.default_rng(2)
    x = backend.asarray(rng.random((8, *SHAPE), dtype=np.float32))
    y = backend.asarray(rng.integers(0, 10, 8))
    return model, method, opt, x, y


def test_a_step_computes_with_the_methods_forward_weights():
    model, method, opt, x, y = _setup(DoubledFc1)
    stored = model.params()["fc1.weight"]
    before = backend.to_numpy(stored).copy()
    # what the step should compute: the loss and fc1's gradient at 2 W
    model.swap({"fc1.weight": 2 * stored})
    loss_2w, dlogits = softmax_cross_entropy(model.forward(x), y)
    model.backward(dlogits)
    grad_2w = backend.to_numpy(model.grads()["fc1.weight"] * method.masks["fc1.weight"]).copy()
    model.swap({"fc1.weight": stored})
    loss, _ = train_step(model, opt, x, y, 1, method)
    assert backend.to_scalar(loss) == backend.to_scalar(loss_2w)
    assert model.params()["fc1.weight"] is stored                  # the stored array is back
    np.testing.assert_allclose(backend.to_numpy(stored), before - 0.1 * grad_2w, rtol=1e-6,
                               atol=1e-7)


def test_the_default_computes_with_the_stored_weights():
    model, method, opt, x, y = _setup(Static)
    assert method.forward_weights(1) is None
    expected, _ = softmax_cross_entropy(model.forward(x), y)
    loss, _ = train_step(model, opt, x, y, 1, method)
    assert backend.to_scalar(loss) == backend.to_scalar(expected)
