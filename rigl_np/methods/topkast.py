"""Top-KAST (Jayakumar et al., "Top-KAST: Top-K Always Sparse Training", NeurIPS 2020): a
sparse forward set inside a larger backward set, both chosen from dense parameters by magnitude.

The whole method, part by part (docs/semantics.md "Top-KAST"):
- the parameters θ stay dense (stored at full size for every sparse layer: the memory cost
  Top-KAST pays, reported as ``stored_density`` 1 in every epoch's record);
- structure: per layer, forward set A = the top-D |θ| (D: the layer's density) and backward set
  B = the top-(D + M) |θ| (M: ``--topkast-extra-density``), so A ⊆ B (the same ranking, the
  ``masks.select`` tie rule); ``self.masks`` is A (what the run records, draws and prices as the
  model), ``self.backward`` is B;
- schedule: both sets recomputed from θ after the optimizer step of every ΔT-th batch, for the
  whole run (``--delta-t 1``: every batch); fraction 0;
- forward weights (``forward_weights``): θ * A, the model every batch computes with;
- before the step: the exploration penalty is added to the gradient, λ θ on A and λ θ / D on
  B \\ A (heavier outside the forward set, so a weight there must earn its way in), and only B
  keeps a gradient; after the step θ outside B is put back as it was (weight decay and momentum
  never move it) and the optimizer state outside B is zeroed;
- FLOPs per example: forward over A, the input gradient over A, the weight gradient over B:
  2 f_A + f_B (``training_flops``), against RigL's 3 f_S between updates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from rigl_np import backend
from rigl_np.flops import forward_flops
from rigl_np.masks import MaskUpdate, count, select_top_k
from rigl_np.methods.base import Method
from rigl_np.methods.schedules import PruningSchedule
from rigl_np.options import check_fields, opt, require
from rigl_np.sparsity import nnz_for


@dataclass
class Options:
    topkast_extra_density: float = opt(0.1, "Top-KAST: M, the backward set's density above the "
                                       "forward set's (B = top-(D + M) |θ|)")
    topkast_penalty: float = opt(1e-4, "Top-KAST: λ of the exploration penalty (λ θ on the "
                                 "forward set, λ θ / D on the rest of the backward set)")

    def __post_init__(self):
        check_fields(self)
        require(0 <= self.topkast_extra_density <= 1, "topkast_extra_density", "lie in [0, 1]",
                self.topkast_extra_density)
        require(self.topkast_penalty >= 0, "topkast_penalty", "be at least 0",
                self.topkast_penalty)


@dataclass(frozen=True)
class RefreshSchedule(PruningSchedule):
    """Both sets recomputed after the step of every ΔT-th batch, for the whole run."""

    def due(self, step: int) -> bool:
        return step % self.delta_t == 0


class TopKAST(Method):
    """Forward with the top-D |θ|, train the top-(D + M) |θ|, keep θ dense."""

    name = "topkast"
    colour = "tab:pink"
    Options = Options
    schedule = RefreshSchedule()

    def _top(self, extra: float) -> dict:
        """``{sparse layer: its nnz_for(N, d + extra) largest |θ|}`` (all of θ competes)."""
        out = {}
        for name in self.budgets:
            w = self.params[name]
            xp = backend.array_module(w)
            n = nnz_for(math.prod(w.shape), min(1.0, self.densities[name] + extra))
            out[name] = select_top_k(xp.abs(w), xp.ones(w.shape, dtype=bool), n)
        return out

    def initial_masks(self, shapes: dict) -> dict:
        """A and B from the dense initial θ (no random draw)."""
        self._outside = {}            # {layer: θ outside B}, kept by before_step for remask
        self.backward = self._top(self.options.topkast_extra_density)
        return self._top(0.0)

    def remask(self) -> None:
        """θ stays dense; θ outside B is put back as it was before the step (saved by
        ``before_step``), and the optimizer state outside B is zeroed."""
        for name, b in self.backward.items():
            kept = self._outside.get(name)
            if kept is not None:
                self.params[name][~b] = kept
            self.optimizer.mask_state(name, b)
        self._outside = {}

    def forward_weights(self, step: int):
        return {name: self.params[name] * a for name, a in self.masks.items()}    # θ * A

    def before_step(self, step, grads) -> bool:
        lam = self.options.topkast_penalty
        self._outside = {}
        for name, a in self.masks.items():
            b, w = self.backward[name], self.params[name]
            xp, f = backend.array_module(w), w.dtype.type
            # 1. the exploration penalty: λ θ on A, λ θ / D on B \ A (outside B: masked next)
            grads[name] += w * xp.where(a, f(lam), f(lam / self.densities[name]))
            # 2. only B gets a gradient; θ outside it is kept to be put back after the step
            grads[name] *= b
            self._outside[name] = w[~b]
        return True

    def update(self, step, f) -> dict:
        """The new forward set of every layer (and, beside it, the new backward set)."""
        self.backward = self._top(self.options.topkast_extra_density)
        new = self._top(0.0)
        out = {}
        for name, old in self.masks.items():
            grown, dropped = new[name] & ~old, old & ~new[name]
            out[name] = MaskUpdate(new[name], grown, dropped, grown, grown & dropped,
                                   n_active=count(old), n_drop=count(dropped))
        return out

    def update_masks(self, step: int) -> dict:
        """Recompute A and B from θ and record A's change; θ itself is never touched."""
        results = self.update(step, 0.0)
        self.masks = {name: r.mask for name, r in results.items()}
        for name, b in self.backward.items():
            self.optimizer.mask_state(name, b)
        return self.records.add(step, 0.0, {n: r.record() for n, r in results.items()},
                                self.masks)

    def training_flops(self, flops: dict, densities: dict) -> float:
        """2 f_A + f_B: forward and input gradient over A, weight gradient over B."""
        extra = self.options.topkast_extra_density
        backward = {n: min(1.0, d + extra) if d < 1 else 1.0 for n, d in densities.items()}
        return 2 * forward_flops(flops, densities) + forward_flops(flops, backward)

    def summary(self) -> dict:
        """Besides the forward set's density: B's, and θ's stored density (1: dense)."""
        nnz = sum(count(b) for b in self.backward.values())
        size = sum(b.size for b in self.backward.values())
        return {**super().summary(), "backward_density": nnz / size if size else 1.0,
                "stored_density": 1.0}

    def state(self):
        arrays, meta = super().state()
        return {**arrays, "backward": self.backward}, meta

    def load_state(self, arrays: dict, meta: dict) -> None:
        super().load_state(arrays, meta)
        self.backward = {n: b.astype(bool) for n, b in arrays.get("backward", {}).items()}
