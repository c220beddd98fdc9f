"""Checkpoints: one ``.npz`` that holds everything needed to continue a run bit for bit.

Host-side module (it may use NumPy directly): it turns the training state into plain arrays.

What is saved (all plain arrays, loaded with ``allow_pickle=False``):
- ``param/<name>``, ``buffer/<name>``: model parameters and BatchNorm running statistics;
- ``opt/<name>/<slot>``: every optimizer state slot (momentum, Adam moments) and ``opt_t``;
- ``method/...``: the method's nested dict of arrays from ``method.state()`` (masks, ever-active
  sets, accumulated gradients, snapshots), flattened into "/"-joined keys by ``flatten``;
- ``json``: the ``TrainState`` (epoch, batch within the epoch, step, partial epoch sums, history),
  the method's records and the host RNG's bit-generator state, as one JSON string.

The data order of an epoch is a function of (seed, epoch) (``rigl_np.data.epoch_order``), so a
checkpoint only needs the batch position. The file is written atomically
(``rigl_np.atomic``): a run killed while writing keeps its previous checkpoint.
"""
from __future__ import annotations

import dataclasses
import io
import json

import numpy as np

from rigl_np import backend
from rigl_np.atomic import atomic_write_bytes
from rigl_np.train import TrainState


def flatten(nested: dict, prefix: str = "") -> dict:
    """``{"a": {"b": x}}`` -> ``{"a/b": x}``: nested dicts of arrays as flat "/"-joined keys."""
    flat = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def unflatten(flat: dict) -> dict:
    """The inverse of ``flatten``."""
    nested = {}
    for key, value in flat.items():
        *parents, leaf = key.split("/")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def save_checkpoint(path, model, optimizer, method, state: TrainState) -> None:
    """Atomically write the whole training state to ``path``."""
    method_arrays, method_meta = method.state()
    nested = {"param": model.params(), "buffer": model.buffers(), "opt": optimizer.state,
              "method": method_arrays}
    arrays = {k: backend.to_numpy(v) for k, v in flatten(nested).items()}
    arrays["opt_t"] = np.asarray(getattr(optimizer, "t", 0))
    meta = {"state": dataclasses.asdict(state), "method": method_meta}
    arrays["json"] = np.asarray(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path, model, optimizer, method) -> TrainState:
    """Restore model, optimizer and method from ``path`` in place; return the ``TrainState``."""
    with np.load(path, allow_pickle=False) as f:
        files = {k: f[k] for k in f.files}
    meta = json.loads(str(files.pop("json")))
    optimizer_t = int(files.pop("opt_t"))
    nested = unflatten(files)
    model.load({**nested.get("param", {}), **nested.get("buffer", {})})
    for name, slots in optimizer.state.items():
        for slot, buf in slots.items():
            buf[...] = backend.asarray(nested["opt"][name][slot])
    if hasattr(optimizer, "t"):
        optimizer.t = optimizer_t
    method_arrays = unflatten({k: backend.asarray(v) for k, v in files.items()
                               if k.startswith("method/")})
    method.load_state(method_arrays.get("method", {}), meta["method"])
    return TrainState(**meta["state"])
