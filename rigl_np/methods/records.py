"""What a run keeps of its mask updates: per-update records, the ITOP rate, mask snapshots.

One record per mask update (docs/semantics.md "Metrics"):
``{"step", "drop_fraction", "layers": {name: layer record}, "turnover", "itop_rate",
"connectivity"}``, where a
layer record is ``rigl_np.rigl.MaskUpdate.record()`` (dropped, grown, regrown_same, nnz, and for
SRigL fan_in and active_neurons). Turnover is new connections over active ones; the ITOP rate
(Liu et al. 2021) is the fraction of the sparse layers' weights that have ever been active;
connectivity is ``masks.connectivity`` of the masks after the update (units on an input-output
path, dangling units, collapsed layers). The first masks that cut the network (at the start or
after an update) get one warning line on stderr: a finding, not an error.
"""
from __future__ import annotations

import math

from rigl_np import backend, errors
from rigl_np.masks.connectivity import connectivity


class MaskRecords:
    """Per-update records, the ever-active set behind the ITOP rate, bit-packed mask snapshots.

    Snapshots are taken at step 0 and then after every mask update (``snapshot_every`` 0) or every
    ``snapshot_every`` batches; each is ``{name: packed uint8 host array}`` (1 bit per weight).
    """

    def __init__(self, masks: dict, snapshot_every: int = 0, shapes: dict = None):
        self.updates = []                                  # one dict per mask update
        self.shapes = shapes                               # every sparsifiable layer, in order
        self.warned = False                                # the one disconnection warning given
        self.start = self._connectivity(0, masks)          # of the initial masks
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
        """Record one update; ``layers`` is ``{name: MaskUpdate.record()}``."""
        for name, m in masks.items():
            self.ever_active[name] |= m
        new = sum(v["grown"] - v["regrown_same"] for v in layers.values())
        nnz = sum(v["nnz"] for v in layers.values())
        record = {"step": step, "drop_fraction": drop_fraction, "layers": layers,
                  "turnover": new / nnz if nnz else 0.0, "itop_rate": self.itop_rate()}
        if self.shapes:
            record["connectivity"] = self._connectivity(step, masks)
        self.updates.append(record)
        if not self.snapshot_every:
            self.snapshot(step, masks)
        return record

    def _connectivity(self, step: int, masks: dict):
        """``masks.connectivity`` of ``masks`` (None without shapes), warning once on a cut."""
        c = connectivity(masks, self.shapes) if self.shapes else None
        if c and c["cut"] and not self.warned:
            errors.warn(f"the masks disconnect the network at step {step}: no path from the "
                        f"input to the output crosses {c['cut']}, so the output no longer "
                        "depends on the input (metrics.json: connectivity)")
            self.warned = True
        return c

    def connectivity(self) -> dict:
        """metrics.json ``connectivity``: ``{"start", "end"}``, of the initial and last masks."""
        last = self.updates[-1].get("connectivity") if self.updates else self.start
        return {"start": self.start, "end": last}

    def density_segments(self, shapes: dict, total_steps: int) -> list:
        """``[(share of the run's batches, {layer: density}), ...]``: the masks each batch of a
        run of ``total_steps`` trained with, as recorded (the step-0 snapshot, then every
        update's nnz). An update after batch s's step (or instead of it) holds from batch s + 1;
        runs of equal densities are merged, so a method that keeps its counts has one segment."""
        nnz = {n: int(backend.array_module(bits).unpackbits(bits).sum())          # host arrays
               for n, bits in self.snapshots[0].items()}
        changes = [(0, nnz)] + [(u["step"], {n: v["nnz"] for n, v in u["layers"].items()})
                                for u in self.updates]
        segments = []                                        # [[batches, densities], ...]
        for i, (step, counts) in enumerate(changes):
            end = changes[i + 1][0] if i + 1 < len(changes) else total_steps
            at = {n: c / math.prod(shapes[n]) for n, c in counts.items()}
            if segments and segments[-1][1] == at:
                segments[-1][0] += end - step
            elif end > step:
                segments.append([end - step, at])
        return [(batches / total_steps, at) for batches, at in segments]

    def state(self):
        """(nested dict of arrays, JSON-able meta) for a checkpoint; steps become string keys."""
        arrays = {"ever": self.ever_active,
                  "snap": {str(step): packed for step, packed in self.snapshots.items()}}
        return arrays, {"updates": self.updates}

    def load_state(self, arrays: dict, meta: dict) -> None:
        self.ever_active = {n: m.astype(bool) for n, m in arrays.get("ever", {}).items()}
        snaps = arrays.get("snap", {})
        self.snapshots = {int(step): {n: backend.to_numpy(p) for n, p in packed.items()}
                          for step, packed in sorted(snaps.items(), key=lambda kv: int(kv[0]))}
        self.updates = meta["updates"]
        self.warned = self.warned or any((u.get("connectivity") or {}).get("cut")
                                         for u in self.updates)
