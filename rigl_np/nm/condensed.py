"""Condensed N:M Linear layers: N values of every group of M, and their positions in log2(M) bits.

The compressed form sparse tensor cores read (Mishra et al. 2021; docs/semantics.md "N:M"): an
N:M weight (out, in) is stored as

- ``values`` (out, in * N / M): the active weights, group by group, in increasing input order
  inside each group;
- ``positions`` (out, ceil(in * N / M * bits / 8)) uint8: each value's position inside its group
  (0 .. M - 1), in bits = ceil(log2 M) bits (2 for M = 4), packed little-endian along the row:
  value j of a row holds bits [j * bits, (j + 1) * bits) of the row's bit string;
- ``bias`` (out,) or None.

For 2:4 this is the layout of PyTorch's semi-structured metadata before CUTLASS interleaves it
for the hardware: a group's two 2-bit positions make 4 bits (first | second << 2), four groups
make a little-endian int16 (``tests/test_nm_condensed.py`` compares the two).

The product: every row holds the same number of inputs, in * N / M, so an N:M layer is a
constant fan-in layer. ``forward`` and ``backward`` decode the positions into column indices
(``indices``: group * M + position, int16 or int32) and run the constant fan-in layer's product,
``srigl.condensed_forward`` / ``condensed_backward`` (a gather of the transposed input per block
of rows). The decode costs one pass over the layer's indices per call; it is what keeps the
stored form at log2(M) bits per value instead of 16. What this buys on a CPU is in
``benchmarks/nm.py`` and the README: N:M halves the work at 2:4, and NumPy's gather cannot turn
that into time; the hardware it was made for (sparse tensor cores) does.

Left out: a condensed conv layer (a conv's groups run along input channels, which im2col's
(C, kh, kw) row order does not keep together).
"""
from __future__ import annotations

import math

from rigl_np import backend
from rigl_np.masks.nm import bad_groups
from rigl_np.nn import Layer
from rigl_np.srigl.condensed import (BLOCK_BYTES, condensed_backward, condensed_forward,
                                     index_dtype)


def position_bits(m: int) -> int:
    """Bits per in-group position: ceil(log2 m) (2 for m = 4, 3 for m = 8)."""
    return max(1, math.ceil(math.log2(m)))


def pack_positions(positions, bits: int):
    """(R, K) ints in [0, 2**bits) -> (R, ceil(K * bits / 8)) uint8, little-endian bit strings."""
    xp = backend.array_module(positions)
    rows, k = positions.shape
    shifts = xp.arange(bits, dtype=positions.dtype)
    stream = ((positions[:, :, None] >> shifts) & 1).astype(xp.uint8).reshape(rows, k * bits)
    pad = -(k * bits) % 8                                         # each row whole bytes
    if pad:
        stream = xp.concatenate([stream, xp.zeros((rows, pad), dtype=xp.uint8)], axis=1)
    return xp.packbits(stream.ravel(), bitorder="little").reshape(rows, -1)  # (R, bytes)


def unpack_positions(packed, bits: int, k: int):
    """The inverse of ``pack_positions``: (R, bytes) uint8 -> (R, k) uint8 positions.

    bits 1, 2, 4 or 8 (M = 2, 4, 16, 256): each byte holds 8 / bits whole positions, read by
    shifts; other widths (M = 8: 3 bits) cross bytes: the bit string is unpacked, each position's
    bits padded to a byte and packed again."""
    xp = backend.array_module(packed)
    rows = packed.shape[0]
    if 8 % bits == 0:
        shifts = xp.arange(0, 8, bits, dtype=xp.uint8)                # (8 / bits,)
        fields = (packed[:, :, None] >> shifts) & ((1 << bits) - 1)   # (R, bytes, 8 / bits)
        return fields.reshape(rows, -1)[:, :k]
    stream = xp.unpackbits(packed.ravel(), bitorder="little").reshape(rows, -1)[:, :k * bits]
    padded = xp.zeros((rows, k, 8), dtype=xp.uint8)
    padded[:, :, :bits] = stream.reshape(rows, k, bits)               # (R, k, 8) one byte each
    return xp.packbits(padded.ravel(), bitorder="little").reshape(rows, k)


class CondensedNMLinear(Layer):
    """An N:M Linear layer in condensed form (see the module docstring); a layer like
    ``nn.Linear``: ``params`` holds "values" (and "bias"), ``forward`` keeps its cache,
    ``backward`` returns dx and fills ``grads``."""

    def __init__(self, values, positions, bias, n: int, m: int, in_features: int,
                 block_bytes=BLOCK_BYTES):
        super().__init__()
        self.params["values"] = values
        if bias is not None:
            self.params["bias"] = bias
        self.positions, self.n, self.m, self.in_features = positions, n, m, in_features
        self.block_bytes = block_bytes

    @property
    def values(self):
        return self.params["values"]                             # (out, in * n / m)

    @property
    def bias(self):
        return self.params.get("bias")

    @classmethod
    def from_dense(cls, weight, mask, n: int, m: int, bias=None, block_bytes=BLOCK_BYTES):
        """Condense W (out, in) whose mask M holds exactly n of every m consecutive inputs."""
        xp = backend.array_module(weight, mask)
        out, n_in = weight.shape
        if n_in % m or bad_groups(mask, n, m):
            raise ValueError(f"the mask is not {n}:{m}: every group of {m} consecutive inputs "
                             f"must hold exactly {n}")
        grouped = mask.reshape(out, n_in // m, m)                             # (out, G, m)
        # 1. the n active positions of each group, ascending: active ones sort first, stably
        order = xp.argsort(~grouped, axis=2, kind="stable")[:, :, :n]         # (out, G, n)
        values = xp.take_along_axis(weight.reshape(out, n_in // m, m), order, axis=2)
        # 2. values row by row; positions in log2(m) bits each
        packed = pack_positions(order.reshape(out, -1).astype(xp.int16), position_bits(m))
        return cls(values.reshape(out, -1), packed, None if bias is None else bias.copy(), n, m,
                   n_in, block_bytes)

    @property
    def indices(self):
        """(out, in * n / m) column of every value: its group * m + its position."""
        xp = backend.array_module(self.positions)
        k = self.values.shape[1]
        pos = unpack_positions(self.positions, position_bits(self.m), k)     # (out, K) uint8
        base = (xp.arange(k) // self.n * self.m).astype(index_dtype(xp, self.in_features))
        return pos.astype(base.dtype) + base                                  # (out, K)

    def to_dense(self):
        """(weight (out, in), mask (out, in) bool, bias or None): the exact inverse."""
        xp = backend.array_module(self.values)
        out = self.values.shape[0]
        shape = (out, self.in_features)
        weight, mask = xp.zeros(shape, dtype=self.values.dtype), xp.zeros(shape, dtype=bool)
        rows = xp.arange(out)[:, None]
        cols = self.indices
        weight[rows, cols] = self.values
        mask[rows, cols] = True
        return weight, mask, None if self.bias is None else self.bias.copy()

    @property
    def nbytes(self) -> int:
        """Bytes held: values, packed positions and bias."""
        return sum(a.nbytes for a in (self.values, self.positions, self.bias) if a is not None)

    def forward(self, x, train=True):
        """out = x @ (W * M).T + b. x (B, in) -> (B, out); cache: (xt (in, B), indices)."""
        xp = backend.array_module(x, self.values)
        xt, indices = xp.ascontiguousarray(x.T), self.indices                # (in, B), (out, K)
        self.cache = (xt, indices)      # both gathers of the backward read them: decoded once
        z = condensed_forward(xt, self.values, indices, self.block_bytes)    # (out, B)
        return (z if self.bias is None else z + self.bias[:, None]).T        # (B, out)

    def backward(self, dout, input_grad=True):
        """dx (B, in); fills grads["values"] (out, K) and grads["bias"] (out,)."""
        xp = backend.array_module(dout, self.values)
        xt, indices = self.cache
        dxt, self.grads["values"] = condensed_backward(xp.ascontiguousarray(dout.T), xt,
                                                       self.values, indices, self.block_bytes)
        if self.bias is not None:
            self.grads["bias"] = dout.sum(axis=0)
        return dxt.T
