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

Keys under ``answer/`` are the conformance vectors' answers (``rigl_np.verify.vectors``): verify
never reads them. Any other unknown key is ignored and never read.
"""
from __future__ import annotations

from dataclasses import dataclass

FORMAT_VERSION = 1
KINDS = ("update", "densities", "schedule")
METHODS = ("rigl", "snfs", "set", "srigl")
LAYOUTS = ("out_in", "in_out")
ANSWER_PREFIX = "answer/"
STATE_GROUPS = ("state", "new_state")


@dataclass(frozen=True)
class Key:
    name: str
    when: str        # "required", "required for set", "optional", ...
    meaning: str
    model_wide: bool = False   # may appear unprefixed in a whole-model file


FILE_KEYS = (
    Key("format_version", "optional", f"integer, the version of this format (default and latest: "
        f"{FORMAT_VERSION})"),
    Key("kind", "optional", "string: " + " | ".join(KINDS) + " (default update)"),
)

UPDATE_KEYS = (
    Key("weight", "required", "the weight before the update (float; in `layout`)"),
    Key("mask", "required", "the mask before the update (bool or 0/1, the weight's shape)"),
    Key("grad", "required (not for set)", "the dense gradient the update grew by, w.r.t. W*M "
        "(snfs: the moving average of the dense gradients)"),
    Key("grow_score", "required for set", "the random grow scores your SET update ranked"),
    Key("drop_fraction", "required", "the drop fraction f of this update, a scalar in [0, 1]",
        True),
    Key("new_mask", "required", "the mask your implementation produced"),
    Key("new_weight", "optional", "your weight after the update (new connections must be 0)"),
    Key("state/<slot>", "optional", "an optimizer slot before the update (momentum, exp_avg, ...)"),
    Key("new_state/<slot>", "optional", "the same slot after your update (0 for new connections "
        "and off the new mask)"),
    Key("layout", "optional", "string: out_in (default; (out, in) and (out, in, kh, kw)) | "
        "in_out ((in, out) and (kh, kw, in, out), as JAX and TensorFlow store kernels)", True),
    Key("method", "optional", "string: " + " | ".join(METHODS) + " (default rigl)", True),
    Key("step", "optional", "integer, your step counter at this update (printed)", True),
    Key("budget", "required for srigl", "integer, the layer's target count of active weights "
        "(srigl: floor(d*N); what --grow-count refill grows back to)"),
    Key("gamma_sal", "optional (srigl)", "SRigL's salience threshold factor (default 0.3)", True),
    Key("ablate", "optional (srigl)", "bool, whether this layer may ablate neurons (default true; "
        "false for the output layer)"),
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

TABLES = (("every file", FILE_KEYS), ("kind = update (one layer, or prefixed <layer>/)",
                                      UPDATE_KEYS),
          ("kind = densities", DENSITY_KEYS), ("kind = schedule", SCHEDULE_KEYS))


def model_wide_keys() -> tuple:
    """The update keys that may appear once, unprefixed, for every layer of a whole model."""
    return tuple(k.name for k in UPDATE_KEYS if k.model_wide)


def layer_key_names() -> tuple:
    """The plain (non-slot) keys of one layer's update."""
    return tuple(k.name for k in UPDATE_KEYS if "/" not in k.name)


def keys_help() -> str:
    """Every key of every kind of file, as plain text (for --help)."""
    lines = [f"File format, version {FORMAT_VERSION} (.npz of plain arrays, no pickles):"]
    for title, keys in TABLES:
        lines.append(f"  {title}:")
        lines += [f"    {k.name:18s} {k.when}: {k.meaning}" for k in keys]
    lines.append("  keys under answer/ (the conformance vectors' answers) and unknown keys are "
                 "never read")
    return "\n".join(lines)
