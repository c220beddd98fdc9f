"""Optimizers against PyTorch step for step, entry-wise state reset, and learning-rate schedules."""
import math

import numpy as np
import pytest

from rigl_np import backend
from rigl_np.optim import SGD, Adam, learning_rate


def _run(opt_cls, kwargs, steps=5, seed=0):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(steps)]
    params = {"w": backend.asarray(p0.copy())}
    opt = opt_cls(params, **kwargs)
    for g in grads:
        opt.step({"w": backend.asarray(g)})
    return p0, grads, backend.to_numpy(params["w"]), opt


@pytest.mark.parametrize("kwargs", [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9, weight_decay=1e-2),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
])
def test_sgd_matches_torch(backend_name, kwargs):
    torch = pytest.importorskip("torch")
    p0, grads, ours, _ = _run(SGD, kwargs)
    w = torch.tensor(p0, requires_grad=True)
    opt = torch.optim.SGD([w], **kwargs)
    for g in grads:
        w.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(ours, w.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(lr=0.01), dict(lr=0.01, weight_decay=1e-2)])
def test_adam_matches_torch(backend_name, kwargs):
    torch = pytest.importorskip("torch")
    p0, grads, ours, _ = _run(Adam, kwargs)
    w = torch.tensor(p0, requires_grad=True)
    opt = torch.optim.Adam([w], **kwargs)
    for g in grads:
        w.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(ours, w.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("opt_cls,kwargs", [(SGD, dict(lr=0.1, momentum=0.9)), (Adam, dict(lr=0.1))])
def test_reset_zeroes_only_chosen_entries_of_every_slot(backend_name, opt_cls, kwargs):
    *_, opt = _run(opt_cls, kwargs)
    before = {k: backend.to_numpy(v).copy() for k, v in opt.state["w"].items()}
    where = np.zeros((4, 3), dtype=bool)
    where[1, 2] = where[3, 0] = True
    opt.reset("w", backend.asarray(where))
    assert before, "the optimizer should keep state"
    for slot, old in before.items():
        now = backend.to_numpy(opt.state["w"][slot])
        assert np.all(now[where] == 0)
        np.testing.assert_array_equal(now[~where], old[~where])


def test_mask_state_multiplies_every_slot(backend_name):
    *_, opt = _run(Adam, dict(lr=0.1))
    mask = np.random.default_rng(1).random((4, 3)) > 0.5
    before = {k: backend.to_numpy(v).copy() for k, v in opt.state["w"].items()}
    opt.mask_state("w", backend.asarray(mask))
    for slot, old in before.items():
        np.testing.assert_array_equal(backend.to_numpy(opt.state["w"][slot]), old * mask)


def test_plain_sgd_keeps_no_state():
    opt = SGD({"w": np.zeros(3)}, lr=0.1)
    assert opt.state["w"] == {}


def test_nesterov_without_momentum_is_refused():
    with pytest.raises(ValueError, match="Nesterov"):
        SGD({"w": np.zeros(3)}, lr=0.1, nesterov=True)


def test_cosine_schedule_matches_torch_per_step():
    torch = pytest.importorskip("torch")
    total = 20
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    for step in range(total):
        assert math.isclose(learning_rate(step, total, 0.05, "cosine"), opt.param_groups[0]["lr"],
                            rel_tol=1e-9, abs_tol=1e-12)
        opt.step()
        sched.step()


def test_warmup_then_cosine_and_step_schedule():
    assert learning_rate(0, 100, 1.0, "cosine", warmup_steps=10) == pytest.approx(0.1)
    assert learning_rate(9, 100, 1.0, "cosine", warmup_steps=10) == pytest.approx(1.0)
    assert learning_rate(10, 100, 1.0, "cosine", warmup_steps=10) == pytest.approx(1.0)
    assert learning_rate(100, 100, 1.0, "cosine", warmup_steps=10) == pytest.approx(0.0)
    assert learning_rate(25, 100, 1.0, "step", step_size=10, gamma=0.5) == pytest.approx(0.25)
    assert learning_rate(7, 100, 0.3, "constant") == 0.3
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        learning_rate(0, 10, 0.1, "linear")
