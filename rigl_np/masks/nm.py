"""N:M masks: exactly N active weights in every group of M consecutive inputs (2:4 and friends).

The structure sparse tensor cores compress (Mishra et al. 2021, "Accelerating Sparse Deep Neural
Networks"; docs/semantics.md "N:M"). A group is M consecutive weights along the fan-in:

- Linear (out, in): inputs [j M, (j + 1) M) of one output row;
- Conv2d (out, in, kh, kw): input channels [j M, (j + 1) M) at one kernel position (r, s) of one
  output channel.

A group never straddles two rows. In both cases moving the input axis last,
(out, [kh, kw,] in), and cutting it into pieces of M gives the groups as the rows of a (G, M)
array, G = size / M, in the order (out, r, s, j); inside a group the position is the input
offset, so a lower position is a lower flat index of the weight (the tie rule of
``masks.select`` holds group by group). A layer whose ``in`` is not a multiple of M has no N:M
mask: it stays dense.

- ``groups`` / ``ungroup``: a weight-shaped array to its (G, M) groups and back;
- ``group_counts`` / ``bad_groups``: the active count of every group, the groups that do not hold N;
- ``group_name``: a group index as the weight position it starts at, for messages;
- ``nm_mask``: a random mask with exactly N of every group, drawn on the host RNG;
- ``NM``: the structure a method declares (``--nm N:M``): densities, budgets, initial masks, and
  which layers stay dense and why.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from rigl_np import backend
from rigl_np.masks.select import row_top_k
from rigl_np.masks.structure import Structure

KEEP_DENSE = ("none", "first", "last", "first-last")   # --nm-keep-dense: layers left out of N:M


def groups(a, m: int):
    """``a`` (out, in) or (out, in, kh, kw) -> its (G, M) groups of M consecutive inputs."""
    xp = backend.array_module(a)
    return xp.moveaxis(a, 1, -1).reshape(-1, m)               # (out, [kh, kw,] in) -> (G, M)


def ungroup(g, shape):
    """The inverse of ``groups``: (G, M) -> an array of the weight's ``shape``."""
    xp = backend.array_module(g)
    moved = (shape[0], *shape[2:], shape[1])                  # (out, [kh, kw,] in)
    return xp.moveaxis(g.reshape(moved), -1, 1)               # (out, in[, kh, kw])


def eligible(shape, m: int) -> bool:
    """True when a weight of ``shape`` can hold N:M groups (its ``in`` is a multiple of M)."""
    return len(shape) >= 2 and shape[1] % m == 0


def group_counts(mask, m: int):
    """(G,) the number of active weights in each group of ``mask``."""
    return backend.array_module(mask).count_nonzero(groups(mask, m), axis=1)


def bad_groups(mask, n: int, m: int) -> list:
    """The group indices (ascending) whose active count is not ``n``."""
    xp = backend.array_module(mask)
    return [int(i) for i in backend.to_numpy(xp.flatnonzero(group_counts(mask, m) != n))]


def group_name(index: int, shape, m: int) -> str:
    """Group ``index`` as the weight position of its first input: "[3, 4:8]" (Linear),
    "[3, 4:8, 1, 2]" (conv: output 3, inputs 4 to 7, kernel position (1, 2))."""
    inputs, kernel = shape[1] // m, shape[2:]
    row, rest = divmod(index, inputs * math.prod(kernel))
    position, j = divmod(rest, inputs)                         # kernel position, group in row
    at = []
    for k in reversed(kernel):                                 # (r, s) from the position
        position, offset = divmod(position, k)
        at.insert(0, str(offset))
    return "[" + ", ".join([str(row), f"{j * m}:{(j + 1) * m}", *at]) + "]"


def nm_mask(shape, n: int, m: int, rng):
    """A random boolean mask of ``shape`` with exactly ``n`` active weights in each group of
    ``m``: scores drawn on the host ``rng`` ((G, M) uniform), the ``n`` largest of each group
    kept, moved to the backend."""
    xp = backend.xp()
    score = backend.asarray(rng.random((math.prod(shape) // m, m)))        # (G, M) host draw
    chosen = row_top_k(score, xp.ones(score.shape, dtype=bool), xp.full(score.shape[0], n))
    return ungroup(chosen, shape)


@dataclass(frozen=True)
class NM(Structure):
    """N:M structure: every eligible layer holds exactly n of every m (density n / m).

    ``keep_dense`` ("none", "first", "last", "first-last") leaves the first and/or last
    sparsifiable layer dense as well as every layer whose ``in`` is not a multiple of m.
    """

    n: int
    m: int
    keep_dense: str = "none"

    def __post_init__(self):
        if not 0 < self.n < self.m:
            raise ValueError(f"N:M needs 0 < N < M, got {self.n}:{self.m}")
        if self.keep_dense not in KEEP_DENSE:
            raise ValueError(f"keep_dense must be one of {KEEP_DENSE}, got {self.keep_dense!r}")

    def dense_layers(self, shapes: dict) -> dict:
        """``{layer: why it stays dense}`` for the layers given as ``{name: shape}`` in order."""
        names, why = list(shapes), {}
        for name, shape in shapes.items():
            if not eligible(shape, self.m):
                why[name] = f"its {shape[1]} inputs are not a multiple of {self.m}"
        if names and self.keep_dense in ("first", "first-last"):
            why.setdefault(names[0], "the first layer is kept dense (--nm-keep-dense)")
        if names and self.keep_dense in ("last", "first-last"):
            why.setdefault(names[-1], "the last layer is kept dense (--nm-keep-dense)")
        return why

    def densities(self, shapes: dict, densities: dict = None) -> dict:
        """``{layer: n / m}``, or 1 for the layers that stay dense (whatever the distribution's
        ``densities``: the run's are checked to be n / m, ``methods.nm.check``)."""
        dense = self.dense_layers(shapes)
        return {name: 1.0 if name in dense else self.n / self.m for name in shapes}

    def budgets(self, shapes: dict, densities: dict) -> dict:
        """``{layer: size * n / m}``: what each N:M layer holds, exactly."""
        return {name: math.prod(s) // self.m * self.n for name, s in shapes.items()}

    def initial_masks(self, shapes: dict, densities: dict, rng) -> dict:
        return {name: nm_mask(s, self.n, self.m, rng) for name, s in shapes.items()}

    def notices(self, shapes: dict) -> list:
        """One line per layer left dense, and why."""
        return [f"--nm {self.n}:{self.m}: {name} stays dense ({why})"
                for name, why in self.dense_layers(shapes).items()]

    def record(self, shapes: dict) -> dict:
        """What metrics.json records: n, m, and the layers left dense with the reason."""
        return {"n": self.n, "m": self.m, "keep_dense": self.keep_dense,
                "dense_layers": self.dense_layers(shapes)}

