"""The one record of a mask update, and how an update is applied to a model and its optimizer.

Every method's update (RigL, SET, SNFS, SRigL, a pruning step; docs/semantics.md "The RigL
update", "SRigL") returns one ``MaskUpdate`` per layer; ``verify`` reproduces updates as the same
record. The update decides masks only. ``apply_update`` then does what the new mask implies for the
parameters and the optimizer: new connections start at weight 0 with zeroed optimizer state,
dropped ones are zeroed, and connections dropped and grown back keep their weight and state.
"""
from __future__ import annotations

from dataclasses import dataclass

from rigl_np import backend


@dataclass
class MaskUpdate:
    """The outcome of one mask update of one layer (RigL, SET, SNFS, SRigL, a pruning step).

    Every array is boolean with the weight's shape, except ``ablated`` (one flag per neuron).
    ``record()`` is the per-layer record every run keeps of the update (``methods.records``).
    """

    mask: object          # the new mask
    new: object           # active now, inactive before: zero-initialise weight and state
    dropped: object       # active before, not kept by the drop step
    grown: object         # chosen by the grow step (may include just-dropped connections)
    regrown_same: object  # dropped and grown back in the same update: keep weight and state
    n_active: int         # nnz before the update (RigL keeps it; SRigL and pruning may not)
    n_drop: int           # k = floor(f * n_active): the drop step's count (RigL grows as many)
    ablated: object = None   # SRigL only: (out,) bool, neurons left without inputs
    fan_in: int = None       # SRigL only: k', the inputs of every surviving neuron

    @property
    def n_regrown_same(self) -> int:
        return count(self.regrown_same)

    @property
    def n_new(self) -> int:
        return count(self.new)

    def record(self) -> dict:
        """The layer's entry in a run's update record (docs/semantics.md "Metrics"):
        dropped, grown, regrown_same, nnz after; SRigL adds fan_in and active_neurons."""
        record = {"dropped": count(self.dropped), "grown": count(self.grown),
                  "regrown_same": self.n_regrown_same, "nnz": count(self.mask)}
        if self.fan_in is not None:
            record.update(fan_in=self.fan_in,
                          active_neurons=self.ablated.size - count(self.ablated))
        return record


def count(flags) -> int:
    """The number of True entries of a boolean array (on any backend), as a Python int."""
    return int(backend.array_module(flags).count_nonzero(flags))


def unchanged(mask, **structured) -> MaskUpdate:
    """An update that changes nothing (k = 0, or a dense layer); ``structured``: SRigL's
    ``ablated`` and ``fan_in``."""
    none = backend.array_module(mask).zeros(mask.shape, dtype=bool)
    n = count(mask)
    return MaskUpdate(mask, none, none, none, none, n_active=n, n_drop=0, **structured)


def apply_update(params: dict, masks: dict, name: str, result: MaskUpdate, optimizer=None) -> None:
    """Make parameter ``name`` and its optimizer state follow ``result`` (all in place).

    ``result`` is any ``MaskUpdate``: RigL's, SET's, SNFS's, SRigL's or a pruning step's.

    1. New connections start at weight 0 and with every optimizer slot at 0.
    2. ``masks[name]`` becomes the new mask; W <- W * M and state <- state * M zero the dropped
       connections. Regrown-same connections keep their weight and state.
    """
    weight = params[name]
    weight[result.new] = 0
    if optimizer is not None:
        optimizer.reset(name, result.new)
    masks[name] = result.mask
    weight *= result.mask
    if optimizer is not None:
        optimizer.mask_state(name, result.mask)
