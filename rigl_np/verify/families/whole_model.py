"""The whole-model family: a method whose update spans layers (one ranking over every layer, say),
reproduced by the method's own ``update`` on a whole-model file.

A method declares it with ``Verification(scope="model")``. ``prepare`` runs the method's update
(``methods.base.Method.reproduce``) once on every layer of the file (weights, masks, the grow key's
arrays as the file holds them, the drop fraction and step), and each layer is then judged against
its part of that update, as any layer is: identical, equivalent (ties), or differs, with the
weight and optimizer-state rules on their mask. No convention is searched (there is no switch to
turn for a method verify only knows by its own update); a single-layer file is refused, since the
update cannot be reproduced from one layer.
"""
from __future__ import annotations

import numpy as np

from rigl_np.masks import unchanged
from rigl_np.methods.base import REGISTRY
from rigl_np.verify.conventions import Convention, Trial


class WholeModel:
    """Every layer of a whole-model file through the method's own update."""

    required_keys = ()
    optional_keys = ()
    switches = ()
    whole_model = True

    def __init__(self):
        self._ours = {}                                  # {(path, layer): MaskUpdate}

    def check(self, p):
        if p.layer is None:
            return ("updates every layer at once: dump the whole model in one file (keys "
                    "<layer>/weight, <layer>/mask, ...)")
        return None

    def prepare(self, problems: list) -> None:
        """The method's update of every layer of one file, kept for ``ours``."""
        first = problems[0]
        arrays = {name: {p.layer: getattr(p, name) for p in problems}
                  for name in ("weight", "mask", "signal")}
        result = REGISTRY[first.method].reproduce(arrays["weight"], arrays["mask"],
                                                  arrays["signal"], first.drop_fraction,
                                                  first.step or 0)
        self._ours = {(p.path, p.layer): result.get(p.layer) or unchanged(p.mask)
                      for p in problems}

    def ours(self, p):
        """This layer's part of the method's update of the whole file."""
        return self._ours[(p.path, p.layer)]

    def trials(self, p, prune: bool = True) -> list:
        return [Trial(Convention(), self.ours(p).n_drop, "the method's own count", "active")]

    def run(self, p, trial: Trial, drop_score, grow_score):
        return self.ours(p)

    def diagnose(self, p, trial: Trial, ref, scores) -> tuple:
        """(drop right?, grow right?, causes, phrases): which side of the mask differs."""
        off = ref.mask != p.new_mask
        return not (off & p.mask).any(), not (off & ~p.mask).any(), [], []

    def head(self, p, mine) -> str:
        return (f"{int(np.count_nonzero(p.mask)):,} active; the whole model's update drops "
                f"{mine.n_drop:,} and grows {int(np.count_nonzero(mine.grown)):,} here")
