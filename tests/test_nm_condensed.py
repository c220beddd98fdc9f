"""Condensed N:M layers (rigl_np.nm.condensed): the exact round trip, forward and backward equal to
the masked dense layer in float64, memory, and for 2:4 float16 the packed positions against
PyTorch's semi-structured metadata before its hardware interleave."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigl_np import backend
from rigl_np.functional import linear_backward, linear_forward
from rigl_np.masks.nm import nm_mask
from rigl_np.nm.condensed import (CondensedNMLinear, pack_positions, position_bits,
                                  unpack_positions)

host, dev = backend.to_numpy, backend.asarray
NMS = [(2, 4), (1, 4), (2, 8), (1, 8), (3, 8), (1, 2)]


def _layer(out, groups, n, m, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    mask = nm_mask((out, groups * m), n, m, rng)
    weight = dev(rng.standard_normal(mask.shape).astype(dtype)) * mask
    return weight, mask, dev(rng.standard_normal(out).astype(dtype))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.sampled_from(NMS), st.integers(0, 2**31))
def test_from_dense_to_dense_is_exact_and_positions_take_log2_m_bits(out, groups, nm, seed):
    n, m = nm
    weight, mask, bias = _layer(out, groups, n, m, seed)
    layer = CondensedNMLinear.from_dense(weight, mask, n, m, bias)
    k = groups * n
    assert layer.values.shape == (out, k)
    assert layer.positions.shape == (out, -(-k * position_bits(m) // 8))
    w, msk, b = layer.to_dense()
    assert (host(w) == host(weight)).all() and (host(msk) == host(mask)).all()
    assert (host(b) == host(bias)).all()


def test_packing_is_a_little_endian_bit_string_per_row():
    positions = np.array([[1, 3, 0, 2, 3, 3, 1, 0]], np.int16)
    packed = pack_positions(positions, 2)
    assert packed.tolist() == [[1 | 3 << 2 | 0 << 4 | 2 << 6, 3 | 3 << 2 | 1 << 4]]
    assert (unpack_positions(packed, 2, 8) == positions).all()
    assert unpack_positions(packed, 2, 8).dtype == np.uint8
    three = np.array([[5, 7, 1]], np.int16)                       # 9 bits: two bytes per row
    assert (unpack_positions(pack_positions(three, 3), 3, 3) == three).all()


def test_a_mask_that_is_not_n_of_m_is_refused():
    mask = np.zeros((2, 8), bool)
    mask[0, :3] = True
    with pytest.raises(ValueError, match="not 2:4"):
        CondensedNMLinear.from_dense(np.ones((2, 8)), mask, 2, 4)


@pytest.mark.parametrize("n,m", [(2, 4), (1, 4), (2, 8), (1, 8)])
def test_forward_and_backward_equal_the_masked_dense_layer(backend_name, n, m):
    weight, mask, bias = _layer(12, 6, n, m, seed=n * m)
    rng = np.random.default_rng(1)
    x = dev(rng.standard_normal((7, weight.shape[1])))
    dout = dev(rng.standard_normal((7, 12)))
    layer = CondensedNMLinear.from_dense(weight, mask, n, m, bias)
    y, cache = linear_forward(x, weight, bias)
    dx, dw, db = linear_backward(dout, cache)
    assert np.abs(host(layer.forward(x)) - host(y)).max() < 1e-12
    got_dx = layer.backward(dout)
    assert np.abs(host(got_dx) - host(dx)).max() < 1e-12
    condensed_dw = host(dw)[host(mask)].reshape(12, -1)           # row-major = the values' order
    assert np.abs(host(layer.grads["values"]) - condensed_dw).max() < 1e-12
    assert np.abs(host(layer.grads["bias"]) - host(db)).max() < 1e-12


def test_memory_of_a_4096_square_2_of_4_layer():
    weight, mask, _ = _layer(4096, 1024, 2, 4, seed=0, dtype=np.float16)
    layer = CondensedNMLinear.from_dense(weight, mask, 2, 4)
    assert layer.values.nbytes == 4096 * 2048 * 2                 # 16 MiB of float16
    assert layer.positions.nbytes == 4096 * 2048 * 2 // 8         # 2 MiB: 2 bits per value
    assert layer.nbytes / host(weight).nbytes == 0.5625           # 9/16 of the dense weight


def test_positions_equal_pytorchs_semi_structured_metadata_before_the_interleave():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (requirements-torch.txt)")
    conversions = pytest.importorskip(
        "torch.sparse._semi_structured_conversions",
        reason="this PyTorch has no semi-structured conversion module")
    weight, mask, _ = _layer(64, 32, 2, 4, seed=3, dtype=np.float16)
    weight = np.where(mask, np.where(weight == 0, np.float16(1), weight), 0).astype(np.float16)
    dense = torch.from_numpy(weight)
    try:                      # the public call: on a CPU tensor PyTorch refuses (CUDA only)
        torch.sparse.to_sparse_semi_structured(dense)
    except RuntimeError as e:
        assert "CUDA" in str(e)
    # the conversion that call's CUTLASS path runs, on the CPU: values and reordered metadata
    values, meta_reordered = conversions.sparse_semi_structured_from_dense_cutlass(dense)
    rows, meta_cols = meta_reordered.shape
    offsets = conversions._calculate_meta_reordering_scatter_offsets(
        rows, meta_cols, meta_reordered.dtype, "cpu")
    meta = meta_reordered.view(-1)[offsets].view(rows, meta_cols)  # undo the interleave
    layer = CondensedNMLinear.from_dense(weight, mask, 2, 4)
    ours = layer.positions.view("<i2")                              # (64, 4) int16
    assert np.array_equal(ours, meta.numpy())
    assert np.array_equal(layer.values, values.numpy())
