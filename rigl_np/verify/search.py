"""Which conventions make another implementation's mask ours: a pruned search over the switches.

For one layer update whose mask differs from rigl_np's, ``explain`` tries the conventions its
method's family varies (``families/``: drop/grow updates, k rounding x growth count x drop
candidates x regrowth of just-dropped connections; constant fan-in updates, k rounding x ablation
x fan-in x regrowth x drop candidates), fewest changes first, and at each number of changes asks,
in this order:

1. exact: does the family's update under these conventions give their mask?
2. ties: does it give their mask when equal scores prefer their choice (``ties.py``)? If so, does
   breaking ties in the other memory layout give it exactly (then the layout explains it)?

then, for at most one change, whether the official code's score noise explains it. Cheap count
checks prune first (the family's ``trials``): how many connections their mask holds, and how many
left it, rule out most k-roundings, growth counts and regrowth choices before any top-k is
computed. When nothing explains the mask, ``closest`` finds the trial whose tie-preferring update
is nearest to theirs, for the diagnosis (the family's ``diagnose``: which step differs, where).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rigl_np.verify import ties
from rigl_np.verify.conventions import TIE_NOISE_BOUND, TIE_NOISE_SHARE, Convention


@dataclass
class Match:
    trial: object       # the conventions.Trial that gives their mask
    kind: str           # "exact" | "tie" | "noise"
    outcome: object     # the family's update under the trial, a masks.MaskUpdate


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
        drop, grow = self.drop(variant), self.grow()
        return (ties.nudged(drop, n, noise_bound(drop[self.p.mask])),
                ties.nudged(grow, n, noise_bound(grow[~self.p.mask])))


def noise_bound(scores) -> float:
    """The official code's noise bound (6 sigma), at most ``TIE_NOISE_SHARE`` of the median
    non-zero score: a layer whose scores are all far below the noise (a dead layer's tiny
    weights) is not explained by noise, since noise would make every choice."""
    nonzero = np.abs(scores[scores != 0])
    if nonzero.size == 0:
        return 0.0
    return min(TIE_NOISE_BOUND, TIE_NOISE_SHARE * float(np.median(nonzero)))


def _distance(conv: Convention, selected: dict) -> int:
    """How many switches ``conv`` sets otherwise than the user selected (or rigl_np's default)."""
    base = Convention().with_(**{f: v for f, v in selected.items()
                                 if f in Convention.__dataclass_fields__ and f != "layout"})
    return sum(getattr(conv, f) != getattr(base, f) for f in Convention.__dataclass_fields__
               if f != "layout")


def trials(p, prune: bool = True, selected: dict | None = None) -> list:
    """The trials, the user's selected conventions first, then fewest changes, then those that
    drop no more than their k (a sort dropping one more zero weight is the last guess)."""
    found = p.family.trials(p, prune)
    return sorted(found, key=lambda t: (_distance(t.conv, selected or {}), t.level, t.extra > 0))


def matches(p, scores: Scores, selected: dict | None = None, noise: bool = True):
    """Every ``Match`` that explains their mask, nearest the selected conventions (fewest
    changes) first: at each distance the exact ones, then the ties; last (if ``noise``), the
    score noise. A generator: ``explain`` takes the first, and ``classify`` walks the others
    (without noise, which cannot change which connections were kept) when the first leaves a
    weight or state rule broken that another convention giving the same mask explains."""
    theirs = p.new_mask
    found = trials(p, selected=selected)                   # count-pruned, nearest first
    rank = {id(t): _distance(t.conv, selected or {}) for t in found}
    for level in sorted(set(rank.values())):
        at = [t for t in found if rank[id(t)] == level]
        exact = set()
        # 1. exact: the family's update under these conventions gives their mask
        for t in at:
            out = p.family.run(p, t, scores.drop(t.drop_score), scores.grow())
            if np.array_equal(out.mask, theirs):
                exact.add(id(t))
                yield Match(t, "exact", out)
        # 2. ties: it does when equal scores prefer their choice; exactly, in the other layout?
        for t in (t for t in at if id(t) not in exact):
            out = p.family.run(p, t, *scores.preferring(t.drop_score))
            if not np.array_equal(out.mask, theirs):
                continue
            if p.mask.ndim in (2, 4):
                other = replace(t, conv=t.conv.with_(layout="in_out"))
                again = p.family.run(p, other, scores.drop(t.drop_score), scores.grow())
                if np.array_equal(again.mask, theirs):
                    yield Match(other, "exact", again)
                    continue
            yield Match(t, "tie", out)
    # 3. the official code's score noise
    for t in found if noise else ():
        out = p.family.run(p, t, *scores.nudged(t.drop_score))
        if np.array_equal(out.mask, theirs):
            yield Match(replace(t, conv=t.conv.with_(tie_noise="yes")), "noise", out)


def explain(p, scores: Scores, selected: dict | None = None):
    """The ``Match`` nearest the selected conventions (fewest changes) that explains their
    mask, or None."""
    return next(matches(p, scores, selected), None)


def closest(p, scores: Scores):
    """(trial, tie-preferring outcome) nearest to their mask among the trials of at most one
    change, fewest changes on a draw."""
    best = None
    for t in (t for t in trials(p, prune=False) if t.level <= 1):
        out = p.family.run(p, t, *scores.preferring(t.drop_score))
        distance = int(np.count_nonzero(out.mask != p.new_mask))
        if best is None or (distance, t.level) < best[0]:
            best = ((distance, t.level), t, out)
    return best[1], best[2]
