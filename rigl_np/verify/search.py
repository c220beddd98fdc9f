"""Which conventions make another implementation's mask ours: a pruned search over the switches.

For one layer update whose mask differs from rigl_np's, ``explain`` tries the conventions of
``conventions.py`` (RigL: k rounding x growth count x drop candidates x regrowth of just-dropped
connections; SRigL: k rounding x ablation x fan-in x regrowth x drop candidates), fewest changes
first, and at each number of changes asks, in this order:

1. exact: does the reference update under these conventions give their mask?
2. ties: does it give their mask when equal scores prefer their choice (``ties.py``)? If so, does
   breaking ties in the other memory layout give it exactly (then the layout explains it)?

then, for at most one change, whether the official code's score noise explains it. Cheap count
checks prune first: how many connections their mask holds, and how many left it, rule out most
k-roundings, growth counts and regrowth choices before any top-k is computed. When nothing
explains the mask, ``closest`` finds the trial whose tie-preferring update is nearest to theirs,
for the diagnosis (which step differs, where).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rigl_np.verify import ties
from rigl_np.verify.conventions import TIE_NOISE_BOUND, Convention, drop_counts
from rigl_np.rigl import select_top_k
from rigl_np.verify.reference import rigl_outcome, srigl_outcome


@dataclass
class Trial:
    conv: Convention
    k: int
    formula: str        # how this k was computed ("floor(f * n)", ...)
    drop_score: str     # "active" (|W|), "masked" (|W * M| everywhere), "raw" (|W| everywhere)

    @property
    def level(self) -> int:
        return len(self.conv.changed())


@dataclass
class Match:
    trial: Trial
    kind: str           # "exact" | "tie" | "noise"
    outcome: object     # reference.Outcome


class Scores:
    """The drop and grow scores of a problem, their tie-preferring keys computed once, lazily."""

    def __init__(self, problem):
        self.p = problem
        self._cache = {}

    def drop(self, variant: str):
        if variant not in self._cache:
            w = np.abs(self.p.weight)
            self._cache[variant] = w * self.p.mask if variant == "masked" else w
        return self._cache[variant]

    def grow(self):
        return self.p.grow_score

    def preferring(self, variant: str):
        key = ("prefer", variant)
        if key not in self._cache:
            n = self.p.new_mask
            self._cache[key] = (ties.preferring(self.drop(variant), n, then=self.grow()),
                                ties.preferring(self.grow(), n))
        return self._cache[key]

    def nudged(self, variant: str):
        n = self.p.new_mask
        return (ties.nudged(self.drop(variant), n, TIE_NOISE_BOUND),
                ties.nudged(self.grow(), n, TIE_NOISE_BOUND))


def _drop_variants(p, n_keep: int) -> list:
    """The drop scores worth trying. Ranking every position by |W * M| differs from ranking the
    active ones only when fewer than ``n_keep`` active weights are non-zero (inactive zeros then
    compete); by |W| as stored, only when weights are non-zero off the mask."""
    variants = [("active", "active")]
    w_abs = np.abs(p.weight)
    if np.count_nonzero(w_abs * p.mask) < n_keep:
        variants.append(("all", "masked"))
    if np.any(w_abs[~p.mask]):
        variants.append(("all", "raw"))
    return variants


def rigl_trials(p, prune: bool = True) -> list:
    """Every RigL/SET/SNFS trial consistent with their counts (all of them if not ``prune``)."""
    n, size = int(np.count_nonzero(p.mask)), p.mask.size
    after = int(np.count_nonzero(p.new_mask))
    lost = int(np.count_nonzero(p.mask & ~p.new_mask))             # left and not regrown
    target = p.budget if p.budget is not None else after
    ks = drop_counts(n, p.drop_fraction)
    out = []
    for rule, k, formula in ks:
        changes = n < size and k > 0
        for grow_count in ("k", "refill"):
            n_grow = k if grow_count == "k" else target - (n - k)
            if grow_count == "refill" and (n_grow == k or not changes):
                continue
            if prune and (n - k + n_grow if changes else n) != after:
                continue
            for regrow in ("yes", "no"):
                for candidates, variant in _drop_variants(p, n - k):
                    if prune and candidates == "active" and changes and (
                            lost > k or (regrow == "no" and lost != k)):
                        continue
                    conv = Convention(k_rounding=rule, grow_count=grow_count,
                                      drop_candidates=candidates, regrow_dropped=regrow)
                    out.append(Trial(conv, k, formula, variant))
    return out


def srigl_trials(p, prune: bool = True) -> list:
    """The SRigL trials: ablation and fan-in switches only where their mask can need them."""
    n = int(np.count_nonzero(p.mask))
    empty_rows = bool((~p.new_mask.reshape(p.mask.shape[0], -1).any(axis=1)).any())
    ablations = ["file"] + (["always" if not p.ablate else "never"]
                            if not prune or empty_rows != p.ablate else [])
    fan_ins = ["recompute"] + (["keep"] if not prune or empty_rows else [])
    out = []
    for rule, k, formula in drop_counts(n, p.drop_fraction):
        for ablation in ablations:
            for fan_in in fan_ins:
                for regrow in ("yes", "no"):
                    for candidates, variant in _drop_variants(p, n - k):
                        conv = Convention(k_rounding=rule, ablation=ablation, fan_in=fan_in,
                                          regrow_dropped=regrow, drop_candidates=candidates)
                        out.append(Trial(conv, k, formula, variant))
    return out


def run(p, trial: Trial, drop_score, grow_score):
    """The reference outcome of ``trial`` on the given scores."""
    if p.method == "srigl":
        return srigl_outcome(drop_score, grow_score, p.mask, trial.k, p.budget, p.gamma_sal,
                             p.ablate, trial.conv)
    target = p.budget if p.budget is not None else int(np.count_nonzero(p.new_mask))
    return rigl_outcome(drop_score, grow_score, p.mask, trial.k, trial.conv, target)


def _distance(conv: Convention, selected: dict) -> int:
    """How many switches ``conv`` sets otherwise than the user selected (or rigl_np's default)."""
    base = Convention().with_(**{f: v for f, v in selected.items()
                                 if f in Convention.__dataclass_fields__ and f != "layout"})
    return sum(getattr(conv, f) != getattr(base, f) for f in Convention.__dataclass_fields__
               if f != "layout")


def trials(p, prune: bool = True, selected: dict | None = None) -> list:
    """The trials, the user's selected conventions first, then fewest changes."""
    found = srigl_trials(p, prune) if p.method == "srigl" else rigl_trials(p, prune)
    return sorted(found, key=lambda t: (_distance(t.conv, selected or {}), t.level))


def explain(p, scores: Scores, selected: dict | None = None):
    """The ``Match`` nearest the selected conventions (fewest changes) that explains their
    mask, or None."""
    theirs = p.new_mask
    found = trials(p, selected=selected)                   # count-pruned, nearest first
    rank = {id(t): _distance(t.conv, selected or {}) for t in found}
    for level in sorted(set(rank.values())):
        at = [t for t in found if rank[id(t)] == level]
        # 1. exact: the reference under these conventions gives their mask
        for t in at:
            out = run(p, t, scores.drop(t.drop_score), scores.grow())
            if np.array_equal(out.mask, theirs):
                return Match(t, "exact", out)
        # 2. ties: it does when equal scores prefer their choice; exactly, in the other layout?
        for t in at:
            out = run(p, t, *scores.preferring(t.drop_score))
            if not np.array_equal(out.mask, theirs):
                continue
            if p.mask.ndim in (2, 4):
                other = Trial(t.conv.with_(layout="in_out"), t.k, t.formula, t.drop_score)
                exact = run(p, other, scores.drop(t.drop_score), scores.grow())
                if np.array_equal(exact.mask, theirs):
                    return Match(other, "exact", exact)
            return Match(t, "tie", out)
    # 3. the official code's score noise
    for t in found:
        out = run(p, t, *scores.nudged(t.drop_score))
        if np.array_equal(out.mask, theirs):
            return Match(Trial(t.conv.with_(tie_noise="yes"), t.k, t.formula, t.drop_score),
                         "noise", out)
    return None


def closest(p, scores: Scores):
    """(trial, tie-preferring outcome) nearest to their mask among the trials of at most one
    change, fewest changes on a draw."""
    best = None
    for t in (t for t in trials(p, prune=False) if t.level <= 1):
        out = run(p, t, *scores.preferring(t.drop_score))
        distance = int(np.count_nonzero(out.mask != p.new_mask))
        if best is None or (distance, t.level) < best[0]:
            best = ((distance, t.level), t, out)
    return best[1], best[2]


def steps_ok(p, trial: Trial, scores: Scores) -> tuple:
    """(drop right?, grow right?) of a RigL-family mask that no trial explains.

    The drop is right if some tie choice of the n - k kept connections lies inside their mask;
    then, since no trial explains the mask, the grow is wrong. Otherwise the grow is judged on
    *their* drop: keeping the connections of theirs with the smallest grow scores (any others
    were grown back), is what they grew a valid top-k of the rest (ties preferring theirs)?
    """
    theirs, mask = p.new_mask, p.mask
    n = int(np.count_nonzero(mask))
    drop_pref, grow_pref = scores.preferring(trial.drop_score)
    everywhere = np.ones(mask.shape, bool)
    candidates = mask if trial.conv.drop_candidates == "active" else everywhere
    n_keep = n - trial.k
    if not (select_top_k(drop_pref, candidates, n_keep) & ~theirs).any():
        return True, False
    pool = candidates & theirs
    if int(np.count_nonzero(pool)) < n_keep:
        return False, False
    theirs_kept = select_top_k(-grow_pref, pool, n_keep)
    grow_candidates = ~theirs_kept if trial.conv.regrow_dropped == "yes" else ~(theirs_kept | mask)
    grown = theirs & ~theirs_kept
    ours = select_top_k(grow_pref, grow_candidates, min(int(np.count_nonzero(grown)),
                                                         int(np.count_nonzero(grow_candidates))))
    return False, bool(np.array_equal(ours, grown))
