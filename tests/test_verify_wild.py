"""``verify`` on the conventions seen in the wild (issue 20), each a mutant built from rigl_np's
own update: it must come out ``explained`` with exactly that convention's cause (and pass when
the convention is selected), and the same mutant with one more rule broken must come out
``differs``. The class fix first: conventions that leave the mask identical and show only in a
weight or the optimizer state."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigl_np.rigl import drop_and_grow, rigl_update, select_top_k
from rigl_np.rigl.schedule import drop_fraction
from rigl_np.verify import save_update, verify_paths
from rigl_np.verify.report import line


def layer(seed=0, shape=(24, 32), density=0.25, scale=1.0):
    rng = np.random.default_rng(seed)
    n = math.prod(shape)
    mask = (rng.permutation(n) < round(density * n)).reshape(shape)
    w = (rng.standard_normal(shape) * scale * mask).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    return w, mask, g


def weights_after(w, m, r, reset=None):
    """The weight after update ``r``: new connections 0, off-mask 0, ``reset`` positions 0."""
    out = np.where(r.new, 0, w) * r.mask
    return (out if reset is None else np.where(reset, 0, out)).astype(np.float32)


def check(tmp_path, name="u.npz", selected=None, **arrays):
    results, errors, _ = verify_paths([save_update(tmp_path / name, **arrays)], selected)
    assert not errors
    return results


def one(tmp_path, name="u.npz", selected=None, **arrays):
    [r] = check(tmp_path, name, selected, **arrays)
    return r


def ceil_reset(broken=False):
    """k = ceil(f n), every grown weight reset to 0: the dropped connections all come straight
    back (their |G| is the largest), so the mask is rigl_np's floor-k mask and only the one
    extra weight, now 0, tells them apart. ``broken``: a kept weight changed too."""
    w, m, g = layer()
    g = np.where(m, np.abs(g) + 3, g).astype(np.float32)
    n, f = int(m.sum()), 0.3
    k = math.ceil(f * n)
    assert k != math.floor(f * n)
    theirs = rigl_update(w, m, g, (k + 0.5) / n)
    assert np.array_equal(theirs.mask, rigl_update(w, m, g, f).mask)
    new_w = weights_after(w, m, theirs, reset=theirs.grown)
    if broken:
        kept = np.flatnonzero(theirs.mask & ~theirs.grown)[0]
        new_w.flat[kept] += 1
    return dict(weight=w, mask=m, grad=g, drop_fraction=f, new_mask=theirs.mask,
                new_weight=new_w)


def test_a_convention_seen_only_in_one_weight_is_explained(tmp_path):
    r = one(tmp_path, **ceil_reset())
    assert (r.verdict, r.causes, r.n_differ) == ("explained", ["k_rounding", "regrown_reset"], 0)
    assert r.options == ["--k-rounding round", "--regrown reset"] and not r.accepted
    chosen = one(tmp_path, "c.npz", {"k_rounding": "ceil", "regrown": "reset"}, **ceil_reset())
    assert chosen.accepted and chosen.options[0].startswith("--k-rounding ceil")
    r = one(tmp_path, "b.npz", **ceil_reset(broken=True))
    assert (r.verdict, r.causes) == ("differs", ["k_rounding", "kept_changed", "regrown_reset"])


def test_a_convention_seen_only_in_the_optimizer_state_is_explained(tmp_path):
    arrays = ceil_reset()
    r = rigl_update(arrays["weight"], arrays["mask"], arrays["grad"], 0.3)
    momentum = (arrays["weight"] * 0.1 + 0.01 * arrays["mask"]).astype(np.float32)
    theirs = rigl_update(arrays["weight"], arrays["mask"], arrays["grad"],
                         (math.ceil(0.3 * arrays["mask"].sum()) + 0.5) / arrays["mask"].sum())
    arrays.update(new_weight=weights_after(arrays["weight"], arrays["mask"], r),
                  state={"momentum": momentum},
                  new_state={"momentum": np.where(theirs.grown, 0, momentum) * theirs.mask})
    got = one(tmp_path, **arrays)                # weights kept, the extra one's momentum reset
    assert (got.verdict, got.causes, got.n_differ) == ("explained",
                                                       ["k_rounding", "regrown_reset"], 0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32 - 1), st.floats(0.05, 0.6), st.sampled_from(["round", "ceil"]))
def test_a_rounding_with_regrown_reset_never_differs(tmp_path, seed, f, rule):
    """Whatever the layer and f, rigl_np's update under another k rounding with every grown
    weight reset is explained (or identical), and accepted once its conventions are selected."""
    w, m, g = layer(seed, shape=(12, 16), density=0.3)
    n = int(m.sum())
    k = math.ceil(f * n) if rule == "ceil" else round(f * n)
    r = rigl_update(w, m, g, (k + 0.5) / n) if k < n else rigl_update(w, m, g, 1.0)
    arrays = dict(weight=w, mask=m, grad=g, drop_fraction=f, new_mask=r.mask,
                  new_weight=weights_after(w, m, r, reset=r.grown))
    got = one(tmp_path, **arrays)
    assert got.verdict in ("identical", "explained", "equivalent"), got.detail
    assert set(got.applied) <= {"k_rounding", "regrown"}
    assert one(tmp_path, "s.npz", {"k_rounding": rule, "regrown": "reset"}, **arrays).accepted


def test_the_users_rounding_is_named_first(tmp_path):
    w, m, g = layer()
    n, f = int(m.sum()), 0.302                          # f n = 57.98: round and ceil give 58
    theirs = rigl_update(w, m, g, (math.ceil(f * n) + 0.5) / n)
    arrays = dict(weight=w, mask=m, grad=g, drop_fraction=f, new_mask=theirs.mask)
    r = one(tmp_path, selected={"k_rounding": "ceil"}, **arrays)
    assert r.applied == {"k_rounding": "ceil"} and r.also == {"k_rounding": ["round"]}
    assert "--k-rounding ceil or round" in r.detail and r.accepted


def dense_state(broken=False):
    w, m, g = layer()
    r = rigl_update(w, m, g, 0.3)
    momentum = np.random.default_rng(1).standard_normal(m.shape).astype(np.float32)
    new_w = weights_after(w, m, r)
    if broken:
        new_w[r.new] = 0.5
    return dict(weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=r.mask, new_weight=new_w,
                state={"momentum": momentum}, new_state={"momentum": momentum})


def test_dense_optimizer_state_is_a_convention(tmp_path):
    r = one(tmp_path, **dense_state())
    assert (r.verdict, r.causes, r.options) == ("explained", ["state_dense"],
                                                ["--optimizer-state dense"])
    assert one(tmp_path, "s.npz", {"state": "dense"}, **dense_state()).accepted
    r = one(tmp_path, "b.npz", **dense_state(broken=True))
    assert (r.verdict, r.causes) == ("differs", ["state_dense", "new_weight_nonzero"])


def test_partly_masked_state_is_not_dense(tmp_path):
    arrays = dense_state()
    arrays["new_state"] = {"momentum": arrays["state"]["momentum"] * arrays["new_mask"]}
    r = one(tmp_path, **arrays)                       # masked, but new connections not reset
    assert (r.verdict, r.causes) == ("differs", ["state_not_reset"])


def random_count(broken=False):
    """SET drawing each free position with probability p: the grown count is random."""
    w, m, _ = layer()
    rng = np.random.default_rng(5)
    draws = rng.random(m.shape).astype(np.float32)
    n, k = int(m.sum()), math.floor(0.3 * m.sum())
    kept = select_top_k(np.abs(w), m, n - k)
    n_grow = int(np.count_nonzero((draws < 0.05) & ~kept))
    assert n_grow != k
    r = drop_and_grow(np.abs(w), 1 - draws, m, k, n_grow=n_grow)   # grow where draws < p
    new_w = weights_after(w, m, r)
    if broken:
        new_w[r.new] = 0.5
    return dict(method="set", weight=w, mask=m, grow_score=1 - draws, drop_fraction=0.3,
                new_mask=r.mask, new_weight=new_w)


def test_a_random_growth_count_is_said_unchecked(tmp_path):
    r = one(tmp_path, **random_count())
    assert (r.verdict, r.causes) == ("explained", ["grow_count", "count_unchecked"])
    assert r.options == ["--grow-count random"] and "not checked" in r.detail
    results, _, n = verify_paths([tmp_path / "u.npz"], {"grow_count": "random"})
    assert results[0].accepted
    from rigl_np.verify.report import summary, text
    assert summary(results, [], n)["count_unchecked"] == 1
    assert "1 grew a count verify could not check" in text(results, [], n)
    r = one(tmp_path, "b.npz", **random_count(broken=True))
    assert r.verdict == "differs" and "new_weight_nonzero" in r.causes


def sorted_drop(broken=False):
    """Zero the first n_inactive + k of one ascending sort of |W * M| over all positions: the
    active zero weights that sort among the inactive zeros go too, more than k."""
    w, m, g = layer(shape=(20, 30), density=0.4)
    w[m & (np.arange(m.size).reshape(m.shape) % 4 == 0)] = 0       # active zero weights
    g = np.where(m, g / 100, g).astype(np.float32)                  # what goes stays out
    n, k = int(m.sum()), math.floor(0.2 * m.sum())
    kept = select_top_k(np.abs(w * m), np.ones(m.shape, bool), n - k) & m
    dropped = n - int(kept.sum())
    assert dropped > k
    r = drop_and_grow(np.abs(w), np.abs(g), m, dropped)             # as many grow as went
    new_w = weights_after(w, m, r)
    if broken:
        new_w[r.new] = 0.5
    return dict(weight=w, mask=m, grad=g, drop_fraction=0.2, new_mask=r.mask, new_weight=new_w)


def test_one_sort_over_all_positions_drops_more_than_k(tmp_path):
    r = one(tmp_path, **sorted_drop())
    assert (r.verdict, r.causes, r.options) == ("explained", ["drop_inactive"],
                                                ["--drop-candidates sort"])
    assert "active zeros went with the inactive ones" in r.detail
    r = one(tmp_path, "b.npz", **sorted_drop(broken=True))
    assert r.verdict == "differs" and "new_weight_nonzero" in r.causes


@pytest.mark.parametrize("regrow", [True, False])
def test_a_dense_layer_updated_like_a_sparse_one(tmp_path, regrow):
    w, _, g = layer(shape=(12, 22), density=1.0)
    m = np.ones(w.shape, bool)
    w = np.random.default_rng(3).standard_normal(m.shape).astype(np.float32)
    k = math.floor(0.3 * m.size)
    r = drop_and_grow(np.abs(w), np.abs(g), m, k, regrow_dropped=regrow)
    new_w = weights_after(w, m, r, reset=r.grown if regrow else None)
    other = "regrown_reset" if regrow else "no_regrow_dropped"
    arrays = dict(weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=r.mask, new_weight=new_w)
    got = one(tmp_path, **arrays)
    assert (got.verdict, sorted(got.causes)) == ("explained", sorted(["dense_updated", other]))
    assert "--dense-layers update" in got.options
    new_w = new_w.copy()
    new_w.flat[np.flatnonzero(r.mask & ~r.grown)[0]] += 1          # a kept weight changes too
    got = one(tmp_path, "b.npz", **{**arrays, "new_weight": new_w})
    assert got.verdict == "differs" and "kept_changed" in got.causes


def stepped(broken=False):
    """The optimizer step first on the update batch: the drop ranks the stepped weights."""
    w, m, g = layer()
    post = (w - 0.1 * g * m).astype(np.float32)                     # a masked SGD step
    r = rigl_update(post, m, g, 0.3)
    new_w = weights_after(post, m, r)
    if broken:
        new_w[r.new] = 0.5
    return dict(weight=post, weight_before_step=w, mask=m, grad=g, drop_fraction=0.3,
                new_mask=r.mask, new_weight=new_w)


def test_the_optimizer_step_before_the_update_is_named(tmp_path):
    r = one(tmp_path, **stepped())
    assert (r.verdict, r.causes, r.options) == ("explained", ["step_before"],
                                                ["--optimizer-step before"])
    assert one(tmp_path, "s.npz", {"optimizer_step": "before"}, **stepped()).accepted
    r = one(tmp_path, "b.npz", **stepped(broken=True))
    assert (r.verdict, r.causes) == ("differs", ["step_before", "new_weight_nonzero"])


SNFS_LAYERS = {"fc1": (30, 40), "fc2": (20, 30), "fc3": (10, 20)}


def redistributed(follow=True, broken=False, ceil=False):
    """SNFS: each layer drops floor(f n); the total regrows by each layer's momentum share
    (floored; ``ceil``: k = ceil(f n) and every part rounded up, so more can grow than went)."""
    rng = np.random.default_rng(7)
    arrays, removed, shares, inputs = {}, [], [], {}
    for i, (name, shape) in enumerate(SNFS_LAYERS.items()):
        m = rng.random(shape) < 0.3
        w = (rng.standard_normal(shape) * m).astype(np.float32)
        ema = (rng.standard_normal(shape) * (1 + 2 * i)).astype(np.float32)
        inputs[name] = (w, m, ema)
        removed.append((math.ceil if ceil else math.floor)(0.3 * m.sum()))
        shares.append(float(np.abs(ema[m]).mean()))
    total = sum(removed)
    counts = [(math.ceil if ceil else math.floor)(total * s / sum(shares)) for s in shares]
    if not follow:
        counts = counts[::-1]
    for (name, (w, m, ema)), k, n_grow in zip(inputs.items(), removed, counts):
        r = drop_and_grow(np.abs(w), np.abs(ema), m, k, n_grow=n_grow)
        new_w = weights_after(w, m, r)
        if broken and name == "fc1":
            new_w[r.new] = 0.5
        arrays[name] = dict(weight=w, mask=m, grad=ema, new_mask=r.mask, new_weight=new_w)
    return dict(method="snfs", drop_fraction=0.3, **arrays)


def test_snfs_redistribution_is_checked_on_a_whole_model(tmp_path):
    results = check(tmp_path, **redistributed())
    assert {(r.verdict, tuple(r.causes)) for r in results} == {("explained", ("grow_count",))}
    assert all(r.options == ["--grow-count redistribute"] for r in results)
    assert "follows SNFS's momentum share" in results[0].detail
    results = check(tmp_path, "b.npz", **redistributed(broken=True))
    assert [r.verdict for r in results] == ["differs", "explained", "explained"]
    results = check(tmp_path, "d.npz", **redistributed(ceil=True))
    assert {tuple(r.causes) for r in results} <= {("k_rounding", "grow_count"), ("grow_count",)}
    assert any("k_rounding" in r.causes for r in results)
    assert all("--grow-count redistribute" in r.options for r in results)
    results = check(tmp_path, "c.npz", **redistributed(follow=False))
    assert all(r.options == ["--grow-count random"] and "count_unchecked" in r.causes
               for r in results if r.applied.get("grow_count"))
    assert "do not follow SNFS's momentum share" in results[0].detail


def test_a_dead_layer_is_not_explained_by_score_noise(tmp_path):
    w, m, g = layer(scale=1e-7)                                     # far below sigma = 1e-5
    n, k = int(m.sum()), math.floor(0.3 * m.sum())
    r = drop_and_grow(-np.abs(w), np.abs(g), m, k)                  # drops the largest |W|
    got = one(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=r.mask)
    assert got.verdict == "differs" and "tie_noise" not in got.causes


def test_text_lines_are_short_and_json_keeps_the_detail(tmp_path, monkeypatch):
    save_update(tmp_path / "u.npz", **sorted_drop(broken=True))
    monkeypatch.chdir(tmp_path)
    [r], _, _ = verify_paths(["u.npz"])
    assert len(r.detail) > 200 and len(line(r)) <= 200
    assert line(r).endswith("(--json for all)") and "with --drop-candidates sort" in line(r)


def bernoulli_densities(factor=1.0):
    rng = np.random.default_rng(11)
    shapes = {"fc1": (300, 784), "fc2": (100, 300), "fc3": (10, 100)}
    arrays = dict(kind="densities", density=0.1, distribution="uniform")
    for i, (name, shape) in enumerate(shapes.items()):
        d = 0.1 * (factor if i == 0 else 1)
        arrays[f"shape/{name}"] = np.array(shape)
        arrays[f"mask/{name}"] = rng.random(shape) < d
    return arrays


def test_masks_drawn_per_position_are_explained(tmp_path):
    results = check(tmp_path, **bernoulli_densities())
    assert {(r.verdict, tuple(r.causes)) for r in results if r.verdict != "identical"} == {
        ("explained", ("density",))}
    assert all(r.options in ([], ["--density-count bernoulli"]) for r in results)
    results = check(tmp_path, "b.npz", **bernoulli_densities(factor=1.2))
    assert "differs" in {r.verdict for r in results}


def schedule(lag=0, base=1, floor=None, until_end=False, bad=False):
    """A schedule file from rigl_np's schedule under one convention."""
    alpha, delta_t, t_end, total = 0.3, 10, 75, 100
    steps, fractions = [], []
    for batch in range(1, total + 1):
        t = batch - 1 if base == 0 else batch
        if batch % delta_t == 0 and (until_end or t < t_end):
            f = drop_fraction(max(t - lag, 0), alpha, t_end)
            if floor is not None:
                f = floor + (alpha - floor) * f / alpha
            steps.append(t)
            fractions.append(f)
    if bad:
        fractions[1] += 0.01
    return dict(kind="schedule", steps=np.array(steps), drop_fractions=np.array(fractions),
                alpha=alpha, delta_t=delta_t, t_end=t_end, total_steps=total)


@pytest.mark.parametrize("kwargs, option", [
    (dict(lag=2), "--fraction-lag 2"), (dict(base=0), "--step-base 0"),
    (dict(floor=0.005), "--drop-floor yes"), (dict(until_end=True), "--until-end yes"),
    (dict(floor=0.005, until_end=True), None)])
def test_schedule_variants_are_named(tmp_path, kwargs, option):
    r = one(tmp_path, **schedule(**kwargs))
    assert (r.verdict, r.causes) == ("explained", ["schedule"])
    if option:
        assert r.options == [option]
    else:
        assert r.options == ["--drop-floor yes", "--until-end yes"]
    r = one(tmp_path, "b.npz", **schedule(bad=True, **kwargs))
    assert (r.verdict, r.causes) == ("differs", ["schedule"])


def test_the_schedule_hint_names_the_switch_that_fits_best(tmp_path):
    r = one(tmp_path, **schedule(lag=1, bad=True))
    assert r.verdict == "differs"
    assert "closest: --fraction-lag 1 leaves 1 of the 7 differences" in r.detail
