"""Tie attribution, property-based: any tie order is equivalent, and only a tie is a tie.

An implementation that breaks ties by a random order of positions (a correct RigL otherwise)
must come out identical or equivalent, whatever the shape, density, drop fraction and how coarse
the scores are, and a grow difference caused by a tie at the drop must be attributed to it. The
one exception is a random order that happens to give exactly the (in, out) layout's choice: then
the layout explains it, and verify says so. Swapping a chosen and an unchosen position whose
scores differ is never a tie (a grow error, unless a named convention happens to make it right).
"""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigl_np.rigl import rigl_update
from rigl_np.verify.classify import classify
from rigl_np.verify.conventions import Convention, Trial
from rigl_np.verify.layers import Problem
from rigl_np.verify.ties import preferring

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def problem(w, m, g, f, new):
    return Problem(path="mem", layer=None, method="rigl", layout="out_in", weight=w, mask=m,
                   grow_score=np.abs(g), new_mask=new, drop_fraction=f)


def top(score, candidates, k, order):
    where = np.flatnonzero(candidates)
    chosen = np.zeros(score.size, bool)
    chosen[where[np.lexsort((order.ravel()[where], -score.ravel()[where]))[:k]]] = True
    return chosen.reshape(score.shape)


@st.composite
def layers(draw):
    rows, cols = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    levels = draw(st.sampled_from([1, 2, 3, 1000]))       # few levels: many exact ties
    n = rows * cols
    mask = (rng.permutation(n) < draw(st.integers(1, n))).reshape(rows, cols)
    w = (rng.integers(0, levels, (rows, cols)) * mask).astype(np.float32)
    g = rng.integers(0, levels, (rows, cols)).astype(np.float32)
    f = draw(st.floats(0.0, 1.0))
    return w, mask, g, f, rng


@SETTINGS
@given(layers())
def test_any_tie_order_is_equivalent(case):
    w, m, g, f, rng = case
    n = int(m.sum())
    k = math.floor(f * n)
    order = rng.permutation(m.size).reshape(m.shape)    # their tie order
    if k == 0 or n == m.size:
        theirs = m
    else:
        kept = top(np.abs(w), m, n - k, order)
        theirs = kept | top(np.abs(g), ~kept, k, order)
    p = problem(w, m, g, f, theirs)
    finding = classify(p)
    in_out = p.family.run(p, Trial(Convention(layout="in_out"), k, "", "active"), np.abs(w),
                          np.abs(g)).mask
    ours = rigl_update(w, m, g, f).mask
    if np.array_equal(theirs, ours):
        assert (finding.verdict, finding.causes) == ("identical", [])
    elif np.array_equal(theirs, in_out):
        assert (finding.verdict, finding.causes) == ("explained", ["layout"])
    else:
        assert (finding.verdict, finding.causes) == ("equivalent", ["tie"])
    assert finding.n_differ == int(np.count_nonzero(theirs != ours))


@SETTINGS
@given(layers())
def test_swapping_unequal_scores_is_never_a_tie(case):
    w, m, g, f, rng = case
    # distinct non-zero |W| on the active positions: the drop has one answer, so the grow
    # step's candidates are fixed, and growing a strictly worse position is no tie choice
    w = (np.where(m, rng.permutation(m.size).reshape(m.shape) + 1, 0)).astype(np.float32)
    ours = rigl_update(w, m, g, f)
    grown, off = np.flatnonzero(ours.grown & ~m), np.flatnonzero(~ours.mask)
    gabs = np.abs(g).ravel()
    pairs = [(a, b) for a in grown for b in off if gabs[b] < gabs[a]]
    if not pairs:
        return
    a, b = pairs[rng.integers(len(pairs))]
    theirs = ours.mask.copy().ravel()
    theirs[a], theirs[b] = False, True                   # grew a worse position instead
    finding = classify(problem(w, m, g, f, theirs.reshape(m.shape)))
    assert finding.verdict in ("differs", "explained")   # never a tie alone
    if finding.verdict == "differs":
        assert "wrong_grow" in finding.causes
    else:                                                # a named convention makes it right
        assert set(finding.causes) - {"tie"}


def test_a_drop_tie_explains_the_grow_difference_it_causes():
    # positions 0 and 1 are active and tied at |W| = 1, one of them is dropped (k = 1)
    m = np.array([[True, True, True, False, False]])
    w = np.array([[1.0, 1.0, 5.0, 0.0, 0.0]], np.float32)
    g = np.array([[0.0, 3.0, 0.0, 2.0, 1.0]], np.float32)
    ours = rigl_update(w, m, g, 1 / 3).mask       # drops 1, grows it straight back (|G| 3)
    theirs = np.array([[False, True, True, True, False]])   # drops 0 instead, then grows 3
    assert np.array_equal(ours, m)
    finding = classify(problem(w, m, g, 1 / 3, theirs))
    # position 3 is no tie itself (|G| 2, nothing equal across the threshold): it follows from
    # the tie at the drop
    assert (finding.verdict, finding.causes, finding.n_differ) == ("equivalent", ["tie"], 2)


def test_preferring_orders_as_the_score_and_breaks_ties_for_the_preferred():
    score = np.array([0.5, 0.5, 0.2, 0.9], np.float32)
    key = preferring(score, np.array([False, True, False, False]))
    assert list(np.argsort(-key, kind="stable")) == [3, 1, 0, 2]
