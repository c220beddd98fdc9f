"""The drop/grow family: updates of unstructured masks (RigL, SET, SNFS), and the conventions
other implementations of them choose.

RigL paper, Section 3 (docs/semantics.md "The RigL update"): drop k of the n active connections by
|W|, grow k by the method's grow score. ``run`` reproduces that under a ``conventions.Trial`` with
the library's own composer, ``rigl.drop_and_grow``, its parameters set from the switches (which
positions compete in the drop, whether just-dropped connections may return, how many grow) and
its arrays viewed in the trial's layout, so that ties break in that layout's order. The scores and
k are given: |W| over the active positions, |W * M| or |W| over all of them, tie-preferring keys
(``ties.py``); k from the k-rounding switch (``conventions.drop_counts``). Conventions that only
change k or n_grow are trials too: one sort over all positions (``--drop-candidates sort``: k is
as many as left their mask, the extra ones active zeros), a layer at density 1 updated
(``--dense-layers update``), and a growth count taken from their mask (``--grow-count random``
without a budget; ``redistribute`` in a whole model, whose counts ``redistribute.py`` checks).
"""
from __future__ import annotations

import numpy as np

from rigl_np.rigl import drop_and_grow, mask_update, select_top_k, unchanged
from rigl_np.verify.conventions import Convention, Trial, drop_counts, drop_variants
from rigl_np.verify.layout import canonical, to_layout


def _count(a) -> int:
    return int(np.count_nonzero(a))


class DropGrow:
    """Drop k, grow k (or back to a target count): ``masks.Unstructured`` methods."""

    required_keys = ()
    optional_keys = ("budget",)       # the target count of --grow-count refill
    switches = ("k_rounding", "grow_count", "drop_candidates", "regrow_dropped", "dense_layers",
                "layout")
    whole_model = False

    def check(self, p):
        return None

    def ours(self, p):
        """rigl_np's update (``rigl.mask_update``) of the problem."""
        return mask_update(p.weight, p.mask, p.grow_score, p.drop_fraction)

    def trials(self, p, prune: bool = True) -> list:
        """Every trial consistent with their counts (all of them if not ``prune``)."""
        n, size = _count(p.mask), p.mask.size
        after = _count(p.new_mask)
        lost = _count(p.mask & ~p.new_mask)                        # left and not regrown
        # counts from their mask: redistributed (a whole model), random (no budget declared)
        taken = (("redistribute",) if p.layer is not None else ()) + (
            ("random",) if p.budget is None else ())
        out = []
        for rule, k, formula in drop_counts(n, p.drop_fraction):
            for candidates, variant in drop_variants(p, n - k):
                kd = k
                if candidates == "sort":       # more than k go: as many as left their mask
                    if not k < lost <= n - np.count_nonzero(p.weight * p.mask):
                        continue
                    kd = lost
                for dense in ("skip", "update") if n == size else ("skip",):
                    changes = kd > 0 and (n < size or dense == "update")
                    if n == size and dense == "update" and not changes:
                        continue
                    for grow_count in ("k", "refill") + taken:
                        n_grow = self._n_grow(p, grow_count, n, kd)
                        if grow_count != "k" and (n_grow == kd or n_grow is None or n_grow < 0
                                                  or not changes):
                            continue
                        for regrow in ("yes", "no"):
                            # at most the positions open to growth (none kept, nor dropped if
                            # they may not return) can grow
                            open_ = size - (n - kd) - (kd if regrow == "no" else 0)
                            if prune and (n - kd + min(n_grow, open_) if changes else n) != after:
                                continue
                            if prune and candidates != "all" and changes and (
                                    lost > kd or (regrow == "no" and lost != kd)):
                                continue
                            conv = Convention(k_rounding=rule, grow_count=grow_count,
                                              drop_candidates=candidates, regrow_dropped=regrow,
                                              dense_layers=dense)
                            out.append(Trial(conv, kd, formula, variant, extra=kd - k))
        return out

    @staticmethod
    def _n_grow(p, grow_count: str, n: int, k: int):
        """How many grow under ``grow_count`` after k of n were dropped (None: no budget key)."""
        if grow_count == "k":
            return k
        if grow_count == "refill":
            return None if p.budget is None else p.budget - (n - k)
        return _count(p.new_mask) - (n - k)        # random, redistribute: their own count

    def run(self, p, trial: Trial, drop_score, grow_score):
        """The update under ``trial`` on the given scores, a ``masks.MaskUpdate``."""
        conv, lay = trial.conv, trial.conv.layout
        if p.mask.all() and conv.dense_layers == "skip":
            return unchanged(p.mask)
        sd, sg, m = (to_layout(a, lay) for a in (drop_score, grow_score, p.mask))
        n = _count(m)
        among = np.ones(m.shape, bool) if conv.drop_candidates == "all" else m
        out = drop_and_grow(sd, sg, m, trial.k, drop_among=among,
                            regrow_dropped=conv.regrow_dropped == "yes",
                            n_grow=self._n_grow(p, conv.grow_count, n, trial.k))
        return canonical(out, lay)

    def diagnose(self, p, trial: Trial, ref, scores) -> tuple:
        """(drop right?, grow right?, causes, phrases) of a mask no trial explains."""
        drop_ok, grow_ok = steps_ok(p, trial, scores)
        n_before, n_after = _count(p.mask), _count(p.new_mask)
        if n_after == n_before or trial.conv.grow_count != "k":
            return drop_ok, grow_ok, [], []
        return drop_ok, grow_ok, ["grow_count"], [
            f"grow_count: {n_after:,} active after the update where {n_before:,} were active "
            "before" + (f" and the budget is {p.budget:,}" if p.budget is not None else "")]

    def head(self, p, mine) -> str:
        return f"{_count(p.mask):,} active, k = floor(f * n) = {mine.n_drop:,} dropped and grown"


def steps_ok(p, trial: Trial, scores) -> tuple:
    """(drop right?, grow right?) of a mask that no trial explains.

    The drop is right if some tie choice of the n - k kept connections lies inside their mask;
    then, since no trial explains the mask, the grow is wrong. Otherwise the grow is judged on
    *their* drop: keeping the connections of theirs with the smallest grow scores (any others
    were grown back), is what they grew a valid top-k of the rest (ties preferring theirs)?
    """
    theirs, mask = p.new_mask, p.mask
    drop_pref, grow_pref = scores.preferring(trial.drop_score)
    candidates = np.ones(mask.shape, bool) if trial.conv.drop_candidates == "all" else mask
    n_keep = _count(mask) - trial.k
    if not (select_top_k(drop_pref, candidates, n_keep) & ~theirs).any():
        return True, False
    pool = candidates & theirs
    if _count(pool) < n_keep:
        return False, False
    theirs_kept = select_top_k(-grow_pref, pool, n_keep)
    grow_candidates = ~theirs_kept if trial.conv.regrow_dropped == "yes" else ~(theirs_kept | mask)
    grown = theirs & ~theirs_kept
    ours = select_top_k(grow_pref, grow_candidates, min(_count(grown), _count(grow_candidates)))
    return False, bool(np.array_equal(ours, grown))
