"""Checking another implementation's update schedule (a file of ``kind = "schedule"``).

RigL paper, Section 3 "Update Schedule", Eq. (1); docs/semantics.md "Schedule". rigl_np counts
batches from t = 1, updates when t % delta_t == 0 and t < t_end (``rigl_np.rigl.is_update_step``)
with drop fraction ``rigl_np.rigl.drop_fraction(t, alpha, t_end, schedule)``. Implementations
count differently (docs/verify.md), seven switches with the cause ``schedule``:

- ``--first-update zero``: the counter starts at 0 and t = 0 updates (the official code);
- ``--count-update-batches no``: an update batch does not advance the counter (the official
  TF1 code: its step counter moves with the optimizer step the update replaces);
- ``--t-end inclusive``: t = t_end itself still updates (t <= t_end);
- ``--drop-floor yes``: the fraction decays to a minimum, eta + (alpha - eta) f / alpha (SNFS's
  code: PyTorch's CosineAnnealingLR with eta_min) or max(eta, f); eta is read from their
  fractions (``floors``);
- ``--until-end yes``: updates every delta_t until the last batch, t_end or not;
- ``--fraction-lag 1|2``: the fraction of a counter one or two batches behind the update's;
- ``--step-base 0``: a 0-based counter, so the update at batch k delta_t logs t = k delta_t - 1.

``steps`` in the file are *their counter's* values at each update, ``drop_fractions`` the
fractions they used; both are compared with the schedule each combination gives (at most three
switches away from the selection), nearest the selection first. When none gives theirs, the
detail names the one switch that comes closest. One result per file.
"""
from __future__ import annotations

import itertools

from rigl_np.rigl import drop_fraction
from rigl_np.verify import fileformat as ff
from rigl_np.verify.conventions import SWITCH, option_text
from rigl_np.verify.report import Result, accept

TOLERANCE = 1e-6          # drop fractions agree within this (float32 files)
MAX_STEPS = 10**12        # a bound for every step count read from a file
MAX_UPDATES = 10**6       # the most updates one schedule file may ask verify to compute
MAX_CHANGES = 3           # switch combinations tried: at most this many away from the selection
DEFAULTS = {"first_update": "delta", "count_update_batches": "yes", "t_end": "exclusive",
            "drop_floor": "no", "until_end": "no", "fraction_lag": "0", "step_base": "1"}


def fraction(t, alpha, t_end, schedule, floor=None) -> float:
    """f(t) (``rigl.drop_fraction``; 0 before t = 0), or with a floor ``(form, eta)``: "eta_min",
    eta + (alpha - eta) f(t) / alpha (PyTorch's CosineAnnealingLR with eta_min), or "max",
    max(eta, f(t))."""
    f = drop_fraction(max(t, 0), alpha, t_end, schedule)
    if floor is None:
        return f
    form, eta = floor
    if form == "max":
        return max(eta, f)
    return eta + (alpha - eta) * f / alpha if alpha > 0 else eta


def expected(alpha, delta_t, t_end, total, schedule, first_update="delta",
             count_update_batches="yes", end="exclusive", floor=None, until_end="no",
             fraction_lag="0", step_base="1") -> list:
    """``[(t, f)]``: the counter values that update, and their drop fractions, over ``total``
    batches under the given conventions (the defaults are rigl_np's); ``updates`` lists them."""
    return list(updates(alpha, delta_t, t_end, total, schedule, first_update,
                        count_update_batches, end, floor, until_end, fraction_lag, step_base))


def updates(alpha, delta_t, t_end, total, schedule, first_update="delta",
            count_update_batches="yes", end="exclusive", floor=None, until_end="no",
            fraction_lag="0", step_base="1"):
    """Yield ``(t, f)`` of every update, one step per update, not per batch: the counter starts
    at t0 (0 or 1) and the update at t happens at batch (t - t0) + (the updates before it, when
    an update batch does not advance the counter). ``step_base`` "0": the counter is the batch
    minus one, so batch k delta_t updates at t = k delta_t - 1; ``until_end`` "yes": updates go
    on to the last batch; ``fraction_lag``: the fraction is that of t - lag; ``floor``: (form,
    eta) of a minimum fraction."""
    t0 = 0 if first_update == "zero" or step_base == "0" else 1
    shift = 1 if step_base == "0" and first_update != "zero" else 0     # t = batch - 1
    last = (t0 + total if until_end == "yes" else t_end if end == "inclusive" else t_end - 1)
    done = 0
    first = (-(-t0 // delta_t) * delta_t if not shift else delta_t) - shift
    for t in range(first, last + 1, delta_t):
        if (t - t0) + (done if count_update_batches == "no" else 0) >= total:
            break
        done += 1
        yield t, fraction(t - int(fraction_lag), alpha, t_end, schedule, floor)


def floors(theirs, cfg) -> list:
    """The minimum fractions ``(form, eta)`` their fractions could have decayed to: eta_min from
    their update nearest t_end (solving f = eta + (alpha - eta) c for eta), and their least."""
    out = []
    if not theirs or cfg["alpha"] <= 0:
        return out
    t, y = max(theirs)
    c = drop_fraction(min(max(t, 0), cfg["t_end"]), cfg["alpha"], cfg["t_end"],
                      cfg["schedule"]) / cfg["alpha"]
    if c < 1:
        out.append(("eta_min", (y - cfg["alpha"] * c) / (1 - c)))
    out.append(("max", min(f for _, f in theirs)))
    return [(form, eta) for form, eta in out if 0 <= eta <= cfg["alpha"]]


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


def _combos(selected: dict, until_end_ok: bool) -> list:
    """Every combination of the schedule switches at most ``MAX_CHANGES`` from the selected
    ones (rigl_np's where none is), nearest the selection first, then the fewest changes."""
    choices = {k: SWITCH[k].choices for k in DEFAULTS}
    if not until_end_ok:
        choices["until_end"] = ("no",)
    preferred = {k: selected.get(k, d) for k, d in DEFAULTS.items()}
    out = []
    for combo in itertools.product(*choices.values()):
        c = dict(zip(DEFAULTS, combo))
        away = sum(c[k] != preferred[k] for k in c)
        if away <= MAX_CHANGES and not (c["first_update"] == "zero" and c["step_base"] == "0"):
            out.append((away, sum(c[k] != DEFAULTS[k] for k in c), c))
    return [c for _, _, c in sorted(out, key=lambda x: x[:2])]


def _schedule(cfg, combo, floor):
    """The updates ``(t, f)`` of ``combo`` (a generator)."""
    return updates(cfg["alpha"], cfg["delta_t"], cfg["t_end"], cfg["total"], cfg["schedule"],
                   combo["first_update"], combo["count_update_batches"], combo["t_end"],
                   floor if combo["drop_floor"] == "yes" else None, combo["until_end"],
                   combo["fraction_lag"], combo["step_base"])


def _same(theirs: list, ours) -> bool:
    """Whether the updates ``ours`` yields are ``theirs`` (sorted by step), stopping at the
    first that is not: most combinations fail within a few updates."""
    mine = iter(theirs)
    for t, f in ours:
        t2, f2 = next(mine, (None, None))
        if t2 != t or abs(f2 - f) > TOLERANCE:
            return False
    return next(mine, None) is None


def _floors_of(theirs, cfg, combo) -> list:
    return floors(theirs, cfg) if combo["drop_floor"] == "yes" else [None]


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
    # 1. the switch combinations nearest the selection first; the first that gives theirs
    combos = [c for c in _combos(selected, cfg["total"] // cfg["delta_t"] <= MAX_UPDATES)
              if c != DEFAULTS]
    ordered = sorted(theirs)
    for combo in combos:
        for floor in _floors_of(theirs, cfg, combo):
            if _same(ordered, _schedule(cfg, combo, floor)):
                changes = {k: v for k, v in combo.items() if v != DEFAULTS[k]}
                detail = (f"{head}; {_describe(diffs, theirs, ours, cfg)}; identical with "
                          + ", ".join(option_text(k, v) for k, v in changes.items())
                          + (f" (a floor of {floor[1]:.6g}, {floor[0]} form)" if floor else ""))
                result = Result(archive.path, None, "schedule", "explained", ["schedule"],
                                len(diffs), detail, applied=changes)
                return accept(result, selected)
    # 2. none does: the hint names the single switch that leaves the fewest differences
    best = None
    for combo in combos:
        changes = {k: v for k, v in combo.items() if v != DEFAULTS[k]}
        tried = _floors_of(theirs, cfg, combo)
        if len(changes) == 1 and tried:
            left = min(len(_compare(theirs, list(_schedule(cfg, combo, fl)))) for fl in tried)
            if best is None or left < best[0]:
                best = (left, changes)
    hint = ""
    if best is not None and best[0] < len(diffs):
        (name, choice), = best[1].items()
        hint = (f"; closest: {option_text(name, choice)} leaves {best[0]} of the "
                f"{len(diffs)} differences")
    result = Result(archive.path, None, "schedule", "differs", ["schedule"], len(diffs),
                    f"{head}; {_describe(diffs, theirs, ours, cfg)}{hint}")
    return accept(result, selected)
