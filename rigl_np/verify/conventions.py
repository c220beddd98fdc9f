"""The conventions other implementations choose differently, as switches, and the cause codes.

RigL (Evci et al. 2020, Section 3) and SRigL (Lasby et al. 2024, Section 4) leave details open
that implementations settle differently: how k is rounded, whether inactive positions compete in
the drop, whether just-dropped connections may come straight back, which memory layout orders the
ties, ... (docs/semantics.md "Differences from other implementations"; docs/verify.md has the
table of which public implementation chooses what). Each is a ``Switch``: its command-line
option, its choices (the first is rigl_np's own, the default), the cause code ``verify`` reports
when a file needs it, and a line of help. ``SWITCHES`` is the one table the command line, its
``--help`` and docs/verify.md are built from.

A ``Convention`` is one choice for every update switch; ``Convention()`` is rigl_np's semantics.
``drop_counts`` lists the values of k each k-rounding rule gives (floor, round, ceil, each in the
arithmetic implementations are seen to use). A ``Trial`` is what the search (``search.py``) runs
one update under: a convention, its k, and the drop score ``drop_variants`` says is worth trying.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np


@dataclass(frozen=True)
class Switch:
    field: str           # Convention field / option dest
    option: str          # the command-line option
    choices: tuple       # the first one is rigl_np's own (the default)
    cause: str           # the cause code a file that needs a non-default choice gets
    help: str


SWITCHES = (
    Switch("k_rounding", "--k-rounding", ("floor", "round", "ceil", "other"), "k_rounding",
           "k = floor|round|ceil(f * n) dropped (round also as n - round(n * (1 - f))) | other: "
           "a count no rounding gives, within 2 of floor(f * n) or of what left the mask (N:M)"),
    Switch("grow_count", "--grow-count", ("k", "refill", "random", "redistribute"), "grow_count",
           "grow k (as many as dropped) | refill to the layer's target count (key budget) | "
           "a random count (SET drawing each position with a probability; not checked) | "
           "counts moved across layers by momentum share (SNFS; checked on a whole model)"),
    Switch("drop_candidates", "--drop-candidates", ("active", "all", "sort"), "drop_inactive",
           "rank only active connections in the drop | all positions (inactive ones too) | "
           "zero the first n_inactive + k of one sort over all positions (more than k can go)"),
    Switch("regrow_dropped", "--regrow-dropped", ("yes", "no"), "no_regrow_dropped",
           "just-dropped connections may be grown back | may not"),
    Switch("regrown", "--regrown", ("keep", "reset"), "regrown_reset",
           "dropped-and-regrown connections keep their weight and state | are reset to 0"),
    Switch("layout", "--layout", ("out_in", "in_out"), "layout",
           "the layout of files without a layout key, and the order ties are broken in: "
           "(out, in[, kh, kw]) | (in, out) and (kh, kw, in, out)"),
    Switch("tie_noise", "--tie-noise", ("no", "yes"), "tie_noise",
           "exact scores | scores perturbed by Gaussian noise of sigma 1e-5 (the official code)"),
    Switch("state", "--optimizer-state", ("masked", "dense"), "state_dense",
           "optimizer state masked and reset with the weights | kept dense (never masked, so new "
           "and inactive connections keep their momentum)"),
    Switch("dense_layers", "--dense-layers", ("skip", "update"), "dense_updated",
           "layers at density 1 are never updated | updated like sparse ones"),
    Switch("optimizer_step", "--optimizer-step", ("skip", "before"), "step_before",
           "the update batch takes no optimizer step | takes it before the mask update (the drop "
           "ranks the stepped weights; key weight_before_step)"),
    Switch("nm_groups", "--nm-groups", ("in", "flat", "out"), "nm_groups",
           "N:M: groups of M consecutive inputs of one row (at one kernel position) | of the "
           "C-order flattening (may straddle rows and kernel positions) | of outputs"),
    Switch("global_scores", "--global-scores", ("raw", "l2"), "global_scores",
           "selection global: one ranking of raw |W| and |G| over every layer | of each layer's "
           "scores divided by their L2 norm"),
    Switch("fan_in", "--fan-in", ("recompute", "keep"), "fan_in",
           "SRigL: k' = budget // surviving neurons | keep the fan-in from before the ablation"),
    Switch("ablation", "--ablation", ("file", "always", "never"), "ablation",
           "SRigL: ablate neurons where the file's ablate key says | in every layer (the output "
           "layer too) | nowhere"),
    Switch("density_count", "--density-count", ("complement", "floor", "round", "bernoulli"),
           "density", "densities: a layer holds N - floor((1 - d) N) | floor(d N) | round(d N) "
           "weights | each position drawn with probability d (counts random around d N)"),
    Switch("excluded", "--excluded", ("outside", "inside"), "density",
           "densities: layers in dense_layers are outside the global budget | inside it"),
    Switch("first_update", "--first-update", ("delta", "zero"), "schedule",
           "schedule: the first update is at t = delta_t | at t = 0"),
    Switch("count_update_batches", "--count-update-batches", ("yes", "no"), "schedule",
           "schedule: update batches advance the step counter | do not"),
    Switch("t_end", "--t-end", ("exclusive", "inclusive"), "schedule",
           "schedule: updates while t < t_end | while t <= t_end"),
    Switch("drop_floor", "--drop-floor", ("no", "yes"), "schedule",
           "schedule: the cosine decays to 0 | to a minimum drop fraction (eta_min + (alpha - "
           "eta_min) / 2 (1 + cos), or max(floor, cosine))"),
    Switch("until_end", "--until-end", ("no", "yes"), "schedule",
           "schedule: no update from t_end on | updates every delta_t until the end of training"),
    Switch("fraction_lag", "--fraction-lag", ("0", "1", "2"), "schedule",
           "schedule: the fraction of the update's own step | of a counter 1 or 2 batches behind"),
    Switch("step_base", "--step-base", ("1", "0"), "schedule",
           "schedule: batches counted from t = 1 | from t = 0 (updates at t = k delta_t - 1)"),
)
SWITCH = {s.field: s for s in SWITCHES}

# cause code -> (always a violation?, meaning)
CAUSES = {
    "tie": (False, "a choice among exactly equal scores (a tie at the selection threshold)"),
    "k_rounding": (False, "k rounded another way than floor(f * n)"),
    "grow_count": (False, "grew a different number of connections than were dropped"),
    "drop_inactive": (False, "inactive positions were ranked in the drop"),
    "no_regrow_dropped": (False, "just-dropped connections could not come back"),
    "layout": (False, "ties ordered in another memory layout"),
    "tie_noise": (False, "choices within the official code's score noise (sigma 1e-5)"),
    "regrown_reset": (False, "dropped-and-regrown connections lost their weight or state"),
    "state_dense": (False, "optimizer state kept dense: never masked nor reset in the update"),
    "dense_updated": (False, "a layer at density 1 was updated like a sparse one"),
    "step_before": (False, "the optimizer step ran before the mask update on the update batch"),
    "count_unchecked": (False, "how many grew was taken from your mask: verify cannot check it"),
    "nm_groups": (False, "N:M groups taken along another axis than M consecutive inputs"),
    "global_scores": (False, "a global ranking of each layer's scores divided by their L2 norm"),
    "fan_in": (False, "SRigL: another constant fan-in than budget // surviving neurons"),
    "ablation": (False, "SRigL: other neurons ablated than the rule (and the ablate key) give"),
    "schedule": (False, "update steps or drop fractions from another schedule convention"),
    "density": (False, "layer densities or counts from another convention"),
    "wrong_drop": (True, "a connection was dropped that had to be kept, or the reverse"),
    "wrong_grow": (True, "a connection was grown that had to stay off, or the reverse"),
    "nm_structure": (True, "N:M: a group does not hold exactly N active connections after the "
                     "update"),
    "new_weight_nonzero": (True, "a new connection does not start at weight 0"),
    "state_not_reset": (True, "the optimizer state of a new connection is not 0"),
    "off_mask_nonzero": (True, "a weight or optimizer state is non-zero off the new mask"),
    "kept_changed": (True, "a kept connection's weight or state changed in the update"),
}
UPDATE_SWITCHES = ("k_rounding", "grow_count", "drop_candidates", "regrow_dropped", "regrown",
                   "layout", "tie_noise", "state", "dense_layers", "optimizer_step", "fan_in",
                   "ablation", "nm_groups")
TIE_NOISE_BOUND = 6e-5   # 6 sigma of the official code's sigma = 1e-5 noise on one score
TIE_NOISE_SHARE = 0.1    # ... and at most this share of the layer's median non-zero score


@dataclass(frozen=True)
class Convention:
    """One choice per update switch; the defaults are rigl_np's semantics."""

    k_rounding: str = "floor"
    grow_count: str = "k"
    drop_candidates: str = "active"
    regrow_dropped: str = "yes"
    regrown: str = "keep"
    layout: str = "out_in"
    tie_noise: str = "no"
    state: str = "masked"
    dense_layers: str = "skip"
    optimizer_step: str = "skip"
    fan_in: str = "recompute"
    ablation: str = "file"
    nm_groups: str = "in"

    def changed(self) -> dict:
        """``{field: choice}`` of every switch not at rigl_np's default."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != f.default}

    def with_(self, **choices) -> "Convention":
        return replace(self, **choices)


def option_text(field: str, choice: str) -> str:
    """The command-line words that select ``choice`` (``--k-rounding round``)."""
    return f"{SWITCH[field].option} {choice}"


def rule_counts(n: int, f: float) -> list:
    """``[(rule, k, formula)]``: the k of every rounding rule for n active and drop fraction f.

    floor first (rigl_np's own, in float64 as ``rigl_update`` computes it); then the same rules in
    float32 arithmetic (TensorFlow casts n * f in float32), and each as a complement, n minus
    the kept count rounded the other way (in floats these can differ by one from the direct
    form: 1000 - floor(1000 * (1 - 0.8)) = 801); round also with halves up; k is clipped to
    [0, n].
    """
    x64, x32 = f * n, float(np.float32(n) * np.float32(f))
    rules = [("floor", math.floor(x64), "floor(f * n)"),
             ("floor", math.floor(x32), "floor(f * n) in float32"),
             ("floor", n - math.ceil(n * (1 - f)), "n - ceil(n * (1 - f))"),
             ("round", round(x64), "round(f * n)"),
             ("round", n - round(n * (1 - f)), "n - round(n * (1 - f))"),
             ("round", math.floor(x64 + 0.5), "floor(f * n + 1/2)"),
             ("round", round(x32), "round(f * n) in float32"),
             ("ceil", math.ceil(x64), "ceil(f * n)"),
             ("ceil", math.ceil(x32), "ceil(f * n) in float32"),
             ("ceil", n - math.floor(n * (1 - f)), "n - floor(n * (1 - f))")]
    return [(rule, min(max(int(k), 0), n), formula) for rule, k, formula in rules]


def drop_counts(n: int, f: float) -> list:
    """``rule_counts`` with one entry per distinct k (the first rule giving it wins)."""
    out, seen = [], set()
    for rule, k, formula in rule_counts(n, f):
        if k not in seen:
            seen.add(k)
            out.append((rule, k, formula))
    return out


def rules_giving(n: int, f: float, k: int) -> list:
    """Every k-rounding rule under which n active and drop fraction f drop exactly k."""
    return list(dict.fromkeys(rule for rule, kk, _ in rule_counts(n, f) if kk == k))


@dataclass
class Trial:
    """One reproduction to try: a convention, the k its rounding gives, and the drop score."""

    conv: Convention
    k: int
    formula: str        # how this k was computed ("floor(f * n)", ...)
    drop_score: str     # "active" (|W|), "masked" (|W * M| everywhere), "raw" (|W| everywhere)
    extra: int = 0      # active zeros dropped beyond the rounding's k (--drop-candidates sort)

    @property
    def level(self) -> int:
        return len(self.conv.changed())


def drop_variants(p, n_keep: int, sort: bool = True) -> list:
    """``[(drop_candidates, drop score)]`` worth trying for problem ``p``. Ranking every position
    by |W * M| differs from ranking the active ones only when fewer than ``n_keep`` active
    weights are non-zero (inactive zeros then compete): kept inactive zeros become active
    (``all``), or only the active ones stay and more than k go (``sort``: zero the first
    n_inactive + k of one ascending sort, ``sort`` False leaves it out); by |W| as stored, only
    when weights are non-zero off the mask."""
    variants = [("active", "active")]
    w_abs = np.abs(p.weight)
    if np.count_nonzero(w_abs * p.mask) < n_keep:
        variants.append(("all", "masked"))
        if sort:
            variants.append(("sort", "active"))
    if np.any(w_abs[~p.mask]):
        variants.append(("all", "raw"))
    return variants
