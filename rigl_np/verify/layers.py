"""One layer update per check: splitting a file into layers, loading them, undoing the layout.

A single-layer file holds the keys of ``schema.UPDATE_KEYS`` as they are; a whole-model file holds
them prefixed ``<layer>/`` (``fc1/weight``, ``params/Dense_0/kernel/new_mask``,
``conv1.weight/state/momentum_buffer``): the layer is everything before the last known key.
Unprefixed model-wide scalars (``drop_fraction``, ``step``, ``layout``, ...) apply to every layer
without its own.

Every layer is loaded (lazily, one at a time) into a ``Problem`` in rigl_np's layout, PyTorch's
(out, in) and (out, in, kh, kw) (docs/semantics.md "Conventions"): arrays saved ``in_out``,
(in, out) or (kh, kw, in, out) as JAX and TensorFlow store kernels, are transposed on load
(``layout.py``). The file's ``method`` names a method of the registry that verify can check
(``families.verifiable``); its ``Verification`` says which key holds what the grow step ranks, and
its family which other keys the update needs and how it is reproduced (``Problem.family``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rigl_np.methods.base import REGISTRY
from rigl_np.verify import families
from rigl_np.verify import fileformat as ff
from rigl_np.verify.families import nm
from rigl_np.verify.layout import to_canonical
from rigl_np.verify.schema import (ANSWER_PREFIX, DEFAULT_METHOD, FORMAT_VERSION, KINDS, LAYOUTS,
                                   SELECTIONS, STATE_GROUPS, layer_key_names, model_wide_keys)

FILE_LEVEL = {"format_version", "kind"}


@dataclass
class Problem:
    """One layer's update, every array in rigl_np's layout (bool masks, numeric rest)."""

    path: str
    layer: str | None
    method: str                  # a verifiable method's name (families.verifiable)
    layout: str                  # how the file stored the arrays (and so, by default, its tie order)
    weight: np.ndarray
    mask: np.ndarray
    grow_score: np.ndarray       # what the grow step ranks (the method's grow key, transformed)
    new_mask: np.ndarray
    drop_fraction: float
    step: int | None = None
    budget: int | None = None
    gamma_sal: float = 0.3
    ablate: bool = True
    new_weight: np.ndarray | None = None
    weight_before_step: np.ndarray | None = None   # --optimizer-step before: W before the step
    state: dict = field(default_factory=dict)       # slot -> array before the update
    new_state: dict = field(default_factory=dict)   # slot -> array after it
    signal: np.ndarray | None = None   # the grow key's array as the file holds it (canonical)
    n: int | None = None         # an N:M update (keys n and m): N active of every M
    m: int | None = None
    nm_groups: str | None = None  # the file's key nm_groups (families.nm.GROUPINGS)
    selection: str = "layer"     # "global": the file's layers are one update (global_model.py)

    @property
    def verification(self):
        """The method's ``methods.base.Verification``."""
        return families.method(self.method).verification

    @property
    def family(self):
        """How the method's update is reproduced under conventions (``families/``); an N:M
        update's is ``families.NM``."""
        if self.n is not None:
            return families.NM
        return families.family_of(families.method(self.method))


def grow_score(method: str, array):
    """What ``method``'s grow step ranks, from the array under its grow key (|G| for a gradient)."""
    transform = families.method(method).verification.grow_score
    return array if transform is None else transform(array)


def split_key(name: str, leaves=None):
    """(layer or None, key) of an archive key, or None for keys verify does not read.
    ``leaves``: the plain keys of a layer (default ``schema.layer_key_names()``)."""
    if name in FILE_LEVEL:
        return None, name
    if name.startswith(ANSWER_PREFIX):
        return None
    parts = name.split("/")
    if len(parts) >= 2 and parts[-2] in STATE_GROUPS and parts[-1]:   # a slot named m stays one
        return "/".join(parts[:-2]) or None, f"{parts[-2]}/{parts[-1]}"
    if parts[-1] in (leaves or layer_key_names()):
        return "/".join(parts[:-1]) or None, parts[-1]
    return None


def file_kind(archive: ff.Archive) -> str:
    """The ``kind`` of a file (update, densities, schedule), after checking its format version."""
    if "format_version" in archive:
        version = ff.scalar_int(archive, "format_version", 1, 10**9)
        if version > FORMAT_VERSION:
            raise ff.InputError(f"{archive.path}: format_version {version} is newer than this "
                                f"rigl_np reads ({FORMAT_VERSION}); update rigl_np")
    return ff.scalar_str(archive, "kind", KINDS) if "kind" in archive else "update"


def layer_groups(archive: ff.Archive) -> dict:
    """``{layer or None: {key: archive key}}`` plus the model-wide defaults under None."""
    groups: dict = {}
    leaves = set(layer_key_names())
    for name in archive.keys():
        split = split_key(name, leaves)
        if split is not None and split[1] not in FILE_LEVEL:
            groups.setdefault(split[0], {})[split[1]] = name
    top = groups.get(None, {})
    named = [layer for layer in groups if layer is not None]
    if "weight" in top and named:
        raise ff.InputError(f"{archive.path}: holds both a single-layer update (key 'weight') and "
                            f"prefixed layers ({named[0]!r}/...); write one or the other")
    if "weight" not in top and not named:
        raise ff.InputError(f"{archive.path}: no key 'weight' and no '<layer>/weight': not an "
                            "update file (see python -m rigl_np verify --help for the keys)")
    for layer in named:
        if "weight" not in groups[layer]:
            raise ff.InputError(f"{archive.path}: layer {layer!r} has "
                                f"{sorted(groups[layer])[0]!r} but no 'weight'")
    extra = set(top) - set(model_wide_keys()) if named else set()
    if extra:
        raise ff.InputError(f"{archive.path}: unprefixed key(s) {sorted(extra)} in a whole-model "
                            f"file; only {', '.join(model_wide_keys())} may apply to every layer")
    return groups


def _method(archive: ff.Archive, key: str) -> str:
    """The file's method: one verify can check (a rigl_np method that cannot be is named so)."""
    choices = tuple(families.verifiable())
    name = str(ff.scalar(archive, key, "US", "a string"))
    if name in REGISTRY and name not in choices:
        raise archive.fail(key, f"is {name!r}, a rigl_np method whose update verify does not "
                           f"reproduce; verify checks {', '.join(choices)}")
    if name not in choices:
        raise archive.fail(key, f"must be one of {', '.join(choices)}, got {name!r}")
    return name


def _required(method: str) -> tuple:
    cls = families.method(method)
    return (("weight", "mask", cls.verification.grow_key, "drop_fraction", "new_mask")
            + families.family_of(cls).required_keys)


def load_problem(archive: ff.Archive, layer, keys: dict, defaults: dict,
                 default_layout: str) -> Problem:
    """The ``Problem`` of one layer (keys: its ``{key: archive key}``; defaults: model-wide keys)."""
    keys = {**{k: v for k, v in defaults.items() if k not in keys}, **keys}
    where = f" (layer {layer!r})" if layer is not None else ""
    method = _method(archive, keys["method"]) if "method" in keys else DEFAULT_METHOD
    missing = [k for k in _required(method) if k not in keys]
    if missing:
        raise ff.InputError(f"{archive.path}{where}: missing key(s) {missing}; a {method} update "
                            f"holds {', '.join(_required(method))} (see verify --help)")
    layout = (ff.scalar_str(archive, keys["layout"], LAYOUTS) if "layout" in keys
              else default_layout)
    weight = ff.numeric_array(archive, keys["weight"])
    shape = weight.shape
    if layout == "in_out" and weight.ndim not in (2, 4):
        raise ff.InputError(f"{archive.path}{where}: layout in_out is defined for (in, out) and "
                            f"(kh, kw, in, out) weights, not shape {shape}")
    if weight.ndim == 0:
        raise ff.InputError(f"{archive.path}{where}: weight must be an array, got a scalar")

    def canon(a):
        return to_canonical(a, layout)

    score = ff.numeric_array(archive, keys[families.method(method).verification.grow_key], shape)
    p = Problem(path=archive.path, layer=layer, method=method, layout=layout,
                weight=canon(weight), mask=canon(ff.bool_array(archive, keys["mask"], shape)),
                grow_score=canon(grow_score(method, score)), signal=canon(score),
                new_mask=canon(ff.bool_array(archive, keys["new_mask"], shape)),
                drop_fraction=ff.scalar_float(archive, keys["drop_fraction"], 0.0, 1.0))
    for key in ("new_weight", "weight_before_step"):
        if key in keys:
            setattr(p, key, canon(ff.numeric_array(archive, keys[key], shape)))
    for key, name in keys.items():
        group, _, slot = key.partition("/")
        if group in STATE_GROUPS:
            target = p.state if group == "state" else p.new_state
            target[slot] = canon(ff.numeric_array(archive, name, shape))
    if "step" in keys:
        p.step = ff.scalar_int(archive, keys["step"], 0, 2**63 - 1)
    if "budget" in keys:
        p.budget = ff.scalar_int(archive, keys["budget"], 0, weight.size)
    if "selection" in keys:
        p.selection = ff.scalar_str(archive, keys["selection"], SELECTIONS)
    nm.load(archive, keys, p)
    problem = p.family.check(p)
    if problem:
        raise ff.InputError(f"{archive.path}{where}: {method} {problem}")
    if "gamma_sal" in keys:
        p.gamma_sal = ff.scalar_float(archive, keys["gamma_sal"], 0.0, 1.0)
    if "ablate" in keys:
        p.ablate = ff.scalar_bool(archive, keys["ablate"])
    return p


def problems(archive: ff.Archive, default_layout: str = "out_in"):
    """Every layer update of an update file, loaded one at a time: yields ``Problem``."""
    groups = layer_groups(archive)
    top = groups.pop(None, {})
    if not groups:                                                 # a single-layer file
        yield load_problem(archive, None, top, {}, default_layout)
    for layer, keys in groups.items():
        yield load_problem(archive, layer, keys, top, default_layout)
