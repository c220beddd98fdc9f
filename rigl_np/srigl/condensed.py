"""Condensed constant fan-in layers: the form in which a sparse layer is faster and smaller.

The condensed representation of the SRigL paper (Lasby et al., ICLR 2024), the one its real-world
timings use; docs/semantics.md "SRigL", last item. A layer whose n_active surviving neurons have k inputs each
is stored as
- ``values`` (n_active, k): the weights, in increasing input order within each row;
- ``indices`` (n_active, k): their input positions, int16 when the fan-in fits (<= 32767), else
  int32 (a quarter or half of NumPy's default int64: most of the memory saved is here);
- ``neurons`` (n_active,): which output neurons are active (same integer rule), or None when
  every neuron is (nothing ablated: no ids to hold and no scatter to do);
- ``bias`` (n_out,) or None, for every neuron: an ablated neuron outputs just its bias (0 without
  one), which is exactly what the masked dense layer computes for an all-zero row;
and computes y[:, i] = sum_j x[:, idx[i, j]] * val[i, j] + b[i] for the active neurons.

How, and why (timings in benchmarks/condensed.py): the input is transposed once to xt (in, B), so
that gathering xt[idx] copies whole contiguous rows of B numbers rather than B scattered elements.
Neurons go in blocks whose gathered (nb, k, B) buffer is about ``block_bytes`` (512 KiB; on a GPU
pass None, one block). For each block the int16 indices are copied into an intp scratch and
gathered by ``backend.take_rows`` into a second scratch, both reused by every block of the call
(NumPy's ``take`` would otherwise convert the indices into a fresh array per block and check each
index on a slow path). Each neuron's k gathered rows are then reduced against its k values: at
batch 1 by one ``einsum`` over the block (a dot product per neuron, no BLAS call per neuron),
otherwise by a stacked (1, k) @ (k, B) matmul. Against a plain ``xt.take`` and matmul per block,
from a cold cache at batch 1: 1.25x faster at 90 % sparsity, about 1.1x at 95 %, no different at
99 %, where cache misses on the layer's own arrays dominate.

Where NumPy stops gaining: the work is O(nnz * B) instead of O(N * B), but it is done by NumPy's
single-threaded gather, about 2 ns per connection and batch column with the layer's arrays in
cache and 3-4 ns from a cold cache (values, indices and scratch then all miss the caches), while
BLAS streams the dense weight at about 0.2 ns per weight at batch 1 (memory-bound, 64 MB in
2.5-3.5 ms here, on 2 threads). So at batch 1 and from a
cold cache the condensed layer breaks even near 90 % sparsity, gains 1.4-1.9x at 95 % and about 5x
at 99 % (roughly 1.5-2x that when its arrays stay in cache between calls). Splitting the gather
over two Python threads (NumPy releases the GIL) did not help at these sizes: handing work to a
thread costs as much as it saves. At batch 256 it breaks even near 97 %, and SciPy's compiled
CSR loop beats it by 1.3-1.5x, because NumPy must write every gathered row to memory
before multiplying it. A layer with ablated neurons is also just a smaller dense layer: at batch
256 that form wins at moderate sparsity (benchmarks/condensed.py times both).

Backward: dvalues uses the same gather; dx must add each value's contribution onto a shared input,
and NumPy's ``add.at`` does not exist in CuPy, so it is a ``bincount`` with weights over the flat
positions (input, batch column): only existing connections are touched, and CuPy has the same
call. ``CondensedConv2d`` runs the same product on im2col columns. Exact round trip:
``from_dense(W, M, b).to_dense()`` gives back W * M, M and b bit for bit.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.functional.conv import col2im, conv_output_size, im2col
from rigl_np.nn import Layer
from rigl_np.masks.fan_in import fan_in

BLOCK_BYTES = 1 << 19     # gathered buffer per block of neurons: half a CPU core's L2 cache
SCATTER_BYTES = 1 << 24   # bincount temporaries per chunk of batch columns in the backward
# OpenBLAS hands a matrix product to all its threads once m*n*k reaches 2**18. For one neuron's
# (1, k) @ (k, B) that hand-off costs more than it saves (measured: 30 us at k*B = 2**18, 12 ms
# just above it on a busy 2-core machine), so the forward splits B into chunks below that size.
BLAS_ONE_THREAD = (1 << 18) - 1


def index_dtype(xp, n: int):
    """The integer type for positions below ``n``: int16 up to 32767, else int32."""
    return xp.int16 if n <= 32767 else xp.int32


def _blocks(n: int, bytes_each: int, budget):
    """Slices over n items, as many per slice as fit ``budget`` bytes (all at once for None)."""
    step = n if budget is None else max(1, budget // max(1, bytes_each))
    return [slice(s, min(s + step, n)) for s in range(0, n, max(1, step))]


def _gathered_blocks(xt, indices, block_bytes):
    """Yield (s, xt[indices[s]] (nb, k, B)) for blocks s of neurons, all in one reused scratch.

    The positions are first copied into an intp scratch (``take`` would convert int16 into a fresh
    array on every block) and gathered with ``take_rows`` into a second scratch; both stay in cache
    from block to block.
    """
    xp = backend.array_module(xt, indices)
    (n_active, k), batch = indices.shape, xt.shape[1]
    blocks = _blocks(n_active, k * batch * xt.itemsize, block_bytes)
    rows = blocks[0].stop if blocks else 0
    positions = xp.empty((rows, k), dtype=xp.intp)               # (nb, k) int16 -> intp
    gathered = xp.empty((rows, k, batch), dtype=xt.dtype)        # (nb, k, B)
    for s in blocks:
        nb = s.stop - s.start
        xp.copyto(positions[:nb], indices[s])
        yield s, backend.take_rows(xt, positions[:nb], out=gathered[:nb])


def condensed_forward(xt, values, indices, block_bytes=BLOCK_BYTES):
    """z[i, b] = sum_j values[i, j] * xt[indices[i, j], b] for every active neuron i.

    Inputs:  xt (in, B), C-contiguous; values (n_active, k); indices (n_active, k).
    Output:  z (n_active, B).
    """
    xp = backend.array_module(xt, values, indices)
    batch, (n_active, k) = xt.shape[1], values.shape
    z = xp.empty((n_active, batch), dtype=xp.result_type(xt, values))
    columns = _blocks(batch, k, BLAS_ONE_THREAD)                  # one chunk unless k*B >= 2**18
    for s, gathered in _gathered_blocks(xt, indices, block_bytes):  # (nb, k, B) whole rows of xt
        if batch == 1:  # one dot product of two k-vectors per neuron: no BLAS call per neuron
            z[s, 0] = xp.einsum("ij,ij->i", values[s], gathered[:, :, 0])  # (nb,)
            continue
        for c in columns:
            z[s, c] = (values[s][:, None, :] @ gathered[:, :, c])[:, 0, :]  # (nb, bb)
    return z


def condensed_backward(dz, xt, values, indices, block_bytes=BLOCK_BYTES):
    """Gradients of ``condensed_forward``: (dxt (in, B), dvalues (n_active, k)).

    dvalues[i, j] = sum_b dz[i, b] * xt[idx[i, j], b] (same gather as the forward);
    dxt[c, b] = sum over connections (i, j) with idx[i, j] = c of values[i, j] * dz[i, b], a
    scatter-add done by ``bincount`` on the flat position c * bb + b of each chunk of bb columns.
    """
    xp = backend.array_module(dz, xt, values, indices)
    n_in, batch = xt.shape
    dvalues = xp.empty(values.shape, dtype=values.dtype)
    for s, gathered in _gathered_blocks(xt, indices, block_bytes):  # (nb, k, B)
        dvalues[s] = (gathered @ dz[s][:, :, None])[:, :, 0]      # (nb, k)
    dxt = xp.empty(xt.shape, dtype=xt.dtype)
    rows = indices.astype(xp.int64)[:, :, None]                   # (n_active, k, 1) no overflow
    for c in _blocks(batch, max(1, values.size) * 16, SCATTER_BYTES):
        bb = c.stop - c.start
        flat = rows * bb + xp.arange(bb)                          # (n_active, k, bb)
        contrib = values[:, :, None] * dz[:, None, c]             # (n_active, k, bb)
        summed = xp.bincount(flat.ravel(), weights=contrib.ravel(), minlength=n_in * bb)
        dxt[:, c] = summed.reshape(n_in, bb)                      # (in, bb), cast to xt's dtype
    return dxt, dvalues


def _place(z, neurons, bias, n_out: int):
    """(n_out, B): row neurons[i] is z[i] + its bias; an ablated neuron's row is just its bias."""
    xp = backend.array_module(z, neurons, bias)
    if neurons is not None:                                       # some neurons are ablated
        full = xp.zeros((n_out, z.shape[1]), dtype=z.dtype)      # (out, B)
        full[neurons] = z                                         # neuron ids are unique
        z = full
    return z if bias is None else z + bias[:, None]


class CondensedLinear(Layer):
    """A constant fan-in Linear layer in condensed form (see the module docstring).

    A layer like ``rigl_np.nn.Linear``: ``params`` holds "values" (and "bias"), ``forward(x)``
    returns the output and keeps its cache, ``backward(dout)`` returns dx and fills ``grads``,
    so an optimizer can train it and a ``Sequential`` can hold it.
    """

    def __init__(self, values, indices, neurons, bias, out_features: int, in_features: int,
                 block_bytes=BLOCK_BYTES):
        super().__init__()
        self.params["values"] = values
        if bias is not None:
            self.params["bias"] = bias
        self.indices, self.neurons = indices, neurons
        self.out_features, self.in_features = out_features, in_features
        self.block_bytes = block_bytes

    @property
    def values(self):
        return self.params["values"]                             # (n_active, k)

    @property
    def bias(self):
        return self.params.get("bias")                           # (out,) or None

    @classmethod
    def from_dense(cls, weight, mask, bias=None, block_bytes=BLOCK_BYTES):
        """Condense W (out, in) with a constant fan-in mask M; bias (out,) or None."""
        xp = backend.array_module(weight, mask, bias)
        k = fan_in(mask)
        n_out, n_in = weight.shape
        neurons = xp.flatnonzero(xp.count_nonzero(mask, axis=1))  # (n_active,) rows with inputs
        rows = mask[neurons]                                      # (n_active, in)
        values = weight[neurons][rows].reshape(neurons.size, k)   # (n_active, k) row-major order
        indices = xp.nonzero(rows)[1].reshape(neurons.size, k)    # (n_active, k) ascending
        # Nothing ablated: no ids to store (rows 0..out-1 in order), and no scatter later.
        ids = None if neurons.size == n_out else neurons.astype(index_dtype(xp, n_out))
        return cls(values, indices.astype(index_dtype(xp, n_in)), ids,
                   None if bias is None else bias.copy(), n_out, n_in, block_bytes)

    def to_dense(self):
        """(weight (out, in), mask (out, in) bool, bias (out,) or None), the exact inverse."""
        xp = backend.array_module(self.values)
        shape = (self.out_features, self.in_features)
        weight, mask = xp.zeros(shape, dtype=self.values.dtype), xp.zeros(shape, dtype=bool)
        ids = xp.arange(self.out_features) if self.neurons is None else self.neurons
        rows = ids[:, None]                                       # (n_active, 1)
        weight[rows, self.indices] = self.values
        mask[rows, self.indices] = True
        return weight, mask, None if self.bias is None else self.bias.copy()

    @property
    def nbytes(self) -> int:
        """Bytes held: values, indices, neuron ids and bias."""
        arrays = (self.values, self.indices, self.neurons, self.bias)
        return sum(a.nbytes for a in arrays if a is not None)

    def forward(self, x, train=True):
        """out = x @ (W * M).T + b. x (B, in) -> out (B, out); cache: xt (in, B).

        xt is kept rather than x: both gathers of the backward need the transposed, contiguous
        input, and the gathered (n_active, k, B) buffer itself is too large to keep.
        """
        xp = backend.array_module(x, self.values)
        self.cache = xt = xp.ascontiguousarray(x.T)               # (in, B)
        z = condensed_forward(xt, self.values, self.indices, self.block_bytes)  # (n_active, B)
        out = _place(z, self.neurons, self.bias, self.out_features)  # (out, B)
        return out.T                                              # (B, out) a transposed view

    def backward(self, dout, input_grad=True):
        """dx (B, in); fills grads["values"] (n_active, k) and grads["bias"] (out,)."""
        xp = backend.array_module(dout, self.values)
        active = dout if self.neurons is None else dout[:, self.neurons]  # (B, n_active)
        dz = xp.ascontiguousarray(active.T)                       # (n_active, B)
        dxt, self.grads["values"] = condensed_backward(dz, self.cache, self.values, self.indices,
                                                       self.block_bytes)
        if self.bias is not None:
            self.grads["bias"] = dout.sum(axis=0)                 # (out,) ablated ones included
        return dxt.T


class CondensedConv2d(Layer):
    """A constant fan-in Conv2d layer in condensed form: CondensedLinear on im2col columns.

    A row of the (F, C, kh, kw) weight is one filter's C*kh*kw inputs, so the condensed product
    runs on the (C*kh*kw, N*oh*ow) im2col columns, which are already in the (in, B) layout.
    The same layer convention as ``CondensedLinear``; ``params`` are the inner layer's.
    """

    def __init__(self, linear: CondensedLinear, kernel_shape, stride: int, padding: int):
        super().__init__()
        self.linear, self.kernel_shape = linear, tuple(kernel_shape)  # (F, C, kh, kw)
        self.stride, self.padding = stride, padding
        self.params = linear.params                               # the same arrays

    @classmethod
    def from_dense(cls, weight, mask, bias=None, stride=1, padding=0, block_bytes=BLOCK_BYTES):
        """Condense W (F, C, kh, kw) with a constant fan-in mask M; bias (F,) or None."""
        f = weight.shape[0]
        linear = CondensedLinear.from_dense(weight.reshape(f, -1), mask.reshape(f, -1), bias,
                                            block_bytes)
        return cls(linear, weight.shape, stride, padding)

    def to_dense(self):
        """(weight (F, C, kh, kw), mask (F, C, kh, kw), bias (F,) or None), the exact inverse."""
        weight, mask, bias = self.linear.to_dense()
        return weight.reshape(self.kernel_shape), mask.reshape(self.kernel_shape), bias

    @property
    def nbytes(self) -> int:
        return self.linear.nbytes

    def forward(self, x, train=True):
        """x (N, C, H, W) -> out (N, F, oh, ow); cache: (cols (C*kh*kw, N*oh*ow), x.shape)."""
        xp = backend.array_module(x, self.linear.values)
        f, _, kh, kw = self.kernel_shape
        lin = self.linear
        oh = conv_output_size(x.shape[2], kh, self.stride, self.padding)
        ow = conv_output_size(x.shape[3], kw, self.stride, self.padding)
        cols = im2col(x, kh, kw, self.stride, self.padding)       # (C*kh*kw, N*oh*ow)
        z = condensed_forward(cols, lin.values, lin.indices, lin.block_bytes)  # (n_active, N*oh*ow)
        out = _place(z, lin.neurons, lin.bias, f)                 # (F, N*oh*ow)
        out = out.reshape(f, x.shape[0], oh, ow).transpose(1, 0, 2, 3)  # (N, F, oh, ow)
        # cols: both backward gathers need them; kept rather than recomputed, like conv2d_forward.
        self.cache = (cols, x.shape)
        return xp.ascontiguousarray(out)

    def backward(self, dout, input_grad=True):
        """dx (N, C, H, W); fills grads["values"] (n_active, k) and grads["bias"] (F,)."""
        cols, x_shape = self.cache
        lin, (f, _, kh, kw) = self.linear, self.kernel_shape
        dout = dout.transpose(1, 0, 2, 3).reshape(f, -1)          # (F, N*oh*ow)
        dz = dout if lin.neurons is None else dout[lin.neurons]   # (n_active, N*oh*ow)
        dcols, self.grads["values"] = condensed_backward(dz, cols, lin.values, lin.indices,
                                                         lin.block_bytes)
        if lin.bias is not None:
            self.grads["bias"] = dout.sum(axis=1)                 # (F,)
        return col2im(dcols, x_shape, kh, kw, self.stride, self.padding)  # (N, C, H, W)
