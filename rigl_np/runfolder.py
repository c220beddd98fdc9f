"""The run folder: everything one run leaves behind, written so that nothing is ever half-written.

Host-side module (NumPy for the mask snapshots file).

Layout of ``runs/NAME/``:
- ``config.json``   every setting of the run (the CLI's dataclasses);
- ``metrics.json``  the results (docs/semantics.md "Metrics"): test_accuracy, history,
                    layer_density, global_density, mask_updates, train_seconds, flops, ...;
- ``history.csv``   one line per epoch, for spreadsheets;
- ``masks.npz``     bit-packed mask snapshots (``save_snapshots`` / ``load_snapshots``).

Every file is written with ``rigl_np.atomic`` (a temporary file in the same folder, renamed over
the old one), so a crash leaves the previous version, never a torn file.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from rigl_np.atomic import atomic_write_bytes


def write_json(path, obj) -> None:
    """Atomically write ``obj`` as indented JSON."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_history_csv(path, epochs: list) -> None:
    """Atomically write the per-epoch records (dicts of scalars) as CSV."""
    keys = [k for k in epochs[0] if not isinstance(epochs[0][k], (dict, list))] if epochs else []
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(epochs)
    atomic_write_bytes(path, out.getvalue().encode())


def save_snapshots(path, snapshots: dict, shapes: dict) -> None:
    """Atomically write ``{step: {name: packed uint8}}`` snapshots as ``.npz``.

    Keys: ``"<name>@<step>"`` holds the packed bits (np.packbits of the C-order mask) and
    ``"<name>@shape"`` the mask's shape. Plain arrays only, so it loads with allow_pickle=False.
    """
    arrays = {f"{name}@shape": np.asarray(shape, dtype=np.int64) for name, shape in shapes.items()}
    for step, masks in snapshots.items():
        arrays.update({f"{name}@{step}": packed for name, packed in masks.items()})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_snapshots(path) -> dict:
    """``{step: {name: bool array}}`` from ``save_snapshots``' file, steps in increasing order."""
    with np.load(path, allow_pickle=False) as f:
        shapes = {k[:-len("@shape")]: tuple(f[k]) for k in f.files if k.endswith("@shape")}
        out = {}
        for key in f.files:
            name, _, step = key.rpartition("@")
            if step == "shape":
                continue
            shape = shapes[name]
            bits = np.unpackbits(f[key], count=int(np.prod(shape))).astype(bool)
            out.setdefault(int(step), {})[name] = bits.reshape(shape)
    return dict(sorted(out.items()))
