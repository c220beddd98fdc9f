"""Checking another implementation's update schedule (a file of ``kind = "schedule"``).

RigL paper, Section 3 "Update Schedule", Eq. (1); docs/semantics.md "Schedule". rigl_np counts
batches from t = 1, updates when t % delta_t == 0 and t < t_end (``rigl_np.rigl.is_update_step``)
with drop fraction ``rigl_np.rigl.drop_fraction(t, alpha, t_end, schedule)``. Implementations
count differently (docs/verify.md), three switches with the cause ``schedule``:

- ``--first-update zero``: the counter starts at 0 and t = 0 updates (the official code);
- ``--count-update-batches no``: an update batch does not advance the counter (the official
  TF1 code: its step counter moves with the optimizer step the update replaces);
- ``--t-end inclusive``: t = t_end itself still updates (t <= t_end).

``steps`` in the file are *their counter's* values at each update, ``drop_fractions`` the
fractions they used; both are compared with the schedule each combination gives, fewest changes
first. One result per file.
"""
from __future__ import annotations

import numpy as np

from rigl_np.rigl import drop_fraction
from rigl_np.verify import fileformat as ff
from rigl_np.verify.conventions import option_text
from rigl_np.verify.report import Result, accept

TOLERANCE = 1e-6          # drop fractions agree within this (float32 files)
MAX_STEPS = 10**12        # a bound for every step count read from a file
MAX_UPDATES = 10**6       # the most updates one schedule file may ask verify to compute
DEFAULTS = {"first_update": "delta", "count_update_batches": "yes", "t_end": "exclusive"}


def expected(alpha, delta_t, t_end, total, schedule, first_update="delta",
             count_update_batches="yes", end="exclusive") -> list:
    """``[(t, f)]``: the counter values that update, and their drop fractions, over ``total``
    batches under the given conventions (the defaults are rigl_np's). One step per update, not
    per batch: the counter starts at t0 (0 or 1) and the update at t happens at batch
    (t - t0) + (the updates before it, when an update batch does not advance the counter)."""
    t0 = 0 if first_update == "zero" else 1
    last = t_end if end == "inclusive" else t_end - 1        # the last t that may update
    out = []
    for t in range(-(-t0 // delta_t) * delta_t, last + 1, delta_t):
        if (t - t0) + (len(out) if count_update_batches == "no" else 0) >= total:
            break
        out.append((t, drop_fraction(t, alpha, t_end, schedule)))
    return out


def _read(archive):
    for key in ("steps", "drop_fractions", "alpha", "delta_t", "t_end", "total_steps"):
        if key not in archive:
            raise ff.InputError(f"{archive.path}: missing key {key!r}; a schedule file holds "
                                "steps, drop_fractions, alpha, delta_t, t_end, total_steps")
    steps = ff.numeric_array(archive, "steps")
    fractions = ff.numeric_array(archive, "drop_fractions")
    if steps.ndim != 1 or steps.dtype.kind not in "iu" or fractions.shape != steps.shape:
        raise ff.InputError(f"{archive.path}: steps must be a 1-D integer array and "
                            "drop_fractions a float array of the same length")
    cfg = dict(alpha=ff.scalar_float(archive, "alpha", 0.0, 1.0),
               delta_t=ff.scalar_int(archive, "delta_t", 1, MAX_STEPS),
               t_end=ff.scalar_int(archive, "t_end", 1, MAX_STEPS),
               total=ff.scalar_int(archive, "total_steps", 1, MAX_STEPS),
               schedule=(str(ff.scalar(archive, "schedule", "US", "a string"))
                         if "schedule" in archive else "cosine"))
    if cfg["t_end"] // cfg["delta_t"] > MAX_UPDATES:
        raise ff.InputError(f"{archive.path}: t_end {cfg['t_end']:,} / delta_t "
                            f"{cfg['delta_t']:,} is more than the {MAX_UPDATES:,} updates verify "
                            "checks in one file; check a shorter stretch of the schedule")
    try:
        drop_fraction(0, cfg["alpha"], cfg["t_end"], cfg["schedule"])
    except ValueError as e:
        raise archive.fail("schedule", str(e)) from None
    return [int(s) for s in steps], [float(f) for f in fractions], cfg


def _compare(theirs, ours) -> list:
    """The differing items: steps only one side updates at, and steps whose fractions differ."""
    mine, yours = dict(ours), dict(theirs)
    out = [("missing", t) for t in mine if t not in yours]
    out += [("extra", t) for t in yours if t not in mine]
    out += [("fraction", t) for t in yours if t in mine and abs(yours[t] - mine[t]) > TOLERANCE]
    return out


def _describe(diffs, theirs, ours, cfg) -> str:
    mine, yours = dict(ours), dict(theirs)
    words = []
    for what, label in (("missing", "rigl_np updates at t ="), ("extra", "you update at t =")):
        ts = sorted(t for kind, t in diffs if kind == what)
        if ts:
            words.append(f"{label} {', '.join(map(str, ts[:5]))}"
                         + (f" and {len(ts) - 5} more" if len(ts) > 5 else "")
                         + (" and the other does not" if what == "missing" else " where rigl_np does not"))
    bad = sorted(t for kind, t in diffs if kind == "fraction")
    if bad:
        t = bad[0]
        words.append(f"{len(bad)} drop fractions differ, first at t = {t}: yours {yours[t]:.6g}, "
                     f"rigl_np {mine[t]:.6g}")
        for shift in (-1, 1):
            if all(abs(yours[s] - drop_fraction(s + shift, cfg["alpha"], cfg["t_end"],
                                                cfg["schedule"])) <= TOLERANCE for s in bad):
                words.append(f"yours are f(t {'+' if shift > 0 else '-'} 1): off by one step")
    return "; ".join(words)


def check(archive, selected: dict) -> Result:
    """The ``Result`` of a schedule file."""
    steps, fractions, cfg = _read(archive)
    theirs = list(zip(steps, fractions))
    ours = expected(cfg["alpha"], cfg["delta_t"], cfg["t_end"], cfg["total"], cfg["schedule"])
    diffs = _compare(theirs, ours)
    head = (f"{len(steps)} updates, rigl_np {len(ours)} (delta_t {cfg['delta_t']}, t_end "
            f"{cfg['t_end']}, {cfg['total']} batches, {cfg['schedule']} from alpha {cfg['alpha']:g})")
    if not diffs:
        result = Result(archive.path, None, "schedule", "identical", [], 0, head + "; identical")
        return accept(result, selected)
    preferred = [selected.get(k, d) for k, d in DEFAULTS.items()]  # the user's choices first
    combos = sorted(((a, b, c) for a in ("delta", "zero") for b in ("yes", "no")
                     for c in ("exclusive", "inclusive")),
                    key=lambda abc: (sum(v != s for v, s in zip(abc, preferred)),
                                     sum(v != d for v, d in zip(abc, DEFAULTS.values()))))
    for combo in (c for c in combos if c != tuple(DEFAULTS.values())):
        if not _compare(theirs, expected(cfg["alpha"], cfg["delta_t"], cfg["t_end"],
                                         cfg["total"], cfg["schedule"], *combo)):
            applied = {k: v for (k, d), v in zip(DEFAULTS.items(), combo) if v != d}
            detail = (f"{head}; {_describe(diffs, theirs, ours, cfg)}; identical with "
                      + ", ".join(option_text(k, v) for k, v in applied.items()))
            result = Result(archive.path, None, "schedule", "explained", ["schedule"],
                            len(diffs), detail, applied=applied)
            return accept(result, selected)
    result = Result(archive.path, None, "schedule", "differs", ["schedule"], len(diffs),
                    f"{head}; {_describe(diffs, theirs, ours, cfg)}")
    return accept(result, selected)
