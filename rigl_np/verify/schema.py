"""What a verification file may hold: every key, in one table per kind of file (format version 1).

`python -m rigl_np verify --help`, `docs/verify.md` and the loaders all read these tables, so a
key is documented where it is defined. Three kinds of file (the ``kind`` key; default "update"):

- ``update``: one layer's mask update (keys below, unprefixed), or a whole model's (every key of a
  layer prefixed ``<layer>/``; the layer name may itself contain "/"). In a whole-model file the
  scalar keys marked "model-wide" may also appear once without a prefix, for every layer that
  lacks its own.
- ``densities``: the per-layer densities of a model (RigL paper, Section 3 "Sparsity
  Distribution"; docs/semantics.md "Layer densities").
- ``schedule``: the update steps and drop fractions of a run (RigL paper, Eq. 1;
  docs/semantics.md "Schedule").

The update keys come partly from the method registry (``update_keys``): the ``method`` key's
choices are the methods verify can check (``families.verifiable``), each one's grow key (``grad``,
``grow_score``) is what its ``Verification`` declares, and which methods need ``budget``,
``gamma_sal`` and ``ablate`` is what their family (``families/``) reads.

Keys under ``answer/`` are the conformance vectors' answers (``rigl_np.verify.vectors``): verify
never reads them. Any other unknown key is ignored and never read.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from rigl_np.methods import RigL
from rigl_np.verify import families

FORMAT_VERSION = 1
KINDS = ("update", "densities", "schedule")
DEFAULT_METHOD = RigL.name   # a file without a method key holds a RigL update
LAYOUTS = ("out_in", "in_out")
SELECTIONS = ("layer", "global")   # a global update ranks every layer of the file together
ANSWER_PREFIX = "answer/"
STATE_GROUPS = ("state", "new_state")


@dataclass(frozen=True)
class Key:
    name: str
    when: str | None  # "required", "optional", ...; None: from the families that read it
    meaning: str
    model_wide: bool = False   # may appear unprefixed in a whole-model file


FILE_KEYS = (
    Key("format_version", "optional", f"integer, the version of this format (default and latest: "
        f"{FORMAT_VERSION})"),
    Key("kind", "optional", "string: " + " | ".join(KINDS) + " (default update)"),
)

UPDATE_KEYS = (       # (the grow keys of the methods go after mask: update_keys)
    Key("weight", "required", "the weight before the update (float; in `layout`)"),
    Key("mask", "required", "the mask before the update (bool or 0/1, the weight's shape)"),
    Key("drop_fraction", "required", "the drop fraction f of this update, a scalar in [0, 1]",
        True),
    Key("new_mask", "required", "the mask your implementation produced"),
    Key("new_weight", "optional", "your weight after the update (new connections must be 0)"),
    Key("weight_before_step", "optional", "the weight before the update batch's optimizer step, "
        "when yours steps before the mask update (weight: after it, what the drop ranked)"),
    Key("state/<slot>", "optional", "an optimizer slot before the update (momentum, exp_avg, ...)"),
    Key("new_state/<slot>", "optional", "the same slot after your update (0 for new connections "
        "and off the new mask)"),
    Key("layout", "optional", "string: out_in (default; (out, in) and (out, in, kh, kw)) | "
        "in_out ((in, out) and (kh, kw, in, out), as JAX and TensorFlow store kernels)", True),
    Key("method", "optional", None, True),          # choices: the registry's (update_keys)
    Key("step", "optional", "integer, your step counter at this update (printed)", True),
    Key("budget", None, "integer, the layer's target count of active weights (constant fan-in: "
        "floor(d*N); what --grow-count refill grows back to)"),
    Key("gamma_sal", None, "SRigL's salience threshold factor (default 0.3)", True),
    Key("ablate", None, "bool, whether this layer may ablate neurons (default true; false for "
        "the output layer)"),
    Key("n", "optional", "integer N of an N:M update (with m; a method that has --nm): exactly N "
        "active in every group of M", True),
    Key("m", "optional", "integer M of an N:M update (with n): the group size", True),
    Key("selection", "optional", "string: layer (default) | global: one ranking over every "
        "layer of a whole-model file (rigl, set), checked as one update with one verdict", True),
    Key("nm_groups", "optional", "string: in (default; M consecutive inputs of one row, at one "
        "kernel position) | flat (C order) | out (M consecutive outputs)", True),
)

DENSITY_KEYS = (
    Key("density", "required", "the target global density d, in (0, 1]"),
    Key("distribution", "required", "string: uniform | er | erk (also erdos_renyi, "
        "erdos_renyi_kernel)"),
    Key("shape/<layer>", "required", "integer array, the layer's weight shape (in `layout`)"),
    Key("density/<layer>", "one of the two", "your density of the layer, a scalar"),
    Key("mask/<layer>", "one of the two", "your mask of the layer (bool or 0/1, its shape)"),
    Key("dense_layers", "optional", "string array, layers you keep dense by choice (first layer "
        "dense, ...)"),
    Key("power_scale", "optional", "ERK's power scale (default 1)"),
    Key("layout", "optional", "string: out_in | in_out, the layout of the shapes"),
)

SCHEDULE_KEYS = (
    Key("steps", "required", "integer array, your step counter at each mask update"),
    Key("drop_fractions", "required", "float array, the drop fraction of each of those updates"),
    Key("alpha", "required", "the initial drop fraction"),
    Key("delta_t", "required", "the update period (batches)"),
    Key("t_end", "required", "the step from which masks no longer change"),
    Key("total_steps", "required", "the number of training batches of the run"),
    Key("schedule", "optional", "string: cosine (default) | constant | linear"),
)



def update_keys() -> tuple:
    """``UPDATE_KEYS`` as the registry has them now: the grow key of every verifiable method,
    the ``method`` key's choices, and who requires ``budget``, ``gamma_sal`` and ``ablate``."""
    methods = families.verifiable()
    grow = {}                                        # {key: {what it holds: [method names]}}
    for name, cls in methods.items():
        v = cls.verification
        grow.setdefault(v.grow_key, {}).setdefault(v.what, []).append(name)
    grow_keys = tuple(Key(key, "required for " + ", ".join(sorted(sum(by.values(), []))),
                          next(iter(by)) if len(by) == 1 else
                          "; ".join(f"{', '.join(ns)}: {what}" for what, ns in by.items()))
                      for key, by in grow.items())
    method = (f"string: {' | '.join(methods)}, the methods verify checks (default "
              f"{DEFAULT_METHOD})")
    keys = UPDATE_KEYS[:2] + grow_keys + UPDATE_KEYS[2:]
    return tuple(replace(k, meaning=method) if k.name == "method" else
                 replace(k, when=_when(k.name, methods)) if k.when is None else k for k in keys)


def _when(key: str, methods: dict) -> str:
    """"required for a, b" or "optional (a, b)": the methods whose family reads ``key``."""
    def named(attr):
        return ", ".join(n for n, c in methods.items()
                         if key in getattr(families.family_of(c), attr))
    required = named("required_keys")
    return f"required for {required}" if required else f"optional ({named('optional_keys')})"


def tables() -> tuple:
    """``(title, keys)`` of every kind of file."""
    return (("every file", FILE_KEYS), ("kind = update (one layer, or prefixed <layer>/)",
                                        update_keys()),
            ("kind = densities", DENSITY_KEYS), ("kind = schedule", SCHEDULE_KEYS))


def model_wide_keys() -> tuple:
    """The update keys that may appear once, unprefixed, for every layer of a whole model."""
    return tuple(k.name for k in UPDATE_KEYS if k.model_wide)


def layer_key_names() -> tuple:
    """The plain (non-slot) keys of one layer's update."""
    return tuple(k.name for k in update_keys() if "/" not in k.name)


def keys_help() -> str:
    """Every key of every kind of file, as plain text (for --help)."""
    lines = [f"File format, version {FORMAT_VERSION} (.npz of plain arrays, no pickles):"]
    for title, keys in tables():
        lines.append(f"  {title}:")
        lines += [f"    {k.name:18s} {k.when}: {k.meaning}" for k in keys]
    lines.append("  keys under answer/ (the conformance vectors' answers) and unknown keys are "
                 "never read")
    return "\n".join(lines)
