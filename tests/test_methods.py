"""Sparse methods inside the trainer, in the style of google-research's sparse_optimizers_test.py.

A small LeNet-300-100 (width 0.1) on random data, stepped by ``rigl_np.train.train_step`` exactly
as the real loop does; every test checks one invariant of docs/semantics.md "The RigL update" /
"Schedule" / "Baselines", or what the method registry promises.
"""
import numpy as np
import pytest

from rigl_np import backend
from rigl_np.config import SparseConfig
from rigl_np.methods import (FACTS, NAMES, SET, SNFS, Dense, Pruning, RigL, SmallDense, SRigL,
                             Static, get, make_method, matched_width, parameter_count)
from rigl_np.models import build_model
from rigl_np.optim import SGD
from rigl_np.sparsity import layer_densities, nnz_for
from rigl_np.train import train_step

SHAPE = (1, 28, 28)


def _setup(method_cls, seed=0, density=0.3, dense_layers=(), distribution="erk", **kw):
    model = build_model("lenet300", SHAPE, 10, backend.host_rng(seed), width=0.1)
    shapes = {n: model.params()[n].shape for n in model.sparsifiable()}
    densities = layer_densities(shapes, density, distribution, dense_layers=dense_layers)
    method = method_cls.build(densities, backend.host_rng(seed + 1), **kw)
    opt = SGD(model.params(), 0.05, momentum=0.9, weight_decay=1e-4)
    method.attach(model, opt)
    rng = np.random.default_rng(seed + 2)
    batches = [(backend.asarray(rng.random((16, *SHAPE), dtype=np.float32)),
                backend.asarray(rng.integers(0, 10, 16))) for _ in range(4)]
    return model, method, opt, batches


def _host(d):
    return {k: backend.to_numpy(v).copy() for k, v in d.items()}


DYNAMIC = dict(delta_t=3, alpha=0.3, t_end=100)


def test_masks_change_only_on_update_steps_and_nnz_is_constant(backend_name):
    model, method, opt, batches = _setup(RigL, **DYNAMIC)
    nnz = {n: int(m.sum()) for n, m in _host(method.masks).items()}
    for step in range(1, 10):
        before = _host(method.masks)
        train_step(model, opt, *batches[step % 4], step, method)
        after = _host(method.masks)
        changed = any(not np.array_equal(before[n], after[n]) for n in before)
        assert changed == (step % 3 == 0), f"step {step}"
        assert {n: int(m.sum()) for n, m in after.items()} == nnz


def test_weights_and_momentum_are_zero_off_the_mask_after_every_step(backend_name):
    for cls in (RigL, SET, SNFS, Static):
        model, method, opt, batches = _setup(cls, **({} if cls is Static else DYNAMIC))
        for step in range(1, 8):
            train_step(model, opt, *batches[step % 4], step, method)
            for name, mask in _host(method.masks).items():
                assert np.all(backend.to_numpy(model.params()[name])[~mask] == 0), cls.name
                assert np.all(backend.to_numpy(opt.state[name]["momentum"])[~mask] == 0), cls.name


def test_rigl_update_batch_takes_no_optimizer_step_and_new_connections_start_at_zero(backend_name):
    model, method, opt, batches = _setup(RigL, **DYNAMIC)
    for step in (1, 2):
        train_step(model, opt, *batches[step], step, method)
    w0, m0, s0 = _host(model.params()), _host(method.masks), _host({n: opt.state[n]["momentum"]
                                                                    for n in method.masks})
    bias0 = _host({n: p for n, p in model.params().items() if n.endswith("bias")})
    train_step(model, opt, *batches[3], 3, method)                     # step 3: an update
    w1, m1 = _host(model.params()), _host(method.masks)
    record = method.records.updates[-1]
    for name in m0:
        kept, new = m0[name] & m1[name], m1[name] & ~m0[name]
        assert new.sum() > 0
        np.testing.assert_array_equal(w1[name][kept], w0[name][kept])  # no optimizer step
        assert np.all(w1[name][new] == 0)                              # zero init
        assert np.all(backend.to_numpy(opt.state[name]["momentum"])[new] == 0)
        np.testing.assert_array_equal(backend.to_numpy(opt.state[name]["momentum"])[kept],
                                      s0[name][kept])                  # kept state untouched
        layer = record["layers"][name]
        assert layer["grown"] - layer["regrown_same"] == new.sum()
    for name, b in bias0.items():
        np.testing.assert_array_equal(w1[name], b)                     # biases did not move


def test_zero_drop_fraction_changes_nothing(backend_name):
    model, method, opt, batches = _setup(RigL, delta_t=2, alpha=0.0, t_end=100)
    before = _host(method.masks)
    for step in range(1, 7):
        train_step(model, opt, *batches[step % 4], step, method)
    for name, mask in _host(method.masks).items():
        np.testing.assert_array_equal(mask, before[name])
    assert all(v["dropped"] == 0 for r in method.records.updates for v in r["layers"].values())


def test_dense_layers_are_never_masked():
    model, method, opt, batches = _setup(RigL, dense_layers=("fc3.weight",), **DYNAMIC)
    dense = [n for n, d in method.densities.items() if d == 1]
    assert "fc3.weight" in dense
    for step in range(1, 7):
        train_step(model, opt, *batches[step % 4], step, method)
    for name in dense:
        assert name not in method.masks
        assert np.all(backend.to_numpy(model.params()[name]) != 0)


def test_no_updates_from_t_end_on():
    model, method, opt, batches = _setup(RigL, delta_t=2, alpha=0.3, t_end=5)
    for step in range(1, 12):
        train_step(model, opt, *batches[step % 4], step, method)
    assert [r["step"] for r in method.records.updates] == [2, 4]


def test_growth_gradient_is_the_mean_of_the_last_n_dense_gradients():
    model, method, opt, batches = _setup(RigL, grad_accumulation=2, delta_t=4, alpha=0.3, t_end=100)
    dense_grads, used = {}, {}
    before_step, update_masks = method.before_step, method.update_masks

    def spy_before(step, grads):                 # the dense gradients the trainer hands over
        dense_grads[step] = {n: backend.to_numpy(grads[n]).copy() for n in method.masks}
        return before_step(step, grads)

    def spy_update(step):                        # the growth signal the update receives
        used.update({n: backend.to_numpy(g).copy() for n, g in method.signal.value.items()})
        return update_masks(step)
    method.before_step, method.update_masks = spy_before, spy_update
    for step in range(1, 5):
        train_step(model, opt, *batches[step % 4], step, method)
    assert set(used) == set(method.masks)
    for name in used:
        expected = (dense_grads[3][name] + dense_grads[4][name]) / 2
        np.testing.assert_allclose(used[name], expected, rtol=1e-6, atol=1e-9)
        assert np.any(dense_grads[4][name][~backend.to_numpy(method.masks[name])] != 0)


@pytest.mark.parametrize("cls", [SET, SNFS])
def test_set_and_snfs_step_the_optimizer_then_update(cls):
    model, method, opt, batches = _setup(cls, **DYNAMIC)
    for step in (1, 2):
        train_step(model, opt, *batches[step], step, method)
    w0, m0 = _host(model.params()), _host(method.masks)
    train_step(model, opt, *batches[3], 3, method)
    w1, m1 = _host(model.params()), _host(method.masks)
    for name in m0:
        kept = m0[name] & m1[name]
        assert not np.array_equal(w1[name][kept], w0[name][kept])      # the optimizer stepped
        assert not np.array_equal(m0[name], m1[name])                  # and the mask changed


def test_pruning_follows_the_cubic_schedule_to_the_target():
    model, method, opt, batches = _setup(Pruning, density=0.2, delta_t=2, t0=0, t1=10)
    assert all(m.all() for m in _host(method.masks).values())          # dense start
    for step in range(1, 15):
        train_step(model, opt, *batches[step % 4], step, method)
    for name, mask in _host(method.masks).items():
        assert mask.sum() == nnz_for(mask.size, method.densities[name])
    fc1 = [r["layers"]["fc1.weight"]["nnz"] for r in method.records.updates]
    assert fc1 == sorted(fc1, reverse=True) and len(set(fc1)) > 2    # shrinks step by step


@pytest.mark.parametrize("delta_t,t1", [(4, 10), (3, 7), (100, 35)])
def test_pruning_reaches_its_exact_target_whatever_delta_t_and_t1(delta_t, t1):
    model, method, opt, batches = _setup(Pruning, density=0.2, delta_t=delta_t, t0=0, t1=t1)
    for step in range(1, t1 + 1):
        train_step(model, opt, *batches[step % 4], step, method)
    assert method.records.updates[-1]["step"] == t1
    for name, mask in _host(method.masks).items():
        assert mask.sum() == nnz_for(mask.size, method.densities[name]), (name, delta_t, t1)


def test_small_dense_matches_the_sparse_parameter_count():
    shapes = {n: s.shape for n, s in build_model("lenet300", SHAPE, 10).params().items()
              if n.endswith("weight")}
    densities = layer_densities(shapes, 0.1, "erk")
    width = matched_width("lenet300", SHAPE, 10, densities)
    budget = parameter_count("lenet300", SHAPE, 10, 1.0, densities)
    assert parameter_count("lenet300", SHAPE, 10, width) <= budget
    assert parameter_count("lenet300", SHAPE, 10, width + 0.01) > budget


def test_make_method_builds_each_method_and_real_densities():
    shapes = {"fc1.weight": (30, 784), "fc2.weight": (10, 30), "fc3.weight": (10, 10)}
    for name, cls in [("static", Static), ("rigl", RigL), ("set", SET), ("snfs", SNFS),
                      ("pruning", Pruning)]:
        assert isinstance(make_method(SparseConfig(method=name), shapes, 1000, backend.host_rng(0)), cls)
    dense = make_method(SparseConfig(method="dense"), shapes, 1000, backend.host_rng(0))
    assert isinstance(dense, Dense) and set(dense.densities.values()) == {1.0}
    uniform = make_method(SparseConfig(method="static", distribution="uniform-first-dense"),
                          shapes, 1000, backend.host_rng(0))
    assert uniform.densities["fc1.weight"] == 1.0


def test_srigl_keeps_a_constant_fan_in_and_never_ablates_the_output_layer(backend_name):
    model, method, opt, batches = _setup(SRigL, density=0.3, distribution="uniform", delta_t=2,
                                         alpha=0.5, t_end=100)
    for step in range(1, 9):
        train_step(model, opt, *batches[step % 4], step, method)
        for name, mask in _host(method.masks).items():
            rows = mask.reshape(mask.shape[0], -1).sum(axis=1)
            assert len(set(rows[rows > 0])) == 1, (step, name)          # one fan-in per layer
            assert mask.sum() <= method.budgets[name]
            w = backend.to_numpy(model.params()[name])
            assert np.all(w[~mask] == 0)
    output = model.sparsifiable()[-1]
    assert all(r["layers"][output]["active_neurons"] == 10 for r in method.records.updates)
    assert len(method.records.updates) == 4


def test_every_method_is_registered_and_declares_its_facts():
    assert set(NAMES) == {"dense", "small-dense", "static", "set", "snfs", "rigl", "srigl",
                          "pruning", "granet", "gmp-star", "topkast"}
    for name in NAMES:
        kind = get(name).kind()
        assert kind["name"] == name and set(kind) == {"name", *FACTS}
        assert kind["update_phase"] in (None, "before_step", "after_step")
        assert kind["masks_change"] == (kind["update_phase"] is not None)
        assert not kind["drop_schedule"] or kind["masks_change"]
    assert [n for n in NAMES if get(n).dense_baseline] == ["dense"]
    assert {n for n in NAMES if not get(n).has_masks} == {"dense", "small-dense"}
    phase = {n: get(n).kind()["update_phase"] for n in NAMES}
    assert phase["rigl"] == phase["srigl"] == "before_step"
    assert phase["set"] == phase["snfs"] == phase["pruning"] == "after_step"
    with pytest.raises(ValueError, match="unknown method 'lottery'; choose one of dense"):
        get("lottery")


def test_methods_are_assembled_from_parts_not_a_class_ladder():
    """Every method derives from ``Method`` directly and declares its parts: GraNet-like methods
    take pruning's schedule and RigL's signal without picking a parent."""
    from rigl_np.methods import Method

    for name in NAMES:
        assert get(name).__bases__ == (Method,), name
    assert get("rigl").Signal is get("srigl").Signal                 # parts are shared
    assert type(get("pruning").schedule) is not type(get("rigl").schedule)


def test_a_method_without_masks_leaves_training_dense(backend_name):
    for cls in (Dense, SmallDense):
        model = build_model("lenet300", SHAPE, 10, backend.host_rng(0), width=0.1)
        method = cls({n: 0.1 for n in model.sparsifiable()}, backend.host_rng(1))
        opt = SGD(model.params(), 0.05, momentum=0.9)
        method.attach(model, opt)
        assert method.masks == {} and method.records is None and method.summary() == {}
        x = backend.asarray(np.random.default_rng(0).random((8, *SHAPE), dtype=np.float32))
        train_step(model, opt, x, backend.asarray(np.arange(8) % 10), 1, method)
        assert all(np.all(backend.to_numpy(p) != 0) for n, p in model.params().items()
                   if n.endswith("weight"))
