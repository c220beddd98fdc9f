"""Typed options with their help: the fields every configuration dataclass is made of.

``config`` (the options every run shares) and each method's own options dataclass
(``methods.<name>.Options``) declare fields with ``opt(default, help, choices)``; the CLI builds
one ``--flag`` per field from them, and ``check_fields`` checks, in ``__post_init__``, that each
value has its declared type and choice (JSON and notebooks can give anything). A bad value raises
``ConfigError`` (exit 2) naming the ``--option``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import field

from rigl_np.errors import UsageError

KINDS = {"bool": "true or false", "int": "an integer", "float": "a number",
         "str": "a non-empty string"}


class ConfigError(UsageError):
    """A configuration value that cannot be used; the message names the option."""


def opt(default, help, choices=None):
    """A dataclass field carrying its one-line help (and choices) for argparse."""
    return field(default=default, metadata={"help": help, "choices": choices})


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def type_name(f) -> str:
    """A field's declared type as a name ("int", ...), whether or not its module postpones
    annotations (``from __future__ import annotations`` makes them strings)."""
    return f.type if isinstance(f.type, str) else f.type.__name__


def check_fields(cfg) -> None:
    """Every field has its declared type (JSON and notebooks can give anything) and choice."""
    for f in dataclasses.fields(cfg):
        value, kind = getattr(cfg, f.name), type_name(f)
        if value is None and f.default is None:
            continue
        if kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok:
                value = float(value)
                setattr(cfg, f.name, value)
                if not math.isfinite(value):
                    raise ConfigError(f"{flag(f.name)} must be a finite number, got {value}")
        else:
            ok = isinstance(value, str) and value != ""
        if not ok:
            raise ConfigError(f"{flag(f.name)} must be {KINDS[kind]}, got {value!r}")
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{flag(f.name)} {value!r} is not one of: {', '.join(choices)}")


def require(ok: bool, name: str, rule: str, value) -> None:
    """Raise ``ConfigError`` "--name must <rule>, got <value>" unless ``ok``."""
    if not ok:
        raise ConfigError(f"{flag(name)} must {rule}, got {value}")
