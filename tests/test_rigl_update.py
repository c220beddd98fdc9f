"""The RigL mask update, its phases and schedule, in the style of google-research's
sparse_optimizers_test.py: nnz constant, mask changes, zero drop fraction changes nothing, new
connections start at zero with zero optimizer state, deterministic ties; plus a property test
against the full-sort reference ``rigl_np.rigl.reference_mask_update``."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigl_np import backend
from rigl_np.optim import SGD, Adam
from rigl_np.prune import magnitude_prune, pruning_density
from rigl_np.rigl import (apply_update, drop_fraction, gradient_ema, is_update_step, mask_update,
                          reference_mask_update, rigl_update, select_top_k, set_score,
                          snfs_score)
from rigl_np.sparsity import nnz_for



def _layer(shape=(20, 30), density=0.2, seed=0):
    """A masked weight, its exact-count mask and a dense gradient, on the host (float32)."""
    rng = np.random.default_rng(seed)
    n = math.prod(shape)
    mask = (rng.permutation(n) < nnz_for(n, density)).reshape(shape)
    weight = (rng.standard_normal(shape) * mask).astype(np.float32)
    grad = rng.standard_normal(shape).astype(np.float32)
    return weight, mask, grad


def _on_backend(*arrays):
    return [backend.asarray(a) for a in arrays]


def _host(result):
    return {k: backend.to_numpy(getattr(result, k))
            for k in ("mask", "new", "dropped", "grown", "regrown_same")}


# -- the update -------------------------------------------------------------------------------

def test_nnz_constant_and_mask_changes(backend_name):
    w, m, g = _layer()
    r = rigl_update(*_on_backend(w, m, g), 0.3)
    out = _host(r)
    k = math.floor(0.3 * m.sum())
    assert out["mask"].sum() == m.sum() and r.n_active == m.sum() and r.n_drop == k
    assert out["dropped"].sum() == k and out["grown"].sum() == k
    assert not np.array_equal(out["mask"], m)


@pytest.mark.parametrize("f", [0.0, 0.001])       # 0.001 * 120 active floors to k = 0
def test_zero_drop_changes_nothing(backend_name, f):
    w, m, g = _layer()
    r = rigl_update(*_on_backend(w, m, g), f)
    out = _host(r)
    assert r.n_drop == 0 and np.array_equal(out["mask"], m)
    assert not (out["new"].any() or out["dropped"].any() or out["grown"].any())


def test_dense_layer_is_never_updated(backend_name):
    w, _, g = _layer()
    m = np.ones_like(w, dtype=bool)
    r = rigl_update(*_on_backend(w, m, g), 0.5)
    assert r.n_drop == 0 and backend.to_numpy(r.mask).all() and not backend.to_numpy(r.new).any()


def test_new_connections_are_exactly_those_activated(backend_name):
    w, m, g = _layer(seed=1)
    r = rigl_update(*_on_backend(w, m, g), 0.5)
    out = _host(r)
    assert np.array_equal(out["new"], out["mask"] & ~m)
    assert np.array_equal(out["dropped"], m & ~out["mask"] | out["regrown_same"])
    assert r.n_new + r.n_regrown_same == r.n_drop


def test_drop_only_among_active_and_grow_can_take_back_a_dropped_one(backend_name):
    # a 1x6 layer, active = {0, 1, 2}; weight 0 at active index 1 is the smallest |W|, but the
    # inactive zeros at 3..5 must not be "kept" instead of it.
    w = np.array([[0.5, 0.0, -0.2, 0.0, 0.0, 0.0]], np.float32)
    m = np.array([[True, True, True, False, False, False]])
    g = np.array([[0.0, 9.0, 0.0, 1.0, 3.0, 2.0]], np.float32)
    r = rigl_update(*_on_backend(w, m, g), 0.67)          # k = floor(0.67 * 3) = 2
    out = _host(r)
    assert out["dropped"].tolist() == [[False, True, True, False, False, False]]
    # grow: the largest |G| outside {0}: index 1 (just dropped, comes back) and index 4
    assert out["grown"].tolist() == [[False, True, False, False, True, False]]
    assert out["regrown_same"].tolist() == [[False, True, False, False, False, False]]
    assert out["new"].tolist() == [[False, False, False, False, True, False]]
    assert r.n_regrown_same == 1 and r.n_new == 1


def test_grow_picks_largest_gradient_among_non_kept(backend_name):
    w, m, g = _layer(shape=(40, 50), density=0.1, seed=3)
    r = rigl_update(*_on_backend(w, m, g), 0.3)
    out = _host(r)
    kept = m & ~out["dropped"]
    free_scores = np.abs(g)[~kept]
    k = r.n_drop
    assert np.sort(np.abs(g)[out["grown"]]).tolist() == np.sort(free_scores)[-k:].tolist()


def test_ties_go_to_the_lowest_flat_index(backend_name):
    score = backend.asarray(np.ones((3, 4), np.float32))
    cand = np.ones((3, 4), bool)
    cand[0, 1] = False
    chosen = backend.to_numpy(select_top_k(score, backend.asarray(cand), 3))
    assert np.flatnonzero(chosen).tolist() == [0, 2, 3]
    # all-equal weights and gradients: the result is the same on every run
    w, m = np.ones((4, 5), np.float32), np.zeros((4, 5), bool)
    m.flat[::2] = True
    runs = [_host(rigl_update(*_on_backend(w * m, m, np.ones_like(w)), 0.5)) for _ in range(2)]
    assert np.array_equal(runs[0]["mask"], runs[1]["mask"])
    assert np.flatnonzero(runs[0]["dropped"]).tolist() == [10, 12, 14, 16, 18]


def test_select_top_k_edges(backend_name):
    score = backend.asarray(np.arange(6, dtype=np.float32))
    cand = backend.asarray(np.array([True, False, True, True, False, True]))
    assert not backend.to_numpy(select_top_k(score, cand, 0)).any()
    assert backend.to_numpy(select_top_k(score, cand, 4)).tolist() == [True, False, True, True,
                                                                       False, True]
    few = backend.asarray(np.array([False, True, False, False, True, False]))  # gathered path
    assert backend.to_numpy(select_top_k(score, few, 2)).tolist() == [False, True, False, False,
                                                                      True, False]
    assert backend.to_numpy(select_top_k(score, few, 1)).tolist() == [False, False, False, False,
                                                                      True, False]


def test_tie_noise_is_seeded_and_keeps_counts(backend_name):
    w, m = np.ones((10, 10), np.float32), np.zeros((10, 10), bool)
    m.flat[:30] = True
    w, g = w * m, np.zeros_like(w)
    runs = [_host(rigl_update(*_on_backend(w, m, g), 0.5, tie_noise_rng=np.random.default_rng(s)))
            for s in (0, 0, 1)]
    assert np.array_equal(runs[0]["mask"], runs[1]["mask"])
    assert not np.array_equal(runs[0]["mask"], runs[2]["mask"])
    assert all(run["mask"].sum() == 30 for run in runs)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.sampled_from([(7, 9), (1, 40), (6, 3, 3, 3), (12, 5, 1, 1)]),
       density=st.floats(0.05, 0.95), f=st.floats(0.0, 1.0), integers=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_matches_full_sort_reference(backend_name, shape, density, f, integers, seed):
    rng = np.random.default_rng(seed)
    w, m, g = _layer(shape, density, seed)
    if integers:                                      # small integers: many ties
        w = (rng.integers(-2, 3, shape) * m).astype(np.float32)
        g = rng.integers(-2, 3, shape).astype(np.float32)
    r = rigl_update(*_on_backend(w, m, g), f)
    out = _host(r)
    if m.all():
        assert r.n_drop == 0 and out["mask"].all()
        return
    mask, grown = reference_mask_update(w, m, np.abs(g), f)
    assert np.array_equal(out["mask"], mask) and np.array_equal(out["grown"], grown)
    assert out["mask"].sum() == m.sum()
    assert np.array_equal(out["new"], mask & ~m)
    assert not (out["dropped"] & ~m).any()            # only active connections are dropped


# -- SET and SNFS share the composer -----------------------------------------------------------

def test_set_grows_at_seeded_random_positions(backend_name):
    w, m, _ = _layer(seed=4)
    w, m = _on_backend(w, m)
    a, b = (_host(mask_update(w, m, set_score(m.shape, np.random.default_rng(7)), 0.3))
            for _ in range(2))
    assert np.array_equal(a["mask"], b["mask"]) and a["mask"].sum() == m.sum()
    assert not (a["grown"] & m & ~a["dropped"]).any()  # never grows a kept connection


def test_snfs_grows_by_gradient_moving_average(backend_name):
    w, m, g1 = _layer(seed=5)
    g2 = np.random.default_rng(6).standard_normal(w.shape).astype(np.float32)
    ema = gradient_ema(gradient_ema(np.zeros_like(g1), g1), g2)
    np.testing.assert_allclose(ema, 0.09 * g1 + 0.1 * g2, rtol=1e-5, atol=1e-7)
    a = _host(mask_update(*_on_backend(w, m, snfs_score(ema)), 0.3))
    b = _host(mask_update(*_on_backend(w, m, np.abs(ema)), 0.3))
    assert np.array_equal(a["mask"], b["mask"])


# -- applying an update: new connections start at zero, state follows the mask ---------------

@pytest.mark.parametrize("opt_cls", [SGD, Adam])
def test_apply_update_zeroes_new_and_dropped_keeps_regrown(backend_name, opt_cls):
    w, m, g = _layer(seed=2)
    w[m] += np.sign(w[m]) * 0.01                      # no active weight is exactly 0
    params, masks = {"w": backend.asarray(w.copy())}, {"w": backend.asarray(m)}
    opt = opt_cls(params, lr=0.1, **({"momentum": 0.9} if opt_cls is SGD else {}))
    for slot in opt.state["w"].values():
        slot[...] = backend.asarray(np.full(w.shape, 0.5, np.float32) * m)
    grad = g.copy()
    grad.flat[np.flatnonzero(m)[:3]] = 100.0          # three small-|W| candidates come back
    r = rigl_update(params["w"], masks["w"], backend.asarray(grad), 0.5)
    apply_update(params, masks, "w", r, opt)
    out, new_w = _host(r), backend.to_numpy(params["w"])
    assert masks["w"] is r.mask
    assert (new_w[out["new"]] == 0).all() and (new_w[~out["mask"]] == 0).all()
    stay = out["mask"] & m                            # kept or regrown-same: weight untouched
    assert np.array_equal(new_w[stay], w[stay]) and out["regrown_same"].any()
    for slot in opt.state["w"].values():
        s = backend.to_numpy(slot)
        assert (s[out["new"]] == 0).all() and (s[~out["mask"]] == 0).all()
        assert (s[stay] == 0.5).all()


# -- schedule ---------------------------------------------------------------------------------

def test_cosine_drop_fraction():
    assert drop_fraction(0, 0.3, 1000) == 0.3
    assert drop_fraction(500, 0.3, 1000) == pytest.approx(0.15)
    assert drop_fraction(1000, 0.3, 1000) == 0.0 and drop_fraction(2000, 0.3, 1000) == 0.0
    values = [drop_fraction(t, 0.3, 1000) for t in range(0, 1000, 100)]
    assert values == sorted(values, reverse=True)


def test_constant_and_linear_drop_fraction():
    assert drop_fraction(700, 0.3, 1000, "constant") == 0.3
    assert drop_fraction(250, 0.4, 1000, "linear") == pytest.approx(0.3)
    with pytest.raises(ValueError, match="schedule"):
        drop_fraction(1, 0.3, 10, "step")


@pytest.mark.parametrize("step, expected", [(0, False), (1, False), (100, True), (150, False),
                                            (700, True), (750, False), (800, False)])
def test_update_step_rule(step, expected):
    assert is_update_step(step, 100, 750) is expected


def test_pruning_density_is_cubic():
    assert pruning_density(0, 0.1, 100, 500) == pruning_density(100, 0.1, 100, 500) == 1.0
    assert pruning_density(300, 0.1, 100, 500) == pytest.approx(0.1 + 0.9 / 8)
    assert pruning_density(500, 0.1, 100, 500) == pruning_density(9000, 0.1, 100, 500) == 0.1
    assert pruning_density(0, 0.1, 1, 1) == 1.0 and pruning_density(1, 0.1, 1, 1) == 0.1


def test_reference_is_the_tie_rule_written_as_a_sort():
    w = np.array([[3.0, 1.0, 1.0, 0.0], [2.0, 1.0, 0.0, 0.0]], np.float32)
    m = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    g = np.array([[0.0, 0.0, 0.0, 5.0], [0.0, 0.0, 5.0, 5.0]], np.float32)
    mask, grown = reference_mask_update(w, m, g, 0.4)      # n = 5, k = 2
    # drop the two smallest |W| (three 1.0s: flat 1, 2, 5; the higher indices go first): 2 and 5
    # grow the two largest |G| among the rest (5.0 at flat 3, 6, 7): the lower indices 3 and 6
    assert grown.ravel().nonzero()[0].tolist() == [3, 6]
    assert mask.ravel().nonzero()[0].tolist() == [0, 1, 3, 4, 6]
    fast = _host(rigl_update(*_on_backend(w, m, g), 0.4))
    assert np.array_equal(fast["mask"], mask) and np.array_equal(fast["grown"], grown)


def test_magnitude_prune_keeps_the_largest_and_grows_nothing(backend_name):
    w, m, _ = _layer(seed=8)
    r = magnitude_prune(*_on_backend(w, m), 10)
    out = _host(r)
    assert out["mask"].sum() == 10 and not out["grown"].any() and not out["new"].any()
    assert np.abs(w[out["mask"]]).min() >= np.abs(w[m & ~out["mask"]]).max()
    assert r.record() == {"dropped": int(m.sum()) - 10, "grown": 0, "regrown_same": 0, "nnz": 10}
    same = magnitude_prune(*_on_backend(w, m), int(m.sum()))
    assert same.n_drop == 0 and np.array_equal(_host(same)["mask"], m)


def test_pruning_density_runs_from_dense_to_exactly_the_target():
    assert pruning_density(0, 0.1, 0, 100) == 1.0
    assert pruning_density(100, 0.1, 0, 100) == pruning_density(150, 0.1, 0, 100) == 0.1
    densities = [pruning_density(t, 0.1, 0, 100) for t in range(0, 101, 10)]
    assert densities == sorted(densities, reverse=True)
