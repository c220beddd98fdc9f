"""N:M masks and updates (rigl_np.masks.nm, rigl_np.nm): the groups, exact initial masks, the N:M
RigL/SET update against a loop reference written here, gradual N:M pruning, and the invariants
(every group exactly N, nnz = N/M * size) as hypothesis properties over many shapes and updates."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigl_np import backend
from rigl_np.masks.nm import (NM, bad_groups, eligible, group_counts, group_name, groups,
                              nm_mask, ungroup)
from rigl_np.nm import nm_prune, nm_regrow, nm_update
from rigl_np.prune import pruning_density
from rigl_np.sparsity import nnz_for

host, dev = backend.to_numpy, backend.asarray
NMS = [(1, 2), (2, 4), (1, 4), (3, 4), (2, 8), (1, 8)]


def _reference(w, mask, score, f, n, m):
    """docs/semantics.md "N:M" with a full sort and a loop over the groups, written from the
    rule: (new mask, k). Groups: M consecutive inputs of one row at one kernel position."""
    k = math.floor(f * mask.sum())
    if k == 0:
        return mask.copy(), 0
    # 1. layer-wide drop: keep the n - k largest |W| among active (ties: lower flat index)
    active = np.flatnonzero(mask)
    order = active[np.lexsort((active, -np.abs(w.ravel()[active])))]
    kept = np.zeros(mask.size, bool)
    kept[order[:active.size - k]] = True
    kept = kept.reshape(mask.shape)
    new = kept.copy()
    # 2. each group, one by one, back to n by the largest score among its positions not kept
    out, inputs = mask.shape[0], mask.shape[1]
    for o in range(out):
        for position in np.ndindex(*mask.shape[2:]):
            for j in range(0, inputs, m):
                where = [(o, c, *position) for c in range(j, j + m)]
                have = sum(kept[x] for x in where)
                free = [x for x in where if not kept[x]]
                free.sort(key=lambda x: -score[x])                # stable: lower input first
                for x in free[:n - have]:
                    new[x] = True
    return new, k


def _layer(shape, n, m, seed, ties=False):
    rng = np.random.default_rng(seed)
    mask = nm_mask(shape, n, m, rng)
    draw = (lambda: rng.integers(-2, 3, shape).astype(float)) if ties else (
        lambda: rng.standard_normal(shape))
    return dev(draw()) * mask, mask, dev(draw())


def _assert_nm(mask, n, m):
    assert bad_groups(mask, n, m) == []
    assert int(host(mask).sum()) == mask.size // m * n


shapes = st.one_of(
    st.tuples(st.integers(1, 5), st.integers(1, 4)),                        # Linear (out, in/M)
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))


def _shape(t, m):
    return (t[0], t[1] * m, *t[2:])


def test_groups_are_m_consecutive_inputs_of_one_row_at_one_kernel_position():
    a = np.arange(2 * 8 * 2 * 3).reshape(2, 8, 2, 3)
    g = groups(a, 4)                                                        # (2*2*3*2, 4)
    assert g.shape == (24, 4)
    assert list(g[0]) == [a[0, c, 0, 0] for c in range(4)]
    assert list(g[1]) == [a[0, c, 0, 0] for c in range(4, 8)]
    assert list(g[2]) == [a[0, c, 0, 1] for c in range(4)]
    assert list(g[12]) == [a[1, c, 0, 0] for c in range(4)]                 # never across rows
    assert (ungroup(g, a.shape) == a).all()
    lin = np.arange(24).reshape(3, 8)
    assert (groups(lin, 4) == lin.reshape(6, 4)).all()
    assert group_name(5, (2, 8, 2, 3), 4) == "[0, 4:8, 0, 2]"             # = g[5]
    assert list(g[5]) == [a[0, c, 0, 2] for c in range(4, 8)]
    assert group_name(3, (3, 8), 4) == "[1, 4:8]"


def test_layers_whose_inputs_are_not_a_multiple_of_m_stay_dense_and_say_why():
    shapes = {"conv1": (6, 1, 5, 5), "fc1": (120, 400), "fc2": (84, 120), "fc3": (10, 84)}
    nm = NM(2, 8)
    assert not eligible(shapes["conv1"], 8) and eligible(shapes["fc1"], 8)
    assert nm.densities(shapes) == {"conv1": 1.0, "fc1": 0.25, "fc2": 0.25, "fc3": 1.0}
    assert nm.dense_layers(shapes) == {"conv1": "its 1 inputs are not a multiple of 8",
                                       "fc3": "its 84 inputs are not a multiple of 8"}
    keep = NM(2, 4, "first-last").dense_layers({"a": (4, 8), "b": (4, 8), "c": (4, 8)})
    assert set(keep) == {"a", "c"}
    with pytest.raises(ValueError, match="0 < N < M"):
        NM(4, 4)


@settings(max_examples=60, deadline=None)
@given(shapes, st.sampled_from(NMS), st.integers(0, 2**31))
def test_initial_masks_hold_exactly_n_of_every_group(t, nm, seed):
    n, m = nm
    shape = _shape(t, m)
    mask = nm_mask(shape, n, m, np.random.default_rng(seed))
    assert mask.shape == shape and mask.dtype == bool
    _assert_nm(mask, n, m)
    again = nm_mask(shape, n, m, np.random.default_rng(seed))
    assert (host(again) == host(mask)).all()                        # host RNG: reproducible


def test_initial_masks_use_every_position_of_a_group():
    mask = host(nm_mask((400, 4), 2, 4, np.random.default_rng(0)))
    share = mask.mean(axis=0)                                       # each position ~ 1/2
    assert np.all(np.abs(share - 0.5) < 0.08)


@settings(max_examples=80, deadline=None)
@given(shapes, st.sampled_from(NMS), st.floats(0, 1), st.booleans(), st.integers(0, 2**31))
def test_update_equals_the_loop_reference_and_keeps_every_group_at_n(t, nm, f, ties, seed):
    n, m = nm
    shape = _shape(t, m)
    w, mask, g = _layer(shape, n, m, seed, ties)
    result = nm_update(w, mask, np.abs(g), f, n, m)
    expected, k = _reference(host(w), host(mask), np.abs(host(g)), f, n, m)
    assert (host(result.mask) == expected).all()
    _assert_nm(result.mask, n, m)
    assert result.n_drop == k == int(host(result.dropped).sum()) == int(host(result.grown).sum())
    assert (host(result.new) == (expected & ~host(mask))).all()
    assert (host(result.regrown_same) == (host(result.dropped) & host(result.grown))).all()


def test_update_on_every_backend(backend_name):
    w, mask, g = _layer((8, 16, 3, 3), 2, 4, seed=3)
    result = nm_update(w, mask, backend.array_module(g).abs(g), 0.3, 2, 4)
    expected, _ = _reference(host(w), host(mask), np.abs(host(g)), 0.3, 2, 4)
    assert (host(result.mask) == expected).all()


def test_the_drop_is_layer_wide_where_a_per_group_floor_drops_nothing():
    # 2:4 at f = 0.3: floor(0.3 * 2) = 0 per group, but floor(0.3 * nnz) = 12 for the layer
    w, mask, g = _layer((8, 16), 2, 4, seed=1)
    result = nm_update(w, mask, np.abs(g), 0.3, 2, 4)
    assert result.n_drop == math.floor(0.3 * 64) == 19
    assert int(host(result.new).sum()) > 0


def test_ties_inside_a_group_take_the_lower_input_and_just_dropped_may_return():
    mask = np.array([[True, True, False, False]])
    w = np.array([[0.1, 5.0, 0.0, 0.0]])
    grow = np.array([[1.0, 0.0, 1.0, 1.0]])            # dropped input 0 ties with 2 and 3
    result = nm_update(w, mask, grow, 0.5, 2, 4)         # k = 1: input 0 (|W| 0.1) goes
    assert list(result.mask[0]) == [True, True, False, False]   # it comes back: lower index
    assert result.regrown_same[0, 0] and not result.new.any()
    assert list(nm_regrow(np.array([[False, True, False, False]]), np.ones((1, 4)), 2, 4)[0]) \
        == [True, False, False, False]


def test_zero_drop_fraction_changes_nothing():
    w, mask, g = _layer((4, 8), 2, 4, seed=2)
    result = nm_update(w, mask, np.abs(g), 0.0, 2, 4)
    assert result.mask is mask and result.n_drop == 0 and not host(result.new).any()


@settings(max_examples=40, deadline=None)
@given(shapes, st.sampled_from(NMS), st.integers(0, 2**31), st.integers(2, 6))
def test_gradual_nm_pruning_protects_n_per_group_and_ends_at_exactly_n_over_m(t, nm, seed, steps):
    n, m = nm
    shape = _shape(t, m)
    rng = np.random.default_rng(seed)
    mask = np.ones(shape, bool)
    for step in range(1, steps + 1):
        w = rng.standard_normal(shape) * mask
        target = nnz_for(mask.size, pruning_density(step, n / m, 0, steps))
        protected = ungroup(np.argsort(np.argsort(-np.abs(groups(w, m)), axis=1, kind="stable"),
                                       axis=1) < n, shape) & mask     # top-n |W| per group
        result = nm_prune(w, mask, target, n, m)
        assert (host(result.mask)[protected]).all()
        assert int(host(result.mask).sum()) == max(target, mask.size // m * n)
        assert (host(group_counts(result.mask, m)) >= n).all()
        assert not (host(result.mask) & ~mask).any()                    # nothing comes back
        mask = host(result.mask)
    _assert_nm(mask, n, m)                                              # exactly N/M at t1


def test_pruning_keeps_the_largest_of_the_unprotected_layer_wide():
    w = np.array([[9.0, 8.0, 7.0, 6.0], [1.0, 0.5, 0.4, 0.3]])
    result = nm_prune(w, np.ones((2, 4), bool), 5, 1, 4)   # 2 protected, 3 more layer-wide
    assert host(result.mask).tolist() == [[True, True, True, True], [True, False, False, False]]
