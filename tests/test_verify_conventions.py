"""The updates under conventions (each family's ``run``): rigl_np's own at the defaults
(property-based), the switches doing what they say, the k-rounding rules, and every switch, key
and cause documented in docs/verify.md."""
import math
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigl_np.rigl import mask_update, rigl_update
from rigl_np.srigl import srigl_budget, srigl_update
from rigl_np.verify.conventions import (CAUSES, SWITCHES, UPDATE_SWITCHES, Convention, Trial,
                                        drop_counts, rules_giving)
from rigl_np.verify.layers import Problem
from rigl_np.verify.schema import tables

DOC = Path(__file__).resolve().parent.parent / "docs" / "verify.md"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHAPES = st.sampled_from([(7, 5), (12, 20), (6, 3, 3, 3), (4, 4, 1, 1), (30,)])


def rigl_outcome(drop_score, grow_score, mask, k, conv, target=None):
    """The drop/grow family's update under ``conv`` (``target``: the refill budget)."""
    p = Problem(path="mem", layer=None, method="rigl", layout="out_in", weight=drop_score,
                mask=mask, grow_score=grow_score, new_mask=mask, drop_fraction=0.0,
                budget=target)
    return p.family.run(p, Trial(conv, k, "", "active"), drop_score, grow_score)


def srigl_outcome(drop_score, grow_score, mask, k, budget, gamma_sal, ablate, conv):
    """The constant fan-in family's update under ``conv``."""
    p = Problem(path="mem", layer=None, method="srigl", layout="out_in", weight=drop_score,
                mask=mask, grow_score=grow_score, new_mask=mask, drop_fraction=0.0,
                budget=budget, gamma_sal=gamma_sal, ablate=ablate)
    return p.family.run(p, Trial(conv, k, "", "active"), drop_score, grow_score)


@SETTINGS
@given(SHAPES, st.integers(0, 2**32 - 1), st.floats(0.0, 1.0), st.sampled_from([1, 3, 1000]))
def test_rigl_reference_at_the_defaults_is_rigl_update(shape, seed, f, levels):
    rng = np.random.default_rng(seed)
    m = rng.random(shape) < rng.uniform(0.05, 1.0)
    w = (rng.integers(0, levels, shape) * m).astype(np.float32)
    g = rng.integers(0, levels, shape).astype(np.float32)
    ours = rigl_update(w, m, g, f)
    out = rigl_outcome(np.abs(w), np.abs(g), m, math.floor(f * m.sum()), Convention())
    assert np.array_equal(out.mask, ours.mask) and np.array_equal(out.dropped, ours.dropped)


@SETTINGS
@given(st.sampled_from([(12, 20), (8, 3, 3, 3), (10, 6)]), st.integers(0, 2**32 - 1),
       st.floats(0.0, 1.0), st.sampled_from([0.2, 0.35, 0.5]), st.booleans())
def test_srigl_reference_at_the_defaults_is_srigl_update(shape, seed, f, density, ablate):
    rng = np.random.default_rng(seed)
    n_out, fan = shape[0], math.prod(shape[1:])
    budget = srigl_budget(shape, density)
    m = (np.argsort(rng.random((n_out, fan)), axis=1) < budget // n_out).reshape(shape)
    w = (np.round(rng.standard_normal(shape), 1) * m).astype(np.float32)
    g = np.round(rng.standard_normal(shape), 1).astype(np.float32)
    w[: n_out // 3] *= 1e-3                          # weak neurons, for ablation
    ours = srigl_update(w, m, g, f, budget, ablate=ablate)
    out = srigl_outcome(np.abs(w), np.abs(g), m, math.floor(f * m.sum()), budget, 0.3, ablate,
                        Convention())
    assert np.array_equal(out.mask, ours.mask) and np.array_equal(out.ablated, ours.ablated)


def test_the_switches_change_what_they_say():
    rng = np.random.default_rng(0)
    m = rng.random((20, 30)) < 0.3
    w = (rng.standard_normal(m.shape) * m).astype(np.float32)
    g = np.where(m, 5.0, rng.random(m.shape)).astype(np.float32)   # dropped ones want back
    n, k = int(m.sum()), math.floor(0.3 * m.sum())
    default = rigl_outcome(np.abs(w), g, m, k, Convention())
    no_regrow = rigl_outcome(np.abs(w), g, m, k, Convention(regrow_dropped="no"))
    assert (default.mask & default.dropped).any()                  # regrown-same exists
    assert not (no_regrow.mask & no_regrow.dropped).any()
    refill = rigl_outcome(np.abs(w), g, m, k, Convention(grow_count="refill"), target=n - 4)
    assert refill.mask.sum() == n - 4 and default.mask.sum() == n
    zeros = np.zeros(m.shape, np.float32)                          # every active weight 0
    every = rigl_outcome(zeros, g, m, k, Convention(drop_candidates="all"))
    first = np.arange(m.size) < n - k                              # kept: the lowest indices
    assert every.mask.ravel()[first].all() and not m.ravel()[first].all()


def test_k_rounding_rules():
    assert drop_counts(192, 0.302)[0] == ("floor", 57, "floor(f * n)")
    assert [k for _, k, _ in drop_counts(192, 0.302)] == [57, 58]
    assert rules_giving(192, 0.302, 58) == ["round", "ceil"]
    assert rules_giving(5, 0.5, 3) == ["round", "ceil"]           # 5 - round(2.5) = 3
    assert rules_giving(96, 0.001, 0) == ["floor", "round"]         # f * n = 0.096


def test_switch_table_covers_the_convention_fields():
    fields = {s.field for s in SWITCHES}
    assert set(UPDATE_SWITCHES) == set(Convention.__dataclass_fields__) <= fields
    assert {s.cause for s in SWITCHES} <= set(CAUSES)
    assert all(s.choices[0] == Convention.__dataclass_fields__[s.field].default
               for s in SWITCHES if s.field in UPDATE_SWITCHES)


def test_docs_list_every_key_switch_cause_and_implementation():
    text = DOC.read_text()
    for _, keys in tables():
        assert all(f"`{k.name}`" in text for k in keys), [k.name for k in keys
                                                           if f"`{k.name}`" not in text]
    for s in SWITCHES:
        assert f"`{s.option}`" in text and all(f"`{c}`" in text for c in s.choices), s.option
    assert all(f"`{code}`" in text for code in CAUSES)
    for name in ("google-research/rigl", "rigl-torch 0.5.2", "condensed-sparsity"):
        assert name in text


def test_set_reference_uses_the_given_scores():
    rng = np.random.default_rng(2)
    m = rng.random((10, 10)) < 0.3
    w = (rng.standard_normal(m.shape) * m).astype(np.float32)
    scores = rng.random(m.shape)
    out = rigl_outcome(np.abs(w), scores, m, math.floor(0.5 * m.sum()), Convention())
    assert np.array_equal(out.mask, mask_update(w, m, scores, 0.5).mask)
