"""Whole models against PyTorch autograd (float64): logits, loss and every parameter gradient."""
import numpy as np
import pytest

from rigl_np import backend
from rigl_np.functional import softmax_cross_entropy
from rigl_np.models import build_model, sparse_fan_in_init
from rigl_np.sparsity import random_masks


def _float64(model):
    """Switch every parameter and buffer of ``model`` to float64 (the layers read their dicts)."""
    for _, layer in model.layers:
        for store in (layer.params, layer.buffers):
            for key, value in store.items():
                store[key] = value.astype("float64")
    return model


def _torch_model(name, torch):
    nn = torch.nn
    if name == "lenet300":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                             nn.ReLU(), nn.Linear(100, 10))
    if name == "lenet5":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                             nn.Linear(84, 10))
    layers, c = [], 3
    for out in (32, 64, 128):
        layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(),
                   nn.MaxPool2d(2)]
        c = out
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 16, 10))


@pytest.mark.parametrize("name,shape", [("lenet300", (1, 28, 28)), ("lenet5", (1, 28, 28)),
                                        ("cnn", (3, 32, 32))])
def test_model_matches_torch(backend_name, name, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ours = _float64(build_model(name, shape, 10, backend.host_rng(1)))
    theirs = _torch_model(name, torch).double()
    # 1. copy our parameters into the torch model, in order
    params = ours.params()
    torch_params = list(theirs.parameters())
    assert len(torch_params) == len(params)
    with torch.no_grad():
        for p, value in zip(torch_params, params.values()):
            p.copy_(torch.from_numpy(backend.to_numpy(value)))
    # 2. the same batch through both, in training mode
    x = rng.standard_normal((6, *shape))
    y = rng.integers(0, 10, 6)
    logits = ours.forward(backend.asarray(x), train=True)
    loss, dlogits = softmax_cross_entropy(logits, backend.asarray(y))
    ours.backward(dlogits)
    t_logits = theirs(torch.from_numpy(x))
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(y))
    t_loss.backward()
    # 3. logits, loss and every gradient agree
    np.testing.assert_allclose(backend.to_numpy(logits), t_logits.detach().numpy(), atol=1e-10)
    assert backend.to_scalar(loss) == pytest.approx(t_loss.item(), abs=1e-12)
    for (key, grad), p in zip(ours.grads().items(), torch_params):
        np.testing.assert_allclose(backend.to_numpy(grad), p.grad.numpy(), atol=1e-10,
                                   err_msg=key)


def test_sparsifiable_names_linear_and_conv_weights_only():
    model = build_model("cnn", (3, 32, 32), 10)
    assert model.sparsifiable() == ["conv1.weight", "conv2.weight", "conv3.weight", "fc.weight"]
    assert "bn1.weight" in model.params()


def test_he_init_statistics():
    model = build_model("lenet300", (1, 28, 28), 10, backend.host_rng(0))
    w = backend.to_numpy(model.params()["fc1.weight"])
    assert w.dtype == np.float32
    assert w.std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert np.all(backend.to_numpy(model.params()["fc1.bias"]) == 0)


@pytest.mark.parametrize("name", ["fc1.weight", "conv2.weight"])
def test_sparse_fan_in_init_scales_each_neuron_to_its_own_fan_in(name):
    model = build_model("lenet5" if name.startswith("conv") else "lenet300", (1, 28, 28), 10,
                        backend.host_rng(0))
    w = model.params()[name]
    mask = random_masks({name: w.shape}, {name: 0.05}, backend.host_rng(1))[name]
    mask.reshape(w.shape[0], -1)[0] = False                      # one neuron with no inputs
    w *= mask
    before = w.copy()
    sparse_fan_in_init(model.params(), {name: mask})
    rows, dense_rows, m = (a.reshape(w.shape[0], -1) for a in (w, before, mask))
    k = m.sum(axis=1)                                            # (out,) inputs per neuron
    assert np.all(rows[0] == 0) and np.all(rows[~m] == 0)        # zeros stay zero
    ratio = rows[1:][m[1:]] / dense_rows[1:][m[1:]]              # the same draws, rescaled
    expected = np.repeat(np.sqrt(m.shape[1] / k[1:]), k[1:])
    np.testing.assert_allclose(ratio, expected, rtol=1e-6)
    active = rows[m]                                             # overall std: sqrt(2 / k)
    assert active.std() == pytest.approx(np.sqrt(2 / k[1:].mean()), rel=0.1)


def test_same_seed_same_model_and_width_scales_hidden_layers():
    a = build_model("lenet5", (1, 28, 28), 10, backend.host_rng(3))
    b = build_model("lenet5", (1, 28, 28), 10, backend.host_rng(3))
    for key in a.params():
        np.testing.assert_array_equal(backend.to_numpy(a.params()[key]),
                                      backend.to_numpy(b.params()[key]))
    narrow = build_model("lenet300", (1, 28, 28), 10, width=0.5)
    assert narrow.params()["fc1.weight"].shape == (150, 784)
    assert narrow.params()["fc3.weight"].shape == (10, 50)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet", (1, 28, 28), 10)
