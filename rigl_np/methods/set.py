"""SET (Mocanu et al. 2018), as the RigL paper runs it: drop the smallest |W|, grow at random.

The whole method, part by part (docs/semantics.md "Baselines"):
- structure: unstructured, exact-count random initial masks;
- schedule: RigL's (every ΔT batches while t < T_end, the cosine drop fraction), but the update
  follows the batch's optimizer step;
- signal: none; the grow scores are uniform random numbers drawn on the host RNG at the update;
- update: per layer, ``rigl.mask_update`` with those scores; ``--selection global``
  (``selection.py``, resolved when the method is built): the initial masks and every update over
  all sparse layers together (the random grow scores are never normalised);
- ``--nm N:M`` (``nm.py``, resolved when the method is built): N:M masks, and per layer
  ``nm.nm_update`` with the same random scores: the layer-wide drop, every group regrown to N.
Left out: original SET's random non-zero re-initialisation and its separate drop of the
positive and negative weights.
"""
from __future__ import annotations

from rigl_np.methods import nm, selection
from rigl_np.methods.base import Method, Verification
from rigl_np.methods.schedules import DropFractionSchedule
from rigl_np.nm import nm_update
from rigl_np.rigl import mask_update, set_score


class SET(Method):
    """Grow at random positions; update after the optimizer step."""

    name = "set"
    colour = "tab:orange"
    Options = nm.NMSelection
    schedule = DropFractionSchedule(skip_step=False)
    verification = Verification("grow_score", "the random grow scores the update ranked",
                                label="score")

    def update(self, step, f):
        if self.options.nm:
            s = self.structure
            return {n: nm_update(self.params[n], m, set_score(m.shape, self.rng), f, s.n, s.m)
                    for n, m in self.masks.items()}
        if self.options.selection == "global":
            scores = {n: set_score(m.shape, self.rng) for n, m in self.masks.items()}
            return selection.global_drop_and_grow(self.params, self.masks, scores, f,
                                                  self.options, normalise_grow=False)
        return {n: mask_update(self.params[n], m, set_score(m.shape, self.rng), f)
                for n, m in self.masks.items()}
