"""Checkpoints: one ``.npz`` that holds everything needed to continue a run bit for bit.

What is saved (all plain arrays, loaded with ``allow_pickle=False``):
- ``param/<name>``, ``buffer/<name>``: model parameters and BatchNorm running statistics;
- ``opt/<name>/<slot>``: every optimizer state slot (momentum, Adam moments) and ``opt_t``;
- ``method/<key>``: the sparse method's arrays (masks, ever-active sets, accumulated gradients,
  snapshots) from ``method.state_arrays()``;
- ``json``: the ``TrainState`` (epoch, batch within the epoch, step, partial epoch sums, history),
  the method's records and the host RNG's bit-generator state, as one JSON string.

The data order of an epoch is a function of (seed, epoch) (``rigl_np.data.epoch_order``), so a
checkpoint only needs the batch position. Files are written atomically (temporary file, fsync,
rename): a run killed while writing keeps its previous checkpoint.
"""
from __future__ import annotations

import dataclasses
import io
import json

import numpy as np

from rigl_np import backend
from rigl_np.runfolder import atomic_write_bytes
from rigl_np.train import TrainState


def save_checkpoint(path, model, optimizer, method, state: TrainState) -> None:
    """Atomically write the whole training state to ``path``."""
    arrays = {f"param/{k}": backend.to_numpy(v) for k, v in model.params().items()}
    arrays.update({f"buffer/{k}": backend.to_numpy(v) for k, v in model.buffers().items()})
    for name, slots in optimizer.state.items():
        arrays.update({f"opt/{name}/{slot}": backend.to_numpy(v) for slot, v in slots.items()})
    arrays["opt_t"] = np.asarray(getattr(optimizer, "t", 0))
    meta = {"state": dataclasses.asdict(state)}
    if method is not None:
        method_arrays, method_meta = method.state_dict()
        arrays.update({f"method/{k}": backend.to_numpy(v) for k, v in method_arrays.items()})
        meta["method"] = method_meta
    arrays["json"] = np.asarray(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path, model, optimizer, method) -> TrainState:
    """Restore model, optimizer and method from ``path`` in place; return the ``TrainState``."""
    with np.load(path, allow_pickle=False) as f:
        files = {k: f[k] for k in f.files}
    meta = json.loads(str(files["json"]))
    model.load({**{k[len("param/"):]: v for k, v in files.items() if k.startswith("param/")},
                **{k[len("buffer/"):]: v for k, v in files.items() if k.startswith("buffer/")}})
    for name, slots in optimizer.state.items():
        for slot, buf in slots.items():
            buf[...] = backend.asarray(files[f"opt/{name}/{slot}"])
    if hasattr(optimizer, "t"):
        optimizer.t = int(files["opt_t"])
    if method is not None:
        method.load_state_dict({k[len("method/"):]: backend.asarray(v)
                                for k, v in files.items() if k.startswith("method/")},
                               meta["method"])
    return TrainState(**meta["state"])
