"""The N:M option of static, SET, RigL and gradual pruning (``--nm N:M``): a structure chosen
when the method is built.

docs/semantics.md "N:M". Each of the four methods declares ``NMSelection`` (or a subclass) as
its options, so it offers ``--nm`` and ``--nm-keep-dense`` next to ``--selection``, and:

- its structure is ``NMSelection.structure()`` (``Method`` builds with it): ``masks.NM(n, m,
  keep_dense)`` with ``--nm``, else the selection's structure. ``NM`` gives every layer whose
  ``in`` is a multiple of M density N/M and every other layer (and the first or last with
  ``--nm-keep-dense``) density 1, draws initial masks with exactly N of every group (pruning
  still starts dense), and says which layers stay dense (the run prints it and metrics.json
  records it under ``structure``);
- in ``update``: with ``--nm``, the N:M update (``rigl_np.nm``) with the method's grow score;
- ``NMSelection.check(cfg)`` (``Method.check`` asks): ``--distribution`` must be ``uniform``,
  ``--sparsity`` 1 - N/M, and the selection per layer (N:M is a per-group rule), or the run is
  refused (``ConfigError``, exit 2) with one line that says what to give.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from rigl_np.masks.nm import KEEP_DENSE, NM
from rigl_np.methods import selection
from rigl_np.options import ConfigError, opt


@dataclass
class NMSelection(selection.Selection):
    nm: str = opt(None, "N:M structure, e.g. 2:4: exactly N active of every M consecutive inputs")
    nm_keep_dense: str = opt("none", "with --nm: keep these layers dense", KEEP_DENSE)

    def __post_init__(self):
        super().__post_init__()                   # every field's type and choice
        parse(self.nm)

    def structure(self):
        """The structure these options ask for (``Method`` builds with it)."""
        return structure(self)

    def check(self, cfg) -> None:
        """Refuse a ``SparseConfig`` these options contradict (``Method.check`` asks)."""
        check(cfg, self)


def parse(text):
    """``"2:4"`` -> (2, 4); None -> None; anything else is a ``ConfigError`` naming ``--nm``."""
    if text is None:
        return None
    n, colon, m = text.partition(":")
    if colon and n.isdigit() and m.isdigit() and 0 < int(n) < int(m):
        return int(n), int(m)
    raise ConfigError(f"--nm must be N:M with whole numbers 0 < N < M (e.g. 2:4), got {text}")


def structure(options):
    """The structure ``options`` (an ``NMSelection``) ask for: ``NM`` with ``--nm``, else the
    selection's (``selection.structure``)."""
    nm = parse(options.nm)
    if nm is None:
        return selection.structure(options)
    return NM(*nm, keep_dense=options.nm_keep_dense)


def check(cfg, options) -> None:
    """Refuse a ``SparseConfig`` that contradicts ``options.nm``: every N:M layer holds exactly
    N/M, so the distribution must be uniform at sparsity 1 - N/M, and the selection per layer."""
    nm = parse(options.nm) if options is not None else None
    if nm is None:
        return
    n, m = nm
    if options.selection != "layer":
        raise ConfigError(f"--nm {n}:{m} keeps {n} of every {m} in each group of each layer; "
                          f"it cannot rank layers together: leave out --selection "
                          f"{options.selection}")
    sparsity = 1 - Fraction(n, m)
    if cfg.distribution != "uniform" or Fraction(str(cfg.sparsity)) != sparsity:
        raise ConfigError(f"--nm {n}:{m} keeps exactly {n} of every {m} weights in each N:M "
                          f"layer: give --distribution uniform --sparsity {float(sparsity):g}, "
                          f"not --distribution {cfg.distribution} --sparsity {cfg.sparsity:g}")
