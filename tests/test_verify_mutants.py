"""``verify`` on a catalogue of other RigL implementations, each a known convention or mistake.

Every mutant below is its own small RigL (``their_update``: top-k by a stable sort with its own
tie order, its own k rounding, candidates and counts), written independently of rigl_np's code,
and ``verify`` must give it the right verdict and cause codes, name the option that selects a
convention, and exit 0 only when every convention it needed was selected.
"""
import math

import numpy as np
import pytest

from rigl_np.verify import save_update, verify_paths


def layer(seed=0, shape=(24, 32), density=0.25, quantize=None, stale=False, scale=1.0):
    """Weight, mask (exact count), dense gradient; ``stale``: dead weights keep old values."""
    rng = np.random.default_rng(seed)
    n = math.prod(shape)
    mask = (rng.permutation(n) < round(density * n)).reshape(shape)
    w = rng.standard_normal(shape) * scale
    g = rng.standard_normal(shape)
    if quantize:
        w, g = np.round(w * quantize) / quantize, np.round(g * quantize) / quantize
    w = w if stale else w * mask
    return w.astype(np.float32), mask, g.astype(np.float32)


def top(score, candidates, k, tie_key):
    """The k candidates with the largest score; equal scores by ascending ``tie_key``."""
    where = np.flatnonzero(candidates)
    order = np.lexsort((tie_key.ravel()[where], -score.ravel()[where]))
    chosen = np.zeros(score.size, bool)
    chosen[where[order[:k]]] = True
    return chosen.reshape(score.shape)


def their_update(w, m, g, f, k_of=lambda f, n: math.floor(f * n), drop_all=False, raw=False,
                 regrow=True, grow_to=None, tie_key=None, drop_noise=None):
    """Another implementation's RigL mask update: (new mask, kept). ``drop_all`` ranks every
    position by |W * M| (``raw``: by |W| as stored, dead weights' old values included)."""
    n = int(m.sum())
    k = k_of(f, n)
    tie_key = np.arange(m.size).reshape(m.shape) if tie_key is None else tie_key
    score = np.abs(w * m if drop_all and not raw else w).astype(np.float64)
    if drop_noise is not None:
        score = score + drop_noise
    kept = top(score, np.ones(m.shape, bool) if drop_all else m, n - k, tie_key)
    candidates = ~kept & (True if regrow else ~m)
    n_grow = k if grow_to is None else grow_to - (n - k)
    grown = top(np.abs(g), candidates, n_grow, tie_key)
    return kept | grown, kept


def their_weights(w, m, new, kept, zero_init=True, reset_regrown=False):
    out = w.copy()
    if zero_init:
        out[new & ~m] = 0
    if reset_regrown:
        out[m & ~kept & new] = 0
    return out * new


def verdict(tmp_path, name="u.npz", selected=None, **arrays):
    path = save_update(tmp_path / name, **arrays)
    results, errors, _ = verify_paths([path], selected)
    assert not errors and len(results) == 1
    return results[0]


def test_a_correct_implementation_is_identical(tmp_path):
    w, m, g = layer()
    new, kept = their_update(w, m, g, 0.3)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new,
                new_weight=their_weights(w, m, new, kept))
    assert (r.verdict, r.causes, r.n_differ, r.accepted) == ("identical", [], 0, True)


@pytest.mark.parametrize("rule, k_of, f", [
    ("round", lambda f, n: n - round(n * (1 - f)), 0.302),    # the documented rounding
    ("round", lambda f, n: round(f * n), 0.302),              # f * n = 57.98: round 58
    ("ceil", lambda f, n: math.ceil(f * n), 0.2984)])         # f * n = 57.29: ceil 58
def test_other_k_roundings_are_explained_and_named(tmp_path, rule, k_of, f):
    w, m, g = layer()                                  # 192 active
    new, kept = their_update(w, m, g, f, k_of=k_of)
    arrays = dict(weight=w, mask=m, grad=g, drop_fraction=f, new_mask=new,
                  new_weight=their_weights(w, m, new, kept))
    r = verdict(tmp_path, **arrays)
    assert (r.verdict, r.causes, r.accepted) == ("explained", ["k_rounding"], False)
    assert r.n_differ > 0 and f"--k-rounding {rule}" in r.detail
    assert r.options == [f"--k-rounding {rule}"]
    assert verdict(tmp_path, "v.npz", {"k_rounding": rule}, **arrays).accepted


def test_a_complement_rounding_in_floats_is_named(tmp_path):
    w, m, g = layer(shape=(40, 50), density=0.5)       # 1000 active
    g = np.where(m, g / 100, g).astype(np.float32)      # what is dropped does not come back
    new, _ = their_update(w, m, g, 0.8, k_of=lambda f, n: n - math.floor(n * (1 - f)))
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.8, new_mask=new)
    assert (r.verdict, r.causes) == ("explained", ["k_rounding"])
    assert "n - floor(n * (1 - f)) = 801" in r.detail and r.options == ["--k-rounding ceil"]


def test_round_and_ceil_giving_the_same_k_accept_either(tmp_path):
    w, m, g = layer()
    new, _ = their_update(w, m, g, 0.302, k_of=lambda f, n: math.ceil(f * n))  # 57.98 -> 58
    arrays = dict(weight=w, mask=m, grad=g, drop_fraction=0.302, new_mask=new)
    r = verdict(tmp_path, **arrays)
    assert r.verdict == "explained" and "--k-rounding round or ceil" in r.detail
    for rule in ("round", "ceil"):
        assert verdict(tmp_path, f"{rule}.npz", {"k_rounding": rule}, **arrays).accepted


def test_refill_growth_is_explained_by_grow_count(tmp_path):
    w, m, g = layer()
    m = m.copy()
    m.flat[np.flatnonzero(~m)[0]] = True               # ceil: one above the budget of 192
    w = np.where(m, w + 0.5, 0).astype(np.float32)
    new, kept = their_update(w, m, g, 0.3, grow_to=192)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new, budget=192)
    assert new.sum() == m.sum() - 1
    assert (r.verdict, r.causes) == ("explained", ["grow_count"])
    assert "--grow-count refill" in r.detail


def test_refill_to_a_count_that_is_not_the_budget_differs(tmp_path):
    w, m, g = layer()
    new, _ = their_update(w, m, g, 0.3, grow_to=int(m.sum()) - 3)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new,
                budget=int(m.sum()))
    assert r.verdict == "differs" and "grow_count" in r.causes


@pytest.mark.parametrize("stale", [False, True])
def test_ranking_inactive_positions_in_the_drop(tmp_path, stale):
    w, m, g = layer(stale=stale)          # stale: dead weights keep their old values
    if not stale:                          # zero-valued active weights, tied with inactive zeros
        w[m & (np.arange(m.size).reshape(m.shape) % 3 != 0)] = 0
    new, _ = their_update(w, m, g, 0.5, drop_all=True, raw=stale)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.5, new_mask=new)
    assert r.n_differ > 0
    assert (r.verdict, r.causes) == ("explained", ["drop_inactive"])
    assert "--drop-candidates all" in r.detail


def test_no_regrowth_of_just_dropped_connections(tmp_path):
    w, m, g = layer()
    g = np.where(m, np.abs(g) + 3, g).astype(np.float32)   # the dropped ones want to come back
    new, kept = their_update(w, m, g, 0.3, regrow=False)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new,
                new_weight=their_weights(w, m, new, kept))
    assert (r.verdict, r.causes) == ("explained", ["no_regrow_dropped"])
    assert "--regrow-dropped no" in r.detail


def test_regrown_same_connections_reset_are_explained(tmp_path):
    w, m, g = layer()
    g = np.where(m, np.abs(g) + 3, g).astype(np.float32)
    new, kept = their_update(w, m, g, 0.3)
    assert (m & ~kept & new).any()
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new,
                new_weight=their_weights(w, m, new, kept, reset_regrown=True))
    assert (r.verdict, r.causes, r.n_differ) == ("explained", ["regrown_reset"], 0)
    assert r.options == ["--regrown reset"]


def test_forgotten_zero_init_of_stale_weights_differs(tmp_path):
    w, m, g = layer(stale=True)                         # dead weights keep their old values
    new, kept = their_update(w, m, g, 0.3)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new,
                new_weight=their_weights(w, m, new, kept, zero_init=False))
    assert (r.verdict, r.causes, r.n_differ) == ("differs", ["new_weight_nonzero"], 0)


def test_forgotten_momentum_reset_differs(tmp_path):
    w, m, g = layer()
    new, kept = their_update(w, m, g, 0.3)
    momentum = np.random.default_rng(1).standard_normal(m.shape).astype(np.float32)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new,
                new_weight=their_weights(w, m, new, kept), state={"momentum": momentum},
                new_state={"momentum": momentum * new})    # new connections keep stale momentum
    assert (r.verdict, r.causes) == ("differs", ["state_not_reset"])
    assert "new_state/momentum" in r.detail


def test_a_rounding_convention_and_a_zero_init_violation_are_both_listed(tmp_path):
    w, m, g = layer(stale=True)
    new, kept = their_update(w, m, g, 0.302, k_of=lambda f, n: math.ceil(f * n))
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.302, new_mask=new,
                new_weight=their_weights(w, m, new, kept, zero_init=False))
    assert r.verdict == "differs"
    assert r.causes == ["k_rounding", "new_weight_nonzero"]


def test_options_that_explain_only_some_causes_still_fail(tmp_path):
    w, m, g = layer()
    new, _ = their_update(w, m, g, 0.302, k_of=lambda f, n: math.ceil(f * n), regrow=False,
                          grow_to=None)
    arrays = dict(weight=w, mask=m, grad=g, drop_fraction=0.302, new_mask=new)
    r = verdict(tmp_path, **arrays)
    assert r.verdict == "explained" and set(r.causes) == {"k_rounding", "no_regrow_dropped"}
    assert not verdict(tmp_path, "a.npz", {"k_rounding": "ceil"}, **arrays).accepted
    assert verdict(tmp_path, "b.npz", {"k_rounding": "ceil", "regrow_dropped": "no"},
                   **arrays).accepted


def test_ties_ordered_in_the_in_out_layout(tmp_path):
    w, m, g = layer(quantize=1)
    in_out_order = np.arange(m.size).reshape(m.shape[::-1]).T     # flat index of (in, out)
    new, kept = their_update(w, m, g, 0.3, tie_key=in_out_order)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new)
    assert r.n_differ > 0 and (r.verdict, r.causes) == ("explained", ["layout"])
    assert not r.accepted
    # the same implementation saving its own (in, out) arrays says so, and passes
    r = verdict(tmp_path, "jax.npz", layout="in_out", weight=w.T, mask=m.T, grad=g.T,
                drop_fraction=0.3, new_mask=new.T)
    assert (r.verdict, r.causes, r.accepted) == ("explained", ["layout"], True)


def test_other_tie_choices_are_equivalent(tmp_path):
    w, m, g = layer(quantize=1)
    reverse = np.arange(m.size)[::-1].reshape(m.shape)             # higher flat index first
    new, kept = their_update(w, m, g, 0.3, tie_key=reverse)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new,
                new_weight=their_weights(w, m, new, kept))
    assert r.n_differ > 0 and (r.verdict, r.causes, r.accepted) == ("equivalent", ["tie"], True)


def test_tie_noise_of_the_official_code_is_explained(tmp_path):
    w, m, g = layer(scale=1e-3)                                    # |W| gaps below the noise
    noise = np.random.default_rng(3).normal(0, 1e-5, m.shape)
    new, kept = their_update(w, m, g, 0.3, drop_noise=noise)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new)
    assert r.n_differ > 0 and (r.verdict, r.causes) == ("explained", ["tie_noise"])
    assert verdict(tmp_path, "n.npz", {"tie_noise": "yes"}, weight=w, mask=m, grad=g,
                   drop_fraction=0.3, new_mask=new).accepted


@pytest.mark.parametrize("bug, cause", [("drop_largest", "wrong_drop"),
                                        ("masked_gradient", "wrong_grow")])
def test_broken_rules_differ_with_their_step(tmp_path, bug, cause):
    w, m, g = layer()
    if bug == "drop_largest":                                       # keeps the smallest |W|
        order, k = np.arange(m.size).reshape(m.shape), math.floor(0.3 * m.sum())
        kept = top(-np.abs(w), m, int(m.sum()) - k, order)
        new = kept | top(np.abs(g), ~kept, k, order)
    else:                                                           # grows by G * M: regrows
        new, _ = their_update(w, m, g * m, 0.3)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=new)
    assert r.verdict == "differs" and r.causes == [cause]
    assert "|W|" in r.detail and "|G|" in r.detail


def test_a_dense_layer_is_never_updated_and_says_its_real_k(tmp_path):
    w, _, g = layer(shape=(12, 22), density=1.0)
    m = np.ones(w.shape, bool)
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=m, new_weight=w)
    assert r.verdict == "identical" and "floor(f * n) = 79" in r.detail


def test_slips_in_the_dump_itself_are_pointed_out(tmp_path):
    w, m, g = layer()
    r = verdict(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=m)
    assert r.verdict == "differs" and "dumped before the update ran?" in r.detail
    new, _ = their_update(w, m, g, 0.3)                  # right update, masked gradient dumped
    r = verdict(tmp_path, "g.npz", weight=w, mask=m, grad=g * m, drop_fraction=0.3, new_mask=new)
    assert r.verdict == "differs" and "is it the masked gradient?" in r.detail
