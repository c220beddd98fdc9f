"""``save_update(path, layout=..., **arrays)``: write a verification file from any framework.

Every value goes through ``numpy.asarray``, so PyTorch tensors, JAX and TensorFlow arrays, lists
and Python scalars all work without this module importing any of them (a tensor that needs it is
first detached and moved to the CPU, by duck typing: ``.detach()``, ``.cpu()``). Nested dicts
become prefixed keys, so a whole model is one call::

    save_update("step_0100.npz", drop_fraction=f, step=100,
                **{name: {"weight": w, "mask": m, "grad": g, "new_mask": m2,
                          "state": {"momentum": buf}} for name, (w, m, g, m2, buf) in layers})

writes ``<name>/weight``, ``<name>/state/momentum`` and so on, plus ``format_version`` and
``layout``. The file is an uncompressed ``.npz`` (verify reads it fastest), written atomically
(``rigl_np.atomic``), so a crash never leaves half a file. The keys are documented in
``rigl_np.verify.schema`` and docs/verify.md.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rigl_np.atomic import atomic_file
from rigl_np.verify.schema import FORMAT_VERSION, LAYOUTS


def _host(key: str, value):
    """A NumPy array of ``value`` (tensors detached and moved to the CPU first)."""
    for method in ("detach", "cpu"):
        if callable(getattr(value, method, None)) and not isinstance(value, np.ndarray):
            value = getattr(value, method)()
    try:
        array = np.asarray(value)
    except TypeError:                    # a dtype NumPy lacks (torch.bfloat16): as float32
        array = np.asarray(value.float() if callable(getattr(value, "float", None)) else value,
                           dtype=np.float32)
    except ValueError as e:
        raise ValueError(f"{key}: not one plain array ({e})") from None
    if array.dtype.kind == "V":          # a JAX / ml_dtypes bfloat16 array: as float32
        array = array.astype(np.float32)
    if array.dtype.hasobject:
        raise ValueError(f"{key}: a {type(value).__name__} that becomes an object array cannot "
                         "be saved; pass one tensor or array per key")
    return array


def _flatten(arrays: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in arrays.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "/"))
        else:
            out[name] = _host(name, value)
    return out


def save_update(path, layout: str = "out_in", **arrays) -> Path:
    """Write ``arrays`` (any array-likes; dicts nest as ``key/...``) to the ``.npz`` ``path``.

    layout: "out_in" (PyTorch: (out, in), (out, in, kh, kw)) or "in_out" (JAX, TensorFlow:
    (in, out), (kh, kw, in, out)), stored as the file's ``layout`` key. Returns the path.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    flat = {"format_version": np.asarray(FORMAT_VERSION), "layout": np.asarray(layout),
            **_flatten(arrays)}
    with atomic_file(path) as f:
        np.savez(f, **flat)
    return Path(path)
