"""GraNet, GMP* and Top-KAST (methods/granet.py, gmp_star.py, topkast.py) in the trainer.

Each is driven step by step on a narrow LeNet-300-100 (``train_step``, no data set), and checked
for what its paper promises: GraNet's total follows the cubic schedule exactly while its layers
drift and regrow; GMP* jumps at t_accel and reaches the final count exactly at t_end; Top-KAST's
forward set is the top-D |θ| inside the backward set, θ stays dense, only the backward set moves,
and the penalty is heavier outside the forward set.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigl_np import backend
from rigl_np.masks import MaskUpdate
from rigl_np.methods import get
from rigl_np.methods.granet import compose
from rigl_np.models import build_model
from rigl_np.optim import SGD
from rigl_np.prune import pruning_density
from rigl_np.sparsity import nnz_for
from rigl_np.train import train_step

SHAPE = (1, 28, 28)


def _run(name, steps, densities=0.2, momentum=0.9, weight_decay=1e-3, on_step=None, **settings):
    """A method built with ``settings`` on a narrow LeNet-300-100, trained ``steps`` batches of
    random data; ``on_step(step, method, before)`` sees each step (``before``: θ before it)."""
    model = build_model("lenet300", SHAPE, 10, backend.host_rng(0), width=0.2)
    method = get(name).build({n: densities for n in model.sparsifiable()}, backend.host_rng(1),
                             **settings)
    opt = SGD(model.params(), 0.05, momentum=momentum, weight_decay=weight_decay)
    method.attach(model, opt)
    rng = np.random.default_rng(2)
    for step in range(1, steps + 1):
        x = backend.asarray(rng.random((16, *SHAPE), dtype=np.float32))
        y = backend.asarray(rng.integers(0, 10, 16))
        before = {n: backend.to_numpy(w).copy() for n, w in method.params.items()}
        train_step(model, opt, x, y, step, method)
        if on_step is not None:
            on_step(step, method, before)
    return method


def _nnz(method):
    return {n: int(m.sum()) for n, m in method.masks.items()}


def test_granet_prunes_the_total_to_the_cubic_schedule_and_regrows_per_layer():
    method = _run("granet", 40, delta_t=5, t1=30, alpha=0.3)
    sizes = {n: m.size for n, m in method.masks.items()}
    for u in method.records.updates:
        target = sum(nnz_for(sizes[n], pruning_density(u["step"], 0.2, 0, 30)) for n in sizes)
        assert sum(v["nnz"] for v in u["layers"].values()) == target     # the total: exact
    steps = [u["step"] for u in method.records.updates]
    assert steps == [5, 10, 15, 20, 25, 30]
    assert sum(_nnz(method).values()) == sum(nnz_for(s, 0.2) for s in sizes.values())
    regrown = [u for u in method.records.updates if u["drop_fraction"] > 0]
    assert regrown and all(sum(v["grown"] for v in u["layers"].values()) > 0 for u in regrown)
    shares = {n: v["nnz"] / sizes[n] for n, v in method.records.updates[-1]["layers"].items()}
    assert max(shares.values()) - min(shares.values()) > 0.01          # the layers drifted


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_compose_records_both_steps(seed):
    rng = np.random.default_rng(seed)
    before = rng.random(30) < 0.7
    pruned = before & (rng.random(30) < 0.7)
    dropped2 = pruned & (rng.random(30) < 0.3)
    grown = ~(pruned & ~dropped2) & (rng.random(30) < 0.2)
    mask = (pruned & ~dropped2) | grown
    none = np.zeros(30, bool)
    first = MaskUpdate(pruned, none, before & ~pruned, none, none, int(before.sum()), 0)
    second = MaskUpdate(mask, grown & ~pruned, dropped2, grown, dropped2 & grown,
                        int(pruned.sum()), int(dropped2.sum()))
    both = compose(before, first, second)
    assert (both.mask == mask).all() and (both.new == (mask & ~before)).all()
    assert (both.dropped == (before & ~(pruned & ~dropped2))).all()
    assert (both.regrown_same == (both.dropped & grown)).all()
    assert both.n_active == before.sum() and both.n_drop == both.dropped.sum()


def test_gmp_star_jumps_at_t_accel_and_ends_exactly_at_t_end():
    method = _run("gmp-star", 40, delta_t=5, t0=3, t1=30, initial_sparsity=0.5)
    updates = method.records.updates
    assert [u["step"] for u in updates] == [3, 5, 10, 15, 20, 25, 30]
    sizes = {n: m.size for n, m in method.masks.items()}
    assert updates[0]["layers"] == {n: {**v, "nnz": nnz_for(sizes[n], 0.5)}
                                    for n, v in updates[0]["layers"].items()}   # the jump
    totals = [sum(v["nnz"] for v in u["layers"].values()) for u in updates]
    assert totals == sorted(totals, reverse=True)
    assert _nnz(method) == {n: nnz_for(s, 0.2) for n, s in sizes.items()}      # exact at t_end


def test_gmp_star_options_resolve_t_accel_from_the_run_length():
    from rigl_np.config import SparseConfig
    cls = get("gmp-star")
    options = cls.Options(gmp_initial_sparsity=0.6, gmp_accel_fraction=0.1)
    method = cls.from_config(SparseConfig(method="gmp-star"), {}, 1000, backend.host_rng(0),
                             options=options)
    assert (method.schedule.t0, method.schedule.t1) == (100, 750)
    assert method.schedule.density(99, 0.1) == 1.0
    assert method.schedule.density(100, 0.1) == pytest.approx(0.4)
    assert method.schedule.density(750, 0.1) == 0.1


def test_topkast_sets_are_nested_top_k_and_only_the_backward_set_moves():
    seen = []

    def check(step, method, before):
        for name, a in method.masks.items():
            w, b = backend.to_numpy(method.params[name]), backend.to_numpy(method.backward[name])
            a = backend.to_numpy(a)
            assert not (a & ~b).any()                                   # A inside B
            assert np.count_nonzero(w) > 2 * b.sum()                    # θ stays dense
            if step % 5:                                                # B as during the step
                assert (w[~b] == before[name][~b]).all()                # θ outside B: untouched
            else:                                                       # just recomputed
                assert a.sum() == nnz_for(w.size, 0.2) and b.sum() == nnz_for(w.size, 0.3)
                assert np.abs(w[a]).min() >= np.abs(w[~a]).max()        # top-D |θ|
                assert np.abs(w[b]).min() >= np.abs(w[~b]).max()        # top-(D+M) |θ|
                seen.append((step, name))

    method = _run("topkast", 20, delta_t=5, topkast_extra_density=0.1, on_step=check)
    assert seen == [(s, n) for s in (5, 10, 15, 20) for n in ("fc1.weight", "fc2.weight",
                                                               "fc3.weight")]
    assert any(u["layers"]["fc1.weight"]["grown"] for u in method.records.updates)


def test_topkast_penalty_is_heavier_outside_the_forward_set():
    model = build_model("lenet300", SHAPE, 10, backend.host_rng(0), width=0.2)
    method = get("topkast").build({n: 0.2 for n in model.sparsifiable()}, backend.host_rng(1),
                                  topkast_penalty=0.5)
    method.attach(model, SGD(model.params(), 0.05))
    grads = {n: np.zeros_like(p) for n, p in model.params().items()}
    method.before_step(1, grads)
    for name, a in method.masks.items():
        w, b, g = method.params[name], method.backward[name], grads[name]
        np.testing.assert_allclose(g[a], 0.5 * w[a], rtol=1e-6)
        np.testing.assert_allclose(g[b & ~a], 0.5 / 0.2 * w[b & ~a], rtol=1e-6)
        assert (g[~b] == 0).all()


def test_topkast_prices_the_backward_set_and_reports_the_dense_parameters():
    method = _run("topkast", 5, delta_t=5)
    flops = {"fc1.weight": 100.0, "fc2.weight": 10.0}
    got = method.training_flops(flops, {"fc1.weight": 0.2, "fc2.weight": 1.0})
    assert got == pytest.approx(2 * (20 + 10) + (30 + 10))                # 2 f_A + f_B
    summary = method.summary()
    assert summary["stored_density"] == 1.0
    assert summary["backward_density"] == pytest.approx(0.3, abs=0.01)
    assert math.isclose(summary["global_density"], 0.2, abs_tol=0.01)
