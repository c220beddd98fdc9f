"""SRigL: constant fan-in masks, the update (against a loop reference written here, and its
invariants over many updates), optimizer-state handling, and the condensed layers (round trip,
forward, gradient checks, and condensed training that matches masked dense training)."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck import check_gradients
from rigl_np import backend
from rigl_np.functional import conv2d_forward
from rigl_np.optim import SGD
from rigl_np.rigl import apply_update
from rigl_np.srigl import condensed
from rigl_np.srigl import (CondensedConv2d, CondensedLinear, ablated_neurons,
                           constant_fan_in_mask, row_top_k, srigl_budget, srigl_update)

host, dev = backend.to_numpy, backend.asarray


def _layer(shape=(12, 20), density=0.3, seed=0, dtype=np.float64):
    """A constant fan-in mask, a masked weight and a dense gradient, on the backend."""
    rng = backend.host_rng(seed)
    mask = constant_fan_in_mask(shape, density, rng)
    weight = dev(rng.standard_normal(shape).astype(dtype)) * mask
    return weight, mask, dev(rng.standard_normal(shape).astype(dtype))


def _top(score, candidates, k):
    """Full-sort top-k over flat positions: score descending, then flat index ascending."""
    idx = np.flatnonzero(candidates)
    chosen = np.zeros(score.size, bool)
    chosen[idx[np.lexsort((idx, -score.ravel()[idx]))[:k]]] = True
    return chosen.reshape(score.shape)


def _reference(w, m, g, f, budget, gamma=0.3, ablate=True):
    """docs/semantics.md "SRigL" steps 1-5 with sorts and per-row loops: (mask, ablated, k')."""
    shape, n_out = m.shape, m.shape[0]
    w, m, g = (np.abs(a.reshape(n_out, -1)) if a.dtype != bool else a.reshape(n_out, -1)
               for a in (w, m, g))
    k_drop = math.floor(f * m.sum())
    n_keep = int(m.sum()) - k_drop
    if k_drop == 0 or budget >= m.size:
        return m.reshape(shape), ~m.any(axis=1), int(m.sum(axis=1).max())
    ablated = np.zeros(n_out, bool)
    if ablate:
        counts = (_top(w, m, n_keep) | _top(g, np.ones_like(m), k_drop)).sum(axis=1)
        t = max(1, math.floor(Fraction(str(gamma)) * (budget // n_out)))
        rank = min(budget // m.shape[1] + 1, n_out)
        ablated = counts < min(t, int(np.sort(counts)[::-1][rank - 1]))
    k_new = min(budget // int((~ablated).sum()), m.shape[1])
    cand = m & ~ablated[:, None]
    kept = _top(w, cand, min(n_keep, int(cand.sum())))
    for r in range(n_out):
        kept[r] = _top(w[r], kept[r], k_new)                       # trim to the k' largest
        if not ablated[r]:
            kept[r] |= _top(g[r], ~kept[r], k_new - int(kept[r].sum()))  # grow up to k'
    return kept.reshape(shape), ablated, k_new


# -- masks -------------------------------------------------------------------------------------

def test_budget_is_exact_integer_arithmetic():
    assert srigl_budget((10, 10), 0.29) == 29                      # floats: 0.29 * 100 = 28.99...
    assert srigl_budget((4096, 4096), 0.1) == 1677721
    assert srigl_budget((3, 5), 0.5) == 7                          # floor, not N - floor((1-d) N)


@pytest.mark.parametrize("shape,density", [((10, 30), 0.1), ((7, 13), 0.5), ((6, 3, 3, 3), 0.2),
                                           ((4, 9), 1.0)])
def test_constant_fan_in_mask_has_exact_counts(backend_name, shape, density):
    mask = host(constant_fan_in_mask(shape, density, backend.host_rng(1)))
    k = srigl_budget(shape, density) // shape[0]
    assert mask.shape == shape and mask.dtype == bool
    assert (mask.reshape(shape[0], -1).sum(axis=1) == k).all()
    assert np.array_equal(mask, host(constant_fan_in_mask(shape, density, backend.host_rng(1))))


def test_too_sparse_for_one_input_per_neuron_is_a_clear_error():
    with pytest.raises(ValueError, match="at least one input per neuron"):
        constant_fan_in_mask((100, 5), 0.1, backend.host_rng(0))


def test_row_top_k_breaks_ties_by_lower_column(backend_name):
    score = dev(np.array([[1.0, 2, 2, 2], [0, 0, 0, 0], [5, 1, 5, 1]]))
    chosen = row_top_k(score, dev(np.ones((3, 4), bool)), dev(np.array([2, 3, 1])))
    assert host(chosen).tolist() == [[0, 1, 1, 0], [1, 1, 1, 0], [1, 0, 0, 0]]


def test_ablation_threshold_is_lowered_to_keep_min_neurons(backend_name):
    counts = dev(np.array([5, 2, 1, 0]))
    assert host(ablated_neurons(counts, 10, 0.3, 1)).tolist() == [0, 1, 1, 1]   # t = 3
    assert host(ablated_neurons(counts, 10, 0.3, 2)).tolist() == [0, 0, 1, 1]   # t lowered to 2
    assert not host(ablated_neurons(counts, 10, 0.3, 4)).any()                  # t lowered to 0


# -- the update --------------------------------------------------------------------------------

def test_update_matches_reference_and_invariants_hold(backend_name):
    w, m, g = _layer()
    quiet = dev(np.where(np.arange(12) % 4 == 0, 0.01, 1.0)[:, None])  # rows 0, 4, 8 fade
    w, g = w * quiet, g * quiet
    budget = srigl_budget(m.shape, 0.3)
    r = srigl_update(w, m, g, 0.5, budget, gamma_sal=0.6)
    mask, ablated, k_new = _reference(*map(host, (w, m, g)), 0.5, budget, gamma=0.6)
    assert np.array_equal(host(r.mask), mask) and np.array_equal(host(r.ablated), ablated)
    assert r.fan_in == k_new and ablated.any()
    assert np.array_equal(host(r.new), host(r.mask) & ~host(m))
    assert np.array_equal(host(r.regrown_same), host(r.dropped) & host(r.grown))


@settings(max_examples=60, deadline=None)
@given(n_out=st.integers(1, 9), rest=st.sampled_from([(7,), (16,), (2, 3, 3), (1, 2, 2)]),
       density=st.floats(0.05, 1.0), f=st.floats(0.0, 1.0), gamma=st.floats(0.0, 1.0),
       ablate=st.booleans(), ties=st.booleans(), seed=st.integers(0, 2**16))
def test_update_equals_loop_reference(n_out, rest, density, f, gamma, ablate, ties, seed):
    shape = (n_out,) + rest
    if srigl_budget(shape, density) < n_out:
        return                                                     # no constant fan-in mask
    rng = np.random.default_rng(seed)
    m = host(constant_fan_in_mask(shape, density, rng))
    draw = (lambda: rng.integers(-2, 3, shape).astype(float)) if ties else \
        (lambda: rng.standard_normal(shape))                       # integers: many ties
    w, g = draw() * m, draw()
    budget = srigl_budget(shape, density)
    r = srigl_update(w, m, g, f, budget, gamma_sal=gamma, ablate=ablate)
    mask, ablated, k_new = _reference(w, m, g, f, budget, gamma, ablate)
    assert np.array_equal(r.mask, mask) and np.array_equal(r.ablated, ablated)
    assert r.fan_in == k_new


@settings(max_examples=25, deadline=None)
@given(n_out=st.integers(2, 10), fan=st.integers(4, 24), density=st.floats(0.1, 0.9),
       alpha=st.floats(0.05, 0.9), seed=st.integers(0, 2**16))
def test_invariants_hold_over_many_updates(n_out, fan, density, alpha, seed):
    shape = (n_out, fan)
    budget = srigl_budget(shape, density)
    if budget // n_out == 0:
        return
    rng = np.random.default_rng(seed)
    for output_layer in (False, True):
        m = constant_fan_in_mask(shape, density, rng)
        w = rng.standard_normal(shape) * m
        for _ in range(6):
            g = rng.standard_normal(shape) * rng.random((n_out, 1)) ** 4  # some rows quiet
            r = srigl_update(w, m, g, alpha, budget, ablate=not output_layer)
            rows = r.mask.sum(axis=1)
            assert (rows[~r.ablated] == r.fan_in).all() and (rows[r.ablated] == 0).all()
            assert rows.sum() <= budget
            assert not (output_layer and r.ablated.any())
            assert (~r.ablated).sum() >= min(budget // fan + 1, n_out) or not r.n_drop
            w = np.where(r.new, rng.standard_normal(shape), w) * r.mask


def test_ablated_neuron_can_come_back_and_output_layer_is_never_ablated(backend_name):
    w, m, g = map(host, _layer(density=0.4, seed=3))
    w[5], g[5] = w[5] * 1e-6, g[5] * 1e-6                          # neuron 5: tiny weights and
    budget = srigl_budget(m.shape, 0.4)                            # gradients -> ablated
    first = srigl_update(dev(w), dev(m), dev(g), 0.3, budget)
    assert host(first.ablated)[5] and not host(first.mask)[5].any()
    output = srigl_update(dev(w), dev(m), dev(g), 0.3, budget, ablate=False)
    assert not host(output.ablated).any() and (host(output.mask).sum(axis=1) == 8).all()
    g[5] = 1e3                                                     # now its gradients dominate
    second = srigl_update(dev(w * host(first.mask)), first.mask, dev(g), 0.3, budget)
    assert not host(second.ablated)[5] and host(second.mask)[5].sum() == second.fan_in


@pytest.mark.parametrize("f,density", [(0.0, 0.3), (0.01, 0.3), (0.5, 1.0)])
def test_no_change_when_nothing_is_dropped_or_layer_is_dense(backend_name, f, density):
    w, m, g = _layer(density=density)
    r = srigl_update(w, m, g, f, srigl_budget(m.shape, density))
    assert np.array_equal(host(r.mask), host(m)) and not host(r.new).any() and r.n_drop == 0


def test_new_connections_start_at_zero_with_zero_optimizer_state(backend_name):
    w, m, g = _layer(shape=(10, 16), density=0.4, seed=5)
    params, masks = {"w": w}, {"w": m}
    opt = SGD(params, lr=0.1, momentum=0.9)
    for _ in range(3):                                             # fill the momentum buffer
        opt.step({"w": g * m})
        params["w"] *= m
    before_w, before_m = host(params["w"]).copy(), host(opt.state["w"]["momentum"]).copy()
    r = srigl_update(params["w"], m, g, 0.5, srigl_budget(m.shape, 0.4), gamma_sal=0.7)
    apply_update(params, masks, "w", r, opt)
    new, same, mask = host(r.new), host(r.regrown_same), host(r.mask)
    weight, momentum = host(params["w"]), host(opt.state["w"]["momentum"])
    assert new.any() and (weight[new] == 0).all() and (momentum[new] == 0).all()
    assert (weight[~mask] == 0).all() and (momentum[~mask] == 0).all()   # dropped and ablated
    kept = mask & ~new                                             # kept and regrown-same
    assert np.array_equal(weight[kept], before_w[kept])
    assert np.array_equal(momentum[kept], before_m[kept])
    assert same.sum() == (host(r.grown) & ~new).sum()


# -- condensed layers --------------------------------------------------------------------------

def _ablated_layer(shape, density, seed):
    """A masked weight with constant fan-in and one ablated neuron, and a bias (host, float64)."""
    w, m, _ = map(host, _layer(shape, density, seed))
    m, w = m.copy(), w.copy()
    m[1], w[1] = False, 0.0
    return w, m, np.random.default_rng(seed).standard_normal(shape[0])


def _condensed(kind, w, m, b, **kw):
    if kind == "linear":
        return CondensedLinear.from_dense(w, m, b, **kw)
    return CondensedConv2d.from_dense(w, m, b, stride=2, padding=1, **kw)


@pytest.mark.parametrize("kind,shape,x_shape", [("linear", (9, 40), (5, 40)),
                                                ("linear", (9, 40), (1, 40)),
                                                ("conv", (5, 3, 3, 3), (2, 3, 7, 6))])
def test_condensed_round_trip_is_exact_and_forward_equals_masked_dense(backend_name, kind, shape,
                                                                       x_shape, monkeypatch):
    monkeypatch.setattr(condensed, "BLAS_ONE_THREAD", 1)           # one batch column a product
    w, m, b = _ablated_layer(shape, 0.3, 1)
    w32 = w.astype(np.float32)
    layer = _condensed(kind, dev(w32), dev(m), dev(b.astype(np.float32)))
    assert layer.nbytes < w32.nbytes / 2
    w2, m2, b2 = map(host, layer.to_dense())
    assert np.array_equal(w2, w32) and np.array_equal(m2, m)
    assert np.array_equal(b2, b.astype(np.float32))
    x = np.random.default_rng(2).standard_normal(x_shape)
    for block_bytes in (None, 1):                                  # one block; one neuron a block
        out = host(_condensed(kind, dev(w), dev(m), dev(b), block_bytes=block_bytes)
                   .forward(dev(x)))
        expected = (x @ w.T + b if kind == "linear" else
                    host(conv2d_forward(dev(x), dev(w), dev(b), stride=2, padding=1)[0]))
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
        assert np.allclose(out[:, 1], b[1])                        # ablated: just its bias


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("rows_per_block", [1, 3, 7, None])     # 7 neurons: 3+3+1 is ragged
def test_condensed_forward_blocks_reuse_one_scratch_correctly(backend_name, batch, rows_per_block):
    rng = np.random.default_rng(batch)
    n_in, n_active, k = 12, 7, 5
    xt = rng.standard_normal((n_in, batch))                        # (in, B)
    values = rng.standard_normal((n_active, k))                    # (n_active, k)
    indices = np.stack([rng.choice(n_in, k, replace=False) for _ in range(n_active)])
    indices = indices.astype(np.int16)
    expected = np.einsum("ij,ijb->ib", values, xt[indices])       # (n_active, B)
    block_bytes = None if rows_per_block is None else rows_per_block * k * batch * xt.itemsize
    z = condensed.condensed_forward(dev(xt), dev(values), dev(indices), block_bytes)
    np.testing.assert_allclose(host(z), expected, rtol=1e-12, atol=1e-12)


def test_index_dtype_is_the_smallest_that_holds_the_fan_in():
    small = CondensedLinear.from_dense(np.ones((2, 300)), np.ones((2, 300), bool))
    wide = CondensedLinear.from_dense(np.ones((2, 40000)), np.ones((2, 40000), bool))
    assert small.indices.dtype == np.int16 and wide.indices.dtype == np.int32


@pytest.mark.parametrize("kind,shape,x_shape", [("linear", (6, 11), (4, 11)),
                                                ("conv", (4, 2, 3, 3), (2, 2, 5, 5))])
def test_condensed_gradients(backend_name, kind, shape, x_shape, monkeypatch):
    monkeypatch.setattr(condensed, "SCATTER_BYTES", 700)           # dx in chunks of 2 columns
    w, m, b = _ablated_layer(shape, 0.4, 5)
    ref = _condensed(kind, w, m, b)                                # host indices and neuron ids

    def make(v, bias):  # the layer with values v and bias from the check's (perturbed) inputs
        lin = ref if kind == "linear" else ref.linear
        core = CondensedLinear(v, dev(lin.indices), dev(lin.neurons), bias, shape[0],
                               lin.in_features, block_bytes=64)
        return core if kind == "linear" else CondensedConv2d(core, shape, stride=2, padding=1)

    values = (ref if kind == "linear" else ref.linear).values
    x = np.random.default_rng(6).standard_normal(x_shape)
    def backward(dout, x, v, b):        # the layer convention: dx returned, the rest in grads
        layer = make(v, b)
        layer.forward(x)
        dx = layer.backward(dout)
        return dx, layer.grads["values"], layer.grads["bias"]

    check_gradients(lambda x, v, b: make(v, b).forward(x), [x, values, b], backward)


def _dense_grads(p, x, y):
    """The masked-dense reference MLP in plain matmuls; loss = mean of ||out - y||^2 per example,
    out = relu(x W1.T + b1) W2.T + b2. p holds masked weights; returns the dense gradients with
    respect to W * M (all positions).
    """
    pre = x @ p["w1"].T + p["b1"]
    h = np.maximum(pre, 0)
    dout = 2 * (h @ p["w2"].T + p["b2"] - y) / len(x)
    dpre = (dout @ p["w2"]) * (pre > 0)
    return {"w1": dpre.T @ x, "b1": dpre.sum(0), "w2": dout.T @ h, "b2": dout.sum(0)}


def _condensed_sgd_step(l1, l2, x, y, lr):
    """One SGD step of the same MLP in condensed form (values and biases only)."""
    pre = l1.forward(x)
    out = l2.forward(np.maximum(pre, 0))
    l1.backward(l2.backward(2 * (out - y) / len(x)) * (pre > 0))
    for layer in (l1, l2):
        for name, grad in layer.grads.items():
            layer.params[name] -= lr * grad


def test_condensed_training_matches_masked_dense():
    """Train both forms 3 SGD steps between SRigL updates, 4 times; each updates its own masks."""
    rng = backend.host_rng(0)
    shapes, density, lr = {"w1": (10, 12), "w2": (3, 10)}, 0.4, 0.05
    masks = {n: constant_fan_in_mask(s, density, rng) for n, s in shapes.items()}
    dense = {n: rng.standard_normal(s) * masks[n] for n, s in shapes.items()}
    dense.update(b1=rng.standard_normal(10), b2=rng.standard_normal(3))
    dense["w1"][:3] *= 0.01                                        # hidden neurons 0-2: small and
    dense["b1"][:3] = -5.0                                         # dead, so SRigL ablates them
    x, y = rng.standard_normal((16, 12)), rng.standard_normal((16, 3))
    cond, cond_masks, ablations = dict(dense), dict(masks), 0      # condensed model, kept dense
    for _ in range(4):                                             # between phases
        l1, l2 = (CondensedLinear.from_dense(cond[n], cond_masks[n], cond[b])
                  for n, b in (("w1", "b1"), ("w2", "b2")))
        for _ in range(3):
            grads = _dense_grads(dense, x, y)
            dense = {n: a - lr * grads[n] * masks.get(n, 1) for n, a in dense.items()}
            _condensed_sgd_step(l1, l2, x, y, lr)
        (cond["w1"], _, cond["b1"]), (cond["w2"], _, cond["b2"]) = l1.to_dense(), l2.to_dense()
        for n in dense:
            np.testing.assert_allclose(cond[n], dense[n], rtol=1e-12, atol=1e-12)
        for model, model_masks in ((dense, masks), (cond, cond_masks)):
            grads = _dense_grads(model, x, y)
            for n, shape in shapes.items():
                r = srigl_update(model[n], model_masks[n], grads[n], 0.3,
                                 srigl_budget(shape, density), gamma_sal=0.5, ablate=n == "w1")
                apply_update(model, model_masks, n, r)
                ablations += int(r.ablated.sum())
        assert all(np.array_equal(masks[n], cond_masks[n]) for n in shapes)
    assert ablations > 0                                           # the run exercised ablation
