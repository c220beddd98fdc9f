"""RigL (Evci et al. 2020, Section 3): drop the smallest |W|, grow the largest |dense gradient|.

The whole method, part by part (docs/semantics.md "The RigL update", "Schedule"):
- structure: unstructured, exact-count random initial masks at each layer's density;
- schedule: an update every ΔT batches while t < T_end, at the cosine drop fraction f(t); the
  update batch takes no optimizer step (as in the official code and rigl-torch);
- signal: the dense gradient of the update batch, or the mean of the last ``grad_accumulation``
  batches (rigl-torch's ``grad_accumulation_n``); FLOPs charge it on those batches only;
- update: per layer, ``rigl.rigl_update``: drop k = floor(f * nnz) active connections by |W|,
  grow k by |G| (just-dropped ones may return); new connections start at 0.
- ``--selection global`` (``selection.py``, resolved when the method is built): the initial
  masks and every update rank all sparse layers together (k = floor(f * total nnz)).
- ``--nm N:M`` (``nm.py``, resolved when the method is built): N:M masks, and per layer
  ``nm.nm_update`` with the grow score |G|: the same layer-wide drop, every group regrown to N.
"""
from __future__ import annotations

from dataclasses import dataclass

from rigl_np.methods import nm, selection
from rigl_np.methods.base import Method, Verification
from rigl_np.methods.schedules import DropFractionSchedule
from rigl_np.methods.signals import DenseGradient
from rigl_np.options import opt, require
from rigl_np.nm import nm_update
from rigl_np.rigl import rigl_score, rigl_update


@dataclass
class Options(nm.NMSelection):
    grad_accumulation: int = opt(1, "batches whose dense gradients are averaged for growth")

    def __post_init__(self):
        super().__post_init__()
        require(self.grad_accumulation >= 1, "grad_accumulation", "be at least 1",
                self.grad_accumulation)


class RigL(Method):
    """Grow by the dense gradient; the update batch takes no optimizer step."""

    name = "rigl"
    colour = "tab:red"
    Options = Options
    schedule = DropFractionSchedule(skip_step=True)
    Signal = DenseGradient
    verification = Verification("grad", "the dense gradient the update grew by, w.r.t. W*M",
                                rigl_score)

    def update(self, step, f):
        grads = self.signal.value
        if self.options.nm:
            s = self.structure
            return {n: nm_update(self.params[n], m, rigl_score(grads[n]), f, s.n, s.m)
                    for n, m in self.masks.items()}
        if self.options.selection == "global":
            return selection.global_drop_and_grow(
                self.params, self.masks, {n: rigl_score(grads[n]) for n in self.masks}, f,
                self.options)
        return {n: rigl_update(self.params[n], m, grads[n], f) for n, m in self.masks.items()}
