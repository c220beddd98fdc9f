"""What every sparse method shares: masks outside the model, masked gradients, re-masking, records.

A method is attached to a model and its optimizer, then called twice per batch by
``rigl_np.train.train_step`` (SPEC "Schedule", "Between updates"):

- ``before_step(step, grads)``: ``grads`` are the dense gradients of batch ``step`` (counted from
  1). Here they are masked, so the optimizer never moves an inactive weight. Returns whether the
  optimizer should step (RigL skips the step on its update batches).
- ``after_step(step)``: W <- W * M and every optimizer state slot <- slot * M, so neither weight
  decay nor momentum revives a dead weight. Methods that update masks after the optimizer step
  (SET, SNFS, pruning) do it here.

``Static`` is this class as it stands: a random exact-count mask that never changes. ``Dense`` has
no masks at all. The records every run keeps (per-update counts, mask turnover, the ITOP rate:
the fraction of weights ever active) live in ``MaskRecords``.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.sparsity import density_report, random_masks


class MaskRecords:
    """Per-update records and the ever-active set behind the ITOP rate (Liu et al. 2021)."""

    def __init__(self, masks: dict):
        self.updates = []                                  # one dict per mask update
        self.ever_active = {name: m.copy() for name, m in masks.items()}

    def itop_rate(self) -> float:
        """Fraction of the sparse layers' weights that have been active at some point."""
        ever = sum(int(backend.to_scalar(m.sum())) for m in self.ever_active.values())
        size = sum(m.size for m in self.ever_active.values())
        return ever / size if size else 1.0

    def add(self, step: int, drop_fraction: float, layers: dict, masks: dict) -> dict:
        """Record one update; ``layers`` is ``{name: {"dropped", "grown", "regrown_same", ...}}``."""
        for name, m in masks.items():
            self.ever_active[name] |= m
        new = sum(v["grown"] - v["regrown_same"] for v in layers.values())
        nnz = sum(v["nnz"] for v in layers.values())
        record = {"step": step, "drop_fraction": drop_fraction, "layers": layers,
                  "turnover": new / nnz if nnz else 0.0, "itop_rate": self.itop_rate()}
        self.updates.append(record)
        return record


class Dense:
    """No masks: plain dense training, with the same hooks as the sparse methods."""

    name = "dense"

    def attach(self, model, optimizer):
        self.model, self.optimizer = model, optimizer
        self.shapes = {n: model.params()[n].shape for n in model.sparsifiable()}
        self.masks = {}

    def before_step(self, step, grads) -> bool:
        return True

    def after_step(self, step) -> None:
        pass

    def summary(self) -> dict:
        return {"global_density": density_report(self.masks, self.shapes)["global_density"]}


class Static(Dense):
    """A random exact-count mask per layer, drawn once on the host RNG and never changed."""

    name = "static"

    def __init__(self, densities: dict, rng):
        self.densities, self.rng = densities, rng

    def attach(self, model, optimizer):
        super().attach(model, optimizer)
        self.params = model.params()
        sparse = {n: s for n, s in self.shapes.items() if self.densities[n] < 1}
        host = random_masks(sparse, self.densities, self.rng)
        self.masks = {n: backend.asarray(m) for n, m in host.items()}   # bool, weight-shaped
        self.records = MaskRecords(self.masks)
        self.remask()

    def remask(self) -> None:
        """W <- W * M and optimizer state <- state * M for every sparse layer."""
        for name, mask in self.masks.items():
            self.params[name] *= mask
            self.optimizer.mask_state(name, mask)

    def before_step(self, step, grads) -> bool:
        for name, mask in self.masks.items():
            grads[name] *= mask
        return True

    def after_step(self, step) -> None:
        self.remask()

    def summary(self) -> dict:
        report = density_report(self.masks, self.shapes)
        return {"global_density": report["global_density"], "itop_rate": self.records.itop_rate()}
