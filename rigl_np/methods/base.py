"""What every sparse method shares: masks outside the model, masked gradients, re-masking, records.

A method is attached to a model and its optimizer, then called twice per batch by
``rigl_np.train.train_step`` (SPEC "Schedule", "Between updates"):

- ``before_step(step, grads)``: ``grads`` are the dense gradients of batch ``step`` (counted from
  1). Here they are masked, so the optimizer never moves an inactive weight. Returns whether the
  optimizer should step (RigL skips the step on its update batches).
- ``after_step(step)``: W <- W * M and every optimizer state slot <- slot * M, so neither weight
  decay nor momentum revives a dead weight. Methods that update masks after the optimizer step
  (SET, SNFS, pruning) do it here.

``Static`` is the base class as it stands: a random exact-count mask that never changes. The
records every run keeps (per-update counts, mask turnover, the ITOP rate: the fraction of weights
ever active) live in ``MaskRecords``. Dense training passes no method at all.
"""
from __future__ import annotations

from rigl_np import backend
from rigl_np.sparsity import density_report, random_masks


class MaskRecords:
    """Per-update records, the ever-active set behind the ITOP rate (Liu et al. 2021), and
    bit-packed mask snapshots for the plots.

    Snapshots are taken at step 0 and then after every mask update (``snapshot_every`` 0) or every
    ``snapshot_every`` batches; each is ``{name: packed uint8 host array}`` (1 bit per weight).
    """

    def __init__(self, masks: dict, snapshot_every: int = 0):
        self.updates = []                                  # one dict per mask update
        self.ever_active = {name: m.copy() for name, m in masks.items()}
        self.snapshot_every = snapshot_every
        self.snapshots = {}                                # {step: {name: packed bits}}
        self.snapshot(0, masks)

    def snapshot(self, step: int, masks: dict) -> None:
        """Keep a bit-packed host copy of every mask at ``step``."""
        self.snapshots[step] = {name: backend.to_numpy(backend.array_module(m).packbits(m.ravel()))
                                for name, m in masks.items()}

    def tick(self, step: int, masks: dict) -> None:
        """Called after every batch: snapshot on the fixed interval, if one was asked for."""
        if self.snapshot_every and step % self.snapshot_every == 0:
            self.snapshot(step, masks)

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
        if not self.snapshot_every:
            self.snapshot(step, masks)
        return record


class Static:
    """A random exact-count mask per layer, drawn once on the host RNG and never changed.

    The base of every sparse method: subclasses change ``initial_masks`` (pruning starts dense)
    or add mask updates in ``before_step`` / ``after_step``.
    """

    name = "static"
    extra_state = ()    # names of further {layer: array} dicts a checkpoint must hold

    def __init__(self, densities: dict, rng, snapshot_every: int = 0):
        self.densities, self.rng, self.snapshot_every = densities, rng, snapshot_every

    def attach(self, model, optimizer):
        """Draw the masks for ``model``'s sparse layers and apply them to weights and state."""
        self.model, self.optimizer, self.params = model, optimizer, model.params()
        self.shapes = {n: self.params[n].shape for n in model.sparsifiable()}
        sparse = {n: s for n, s in self.shapes.items() if self.densities[n] < 1}
        self.masks = self.initial_masks(sparse)                    # {name: bool, weight-shaped}
        self.records = MaskRecords(self.masks, self.snapshot_every)
        self.remask()

    def initial_masks(self, shapes: dict) -> dict:
        """Random exact-count masks on the host RNG, moved to the backend."""
        host = random_masks(shapes, self.densities, self.rng)
        return {n: backend.asarray(m) for n, m in host.items()}

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
        self.records.tick(step, self.masks)

    def summary(self) -> dict:
        report = density_report(self.masks, self.shapes)
        return {"global_density": report["global_density"], "itop_rate": self.records.itop_rate()}

    def state_dict(self):
        """(arrays, JSON-able meta) that ``load_state_dict`` restores exactly (checkpoints)."""
        arrays = {f"mask/{n}": m for n, m in self.masks.items()}
        arrays.update({f"ever/{n}": m for n, m in self.records.ever_active.items()})
        for step, packed in self.records.snapshots.items():
            arrays.update({f"snap/{n}@{step}": p for n, p in packed.items()})
        for attr in self.extra_state:
            arrays.update({f"{attr}/{n}": a for n, a in getattr(self, attr).items()})
        meta = {"updates": self.records.updates, "rng": self.rng.bit_generator.state}
        return arrays, meta

    def load_state_dict(self, arrays: dict, meta: dict) -> None:
        self.masks = {k[len("mask/"):]: v.astype(bool) for k, v in arrays.items()
                      if k.startswith("mask/")}
        self.records.ever_active = {k[len("ever/"):]: v.astype(bool) for k, v in arrays.items()
                                    if k.startswith("ever/")}
        self.records.snapshots = {}
        for key, packed in arrays.items():
            if key.startswith("snap/"):
                name, _, step = key[len("snap/"):].rpartition("@")
                self.records.snapshots.setdefault(int(step), {})[name] = backend.to_numpy(packed)
        self.records.snapshots = dict(sorted(self.records.snapshots.items()))
        self.records.updates = meta["updates"]
        self.rng.bit_generator.state = meta["rng"]
        for attr in self.extra_state:
            setattr(self, attr, {k[len(attr) + 1:]: v for k, v in arrays.items()
                                 if k.startswith(attr + "/")})
