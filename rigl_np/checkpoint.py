"""Checkpoints: one ``.npz`` that holds everything needed to continue a run bit for bit.

Host-side module (it may use NumPy directly): it turns the training state into plain arrays.

What is saved (all plain arrays, loaded with ``allow_pickle=False``):
- ``param/<name>``, ``buffer/<name>``: model parameters and BatchNorm running statistics;
- ``opt/<name>/<slot>``: every optimizer state slot (momentum, Adam moments) and ``opt_t``;
- ``method/...``: the method's nested dict of arrays from ``method.state()`` (masks, ever-active
  sets, accumulated gradients, snapshots), flattened into "/"-joined keys by ``flatten``;
- ``json``: the ``TrainState`` (epoch, batch within the epoch, step, partial epoch sums, history),
  the method's records, the host RNG's bit-generator state and the run's identity (its
  configuration without the folder and the learning rate), as one JSON string.

The data order of an epoch is a function of (seed, epoch) (``rigl_np.data.epoch_order``), so a
checkpoint only needs the batch position. The file is written atomically
(``rigl_np.atomic``): a run killed while writing keeps its previous checkpoint.

Loading checks the whole file before it changes anything: the identity (a checkpoint of another
model, method or run), every key, shape and dtype against the live model, optimizer and method
(read from the arrays' headers, before any data), then the arrays themselves (the zip CRCs catch
flipped bits; inf/NaN is refused), the position in the run and the method's records. Whatever is
wrong raises ``CheckpointError`` naming the file and the key.
"""
from __future__ import annotations

import copy
import dataclasses
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from rigl_np import backend
from rigl_np.atomic import atomic_write_bytes
from rigl_np.config import MAX_EPOCHS, upgrade
from rigl_np.errors import UsageError
from rigl_np.reading import bounded, damaged, npz_headers as read_manifest, open_regular
from rigl_np.runcheck import epoch_records, number
from rigl_np.train import TrainState, non_finite

EPOCH_KEYS = ("epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "seconds",
              "lr")                     # what every epoch record of a checkpoint holds
MAX_COUNT = 10**12                      # a bound for counts when the run's geometry is unknown
MAX_JSON_BYTES = 64 << 20               # a checkpoint's JSON (state, records) is far smaller


class CheckpointError(UsageError):
    """A checkpoint that cannot be resumed from: damaged, or from another model, method or run."""


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


def state_arrays(model, optimizer, method) -> dict:
    """Every array a checkpoint of these objects holds, by key (``method`` as it is now): what
    is saved, and what ``train.non_finite`` checks before every save."""
    return flatten({"param": model.params(), "buffer": model.buffers(), "opt": optimizer.state,
                    "method": method.state()[0]})


def save_checkpoint(path, model, optimizer, method, state: TrainState, identity=None,
                    config=None) -> None:
    """Atomically write the whole training state to ``path``; ``identity`` (a JSON-able dict)
    lets ``load_checkpoint`` refuse a checkpoint of another run, ``config`` (``config_record``)
    one whose config.json was edited since."""
    _, method_meta = method.state()
    arrays = {k: backend.to_numpy(v) for k, v in state_arrays(model, optimizer, method).items()}
    arrays["opt_t"] = np.asarray(getattr(optimizer, "t", 0))
    meta = {"state": dataclasses.asdict(state), "method": method_meta, "identity": identity,
            "config": config}
    arrays["json"] = np.asarray(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _variable_spec(key: str, method):
    """(shape, dtype kind) of a method key whose presence varies over a run, or None.

    Mask snapshots ``method/records/snap/<step>/<layer>`` (packed bits) and the method's extra
    state ``method/<attr>/<layer>`` that a fresh method lacks (gradients accumulated for the
    next update)."""
    parts = key.split("/")
    masks = method.masks
    if parts[:3] == ["method", "records", "snap"] and len(parts) == 5 and parts[3].isdigit() \
            and parts[4] in masks:
        return ((masks[parts[4]].size + 7) // 8,), "u"
    if len(parts) == 3 and parts[0] == "method" and parts[1] in method.extra_state \
            and parts[2] in masks:
        return tuple(masks[parts[2]].shape), "f"
    return None


def check_manifest(manifest: dict, model, optimizer, method) -> list:
    """Every problem of a checkpoint's keys, shapes and dtypes against the live objects."""
    live = state_arrays(model, optimizer, method)
    required = {k: (tuple(v.shape), np.dtype(v.dtype)) for k, v in live.items()
                if not k.startswith("method/records/snap/")}
    required["opt_t"], required["json"] = ((), "i"), ((), "U")
    problems = [f"missing {k}" for k in sorted(set(required) - set(manifest))]
    for key, (shape, dtype) in sorted(manifest.items()):
        if dtype.hasobject:
            problems.append(f"{key} holds Python objects (a pickle), which are never loaded")
            continue
        want = required.get(key) or _variable_spec(key, method)
        if want is None:
            problems.append(f"unexpected key {key}")
            continue
        want_shape, want_dtype = want
        kind_ok = dtype.kind == want_dtype if isinstance(want_dtype, str) else dtype == want_dtype
        if shape != want_shape or not kind_ok:
            problems.append(f"{key} is {dtype} {shape}, expected {want_dtype} {want_shape}")
    return problems


def _state(meta: dict, geometry) -> TrainState:
    """The ``TrainState`` in a checkpoint's JSON, every field's type, range and count checked
    against the run's ``geometry`` (epochs, batches per epoch, batch size)."""
    fields = {f.name: f for f in dataclasses.fields(TrainState)}
    saved = meta["state"]
    unknown = sorted(set(saved) - set(fields))
    if unknown:
        raise ValueError(f"unknown training-state field(s) {unknown}")
    state = TrainState(**saved)
    epochs, per_epoch, batch_size = geometry or (MAX_EPOCHS, MAX_COUNT, MAX_COUNT)
    bounded(state.epoch, 0, epochs, "training-state epoch")
    bounded(state.batch, 0, per_epoch, "training-state batch")
    bounded(state.step, 0, epochs * per_epoch, "training-state step")
    bounded(state.correct, 0, state.batch * batch_size, "training-state correct (predictions "
            "right so far this epoch)")
    for name in ("loss_sum", "seconds") + (("lr",) if state.lr is not None else ()):
        value = getattr(state, name)
        if not number(value) or value < 0:
            raise ValueError(f"training-state {name} is {value!r}, not a number of at least 0")
    if not epoch_records(state.history, EPOCH_KEYS):
        raise ValueError("training-state history is not a list of epoch records (epoch 1, 2, "
                         f"... each with {', '.join(EPOCH_KEYS)}, finite and not negative)")
    if geometry is not None and (len(state.history) != state.epoch
                                 or state.step != state.epoch * per_epoch + state.batch):
        raise ValueError(f"its position (epoch {state.epoch}, batch {state.batch}, step "
                         f"{state.step}, {len(state.history)} epochs recorded) does not fit a "
                         f"run of {epochs} epochs of {per_epoch} batches")
    return state


def config_record(settings: dict, changes: list) -> dict:
    """What a checkpoint keeps of config.json (``to_dict`` form, and its ``changes``): all of
    it but the run's folder, so that a config.json edited by hand is caught at the resume."""
    run = {k: v for k, v in settings["run"].items() if k not in ("out", "resume")}
    return {"settings": {**settings, "run": run}, "changes": list(changes)}


def check_config(path, saved, current, step=None) -> None:
    """Refuse a config.json that differs from the one the checkpoint was saved with, unless by
    the one change a ``--resume --lr`` made at this checkpoint (recorded in ``changes``)."""
    if saved is None or current is None or saved == current:
        return
    new, old = current["changes"], saved["changes"]
    if new[:len(old)] == old and len(new) == len(old) + 1 and new[-1]["step"] == step:
        lr = new[-1]["to"]
        moved = {**saved["settings"], "optim": {**saved["settings"]["optim"], "lr": lr}}
        if moved == current["settings"] and new[-1]["from"] == saved["settings"]["optim"]["lr"]:
            return
    diff = [f"{group}.{key}: {saved['settings'][group].get(key)!r} when it was written, "
            f"{value!r} now" for group, values in current["settings"].items()
            for key, value in values.items() if saved["settings"].get(group, {}).get(key) != value]
    what = "; ".join(diff[:3]) or "its changes"
    raise CheckpointError(f"{Path(path).parent / 'config.json'} was changed after the checkpoint "
                          f"was written ({what}); put the value back: only python -m rigl_np "
                          "train --resume DIR --lr X changes a run, and records it")


def saved_config(path):
    """The ``config_record`` a checkpoint was written with (None for a checkpoint of an older
    rigl_np), reading nothing but its JSON member; ``CheckpointError`` if it is damaged."""
    advice = "put the run's own checkpoint back"
    with open_regular(path, advice, CheckpointError) as file, \
            damaged(path, advice, error=CheckpointError):
        shape, dtype = read_manifest(file)["json"]
        bounded(dtype.itemsize, 0, MAX_JSON_BYTES, "the size of its JSON")
        file.seek(0)
        with np.load(file, allow_pickle=False) as f:
            record = json.loads(str(f["json"])).get("config")
        if record is not None and not isinstance(record, dict):
            raise ValueError("its record of config.json is not an object")
    return record


def load_checkpoint(path, model, optimizer, method, identity=None, geometry=None,
                    config=None) -> TrainState:
    """Restore model, optimizer and method from ``path`` in place; return the ``TrainState``.

    ``identity``: refuse a checkpoint saved with another one (checkpoints of older rigl_np
    versions have none, and are checked by their arrays only). ``geometry``: (epochs, batches per
    epoch, batch size) of the run, which the saved position and counts must fit. ``config``: the
    ``config_record`` of config.json now, refused if it differs from the one saved. Nothing is
    changed unless every check passes; any problem raises ``CheckpointError`` naming ``path``.
    """
    advice = "put the run's own checkpoint back, or start the run again with --overwrite"

    def damaged_file():
        return damaged(path, advice, error=CheckpointError)

    def damaged_error(what):
        return CheckpointError(f"{path} is damaged or not this run's checkpoint: {what}; {advice}")

    with open_regular(path, advice, error=CheckpointError) as file:
        # 1. the manifest (keys, shapes, dtypes, from the headers alone) and the JSON
        with damaged_file():
            manifest = read_manifest(file)
            plain_json = "json" in manifest and manifest["json"][1].kind == "U"
            file.seek(0)
            with np.load(file, allow_pickle=False) as f:
                meta = json.loads(str(f["json"])) if plain_json else {}
        # 2. whose checkpoint it is, then whether its arrays fit these objects
        saved_identity = upgrade(meta.get("identity")) if isinstance(meta, dict) else None
        if identity is not None and isinstance(saved_identity, dict) and saved_identity != identity:
            changed = sorted(f"{group}.{key}" for group in identity for key in identity[group]
                             if saved_identity.get(group, {}).get(key) != identity[group][key])
            raise CheckpointError(f"{path} belongs to another run (it differs from config.json in "
                                  f"{', '.join(changed) or 'its groups'}); {advice}")
        problems = check_manifest(manifest, model, optimizer, method)
        if problems:
            raise damaged_error("; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)"
                                                           if len(problems) > 3 else ""))
        # 3. the data (CRC-checked, finite), the position, the method's records and RNG
        with damaged_file():
            file.seek(0)
            with np.load(file, allow_pickle=False) as f:
                files = {k: f[k] for k in f.files if k != "json"}
            state = _state(meta, geometry)
            method_meta = meta["method"]
            copy.deepcopy(method.rng).bit_generator.state = method_meta["rng"]   # a valid state?
            check_config(path, meta.get("config"), config, state.step)
    bad = non_finite(files)
    if bad:
        raise damaged_error(f"{', '.join(bad[:3])} hold inf or NaN (saved by a run that diverged)")
    # 4. everything checked: restore
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
    with damaged(path, f"its method's records cannot be used; {advice}", error=CheckpointError):
        method.load_state(method_arrays.get("method", {}), method_meta)
    return state
