"""``verify`` on N:M updates (families/nm.py): files with keys n and m, checked against another
N:M implementation written here with loops (its own grouping, drop count, per-group drop, ...).
Every mutant must get the right verdict, cause and option: a straddling group (``--nm-groups
flat``), groups of outputs, a per-group drop, a group with N + 1, stale grown weights, an
unchanged mask, a drop count no rounding gives."""
import math

import numpy as np
import pytest

from rigl_np.cli import main
from rigl_np.masks.nm import nm_mask
from rigl_np.verify import save_update, verify_paths


def their_groups(shape, m, how):
    """Lists of flat indices, one per group, as ``how`` takes them (written with loops)."""
    idx = np.arange(math.prod(shape)).reshape(shape)
    if how == "flat":
        return [list(range(i, i + m)) for i in range(0, idx.size, m)]
    if how == "out":
        moved = np.moveaxis(idx, 0, -1)
        return [list(moved[pos][j:j + m]) for pos in np.ndindex(moved.shape[:-1])
                for j in range(0, shape[0], m)]
    out = []
    for o in range(shape[0]):
        for pos in np.ndindex(*shape[2:]):
            for j in range(0, shape[1], m):
                out.append([idx[(o, c, *pos)] for c in range(j, j + m)])
    return out


def their_update(w, mask, g, f, n, m, how="in", k_of=None, per_group=False, extra=0):
    """Another N:M RigL: (new mask). Drop k = floor(f * nnz) smallest |W| layer-wide (or
    floor(f * n) per group), regrow each group to n by |G| (stable sort: lower index first);
    ``extra`` groups regrow one more."""
    flat_w, flat_m, flat_g = np.abs(w).ravel(), mask.ravel().copy(), np.abs(g).ravel()
    gs = their_groups(mask.shape, m, how)
    if per_group:
        for grp in gs:
            active = sorted((i for i in grp if flat_m[i]), key=lambda i: flat_w[i])
            for i in active[:math.floor(f * n)]:
                flat_m[i] = False
    else:
        active = np.flatnonzero(flat_m)
        k = (k_of or (lambda n_: math.floor(f * n_)))(active.size)
        order = active[np.lexsort((active, flat_w[active]))]        # smallest |W| first
        flat_m[order[:k]] = False
    kept = flat_m.copy()
    for i, grp in enumerate(gs):
        free = sorted((j for j in grp if not kept[j]), key=lambda j: -flat_g[j])
        for j in free[:n - sum(kept[j] for j in grp) + (1 if i < extra else 0)]:
            flat_m[j] = True
    return flat_m.reshape(mask.shape)


def problem(shape=(8, 16), n=2, m=4, seed=0, how="in", ties=False):
    rng = np.random.default_rng(seed)
    if how == "in":
        mask = nm_mask(shape, n, m, rng)
    else:
        mask = np.zeros(math.prod(shape), bool)
        for grp in their_groups(shape, m, how):
            mask[rng.choice(grp, n, replace=False)] = True
        mask = mask.reshape(shape)
    draw = (lambda: rng.integers(-2, 3, shape).astype(np.float32)) if ties else (
        lambda: rng.standard_normal(shape).astype(np.float32))
    return draw() * mask, mask, draw()


def check(tmp_path, w, mask, g, new, f=0.3, n=2, m=4, new_weight=None, selected=None, **keys):
    arrays = dict(weight=w, mask=mask, grad=g, drop_fraction=f, new_mask=new, n=n, m=m, **keys)
    if new_weight is not None:
        arrays["new_weight"] = new_weight
    path = save_update(tmp_path / "u.npz", **arrays)
    results, errors, _ = verify_paths([path], selected)
    assert not errors and len(results) == 1
    return results[0]


@pytest.mark.parametrize("shape,n,m", [((8, 16), 2, 4), ((8, 16), 1, 4), ((6, 8, 3, 3), 2, 4),
                                       ((4, 8, 2, 2), 1, 4), ((8, 16), 2, 8)])
def test_a_correct_nm_update_is_identical(tmp_path, shape, n, m):
    w, mask, g = problem(shape, n, m)
    new = their_update(w, mask, g, 0.3, n, m)
    r = check(tmp_path, w, mask, g, new, n=n, m=m, new_weight=w * (new & mask))
    assert (r.verdict, r.causes, r.accepted) == ("identical", [], True), r.detail
    assert f"{n}:{m}" in r.detail and "regrown" in r.detail


def test_set_with_its_scores_is_identical(tmp_path):
    w, mask, g = problem()
    new = their_update(w, mask, g, 0.3, 2, 4)
    path = save_update(tmp_path / "s.npz", weight=w, mask=mask, grow_score=np.abs(g),
                       drop_fraction=0.3, new_mask=new, n=2, m=4, method="set")
    results, errors, _ = verify_paths([path])
    assert not errors and results[0].verdict == "identical"


def test_other_choices_among_equal_grow_scores_in_a_group_are_equivalent(tmp_path):
    w, mask, g = problem(seed=3, ties=True)
    g_rev = g[:, ::-1].copy()                    # their tie order: higher input first, via keys
    new = their_update(w, mask, g, 0.3, 2, 4)
    rng = np.random.default_rng(1)
    for _ in range(20):                          # find a case where their tie order differs
        flipped = their_update(w[:, ::-1], mask[:, ::-1], g_rev, 0.3, 2, 4)[:, ::-1]
        if not np.array_equal(flipped, new):
            break
        w, mask, g = problem(seed=int(rng.integers(1 << 30)), ties=True)
        g_rev, new = g[:, ::-1].copy(), their_update(w, mask, g, 0.3, 2, 4)
    assert not np.array_equal(flipped, new)
    r = check(tmp_path, w, mask, g, flipped)
    assert r.verdict == "equivalent" and r.causes == ["tie"], r.detail


@pytest.mark.parametrize("how,shape", [("flat", (4, 8, 3, 3)), ("out", (8, 12))])
def test_other_groupings_are_named_and_accepted_when_selected(tmp_path, how, shape):
    w, mask, g = problem(shape, how=how, seed=2)
    new = their_update(w, mask, g, 0.3, 2, 4, how=how)
    r = check(tmp_path, w, mask, g, new)
    assert (r.verdict, r.causes, r.accepted) == ("explained", ["nm_groups"], False), r.detail
    assert f"--nm-groups {how}" in r.detail
    assert check(tmp_path, w, mask, g, new, selected={"nm_groups": how}).accepted
    assert check(tmp_path, w, mask, g, new, nm_groups=how).accepted     # the file's key


def test_groups_straddling_rows_are_caught(tmp_path):
    # a Linear whose flat groups straddle rows (in = 6 is not a multiple of 4): rigl_np keeps
    # such a layer dense, so only --nm-groups flat explains an update of it
    w, mask, g = problem((4, 6), how="flat", seed=5)
    new = their_update(w, mask, g, 0.5, 2, 4, how="flat")
    r = check(tmp_path, w, mask, g, new, f=0.5, nm_groups="in")
    assert (r.verdict, r.causes, r.accepted) == ("explained", ["nm_groups"], False), r.detail
    assert check(tmp_path, w, mask, g, new, f=0.5, selected={"nm_groups": "flat"}).accepted


def test_a_per_group_drop_leaves_the_mask_unchanged_and_differs(tmp_path):
    w, mask, g = problem()
    new = their_update(w, mask, g, 0.3, 2, 4, per_group=True)         # floor(0.3 * 2) = 0
    assert np.array_equal(new, mask)
    r = check(tmp_path, w, mask, g, new)
    assert r.verdict == "differs" and "the mask did not change" in r.detail
    assert {"wrong_drop", "wrong_grow"} & set(r.causes)


def test_a_group_with_n_plus_one_differs_naming_the_group(tmp_path):
    w, mask, g = problem()
    new = their_update(w, mask, g, 0.3, 2, 4, extra=1)
    r = check(tmp_path, w, mask, g, new)
    assert r.verdict == "differs" and "nm_structure" in r.causes
    assert "group [0, 0:4] holds 3" in r.detail


def test_stale_grown_weights_are_new_weight_nonzero(tmp_path):
    w, mask, g = problem()
    new = their_update(w, mask, g, 0.3, 2, 4)
    stale = np.where(new & ~mask, 0.5, w * new).astype(np.float32)
    r = check(tmp_path, w, mask, g, new, new_weight=stale)
    assert r.verdict == "differs" and "new_weight_nonzero" in r.causes


def test_an_unchanged_mask_where_the_rule_changes_it_differs(tmp_path):
    w, mask, g = problem(seed=4)
    r = check(tmp_path, w, mask, g, mask.copy(), f=0.5)
    assert r.verdict == "differs" and "the mask did not change" in r.detail


@pytest.mark.parametrize("delta", [-2, -1, 1, 2])
def test_a_drop_count_no_rounding_gives_is_k_rounding_naming_the_count(tmp_path, delta):
    w, mask, g = problem((16, 32), seed=6)
    k = math.floor(0.3 * mask.sum()) + delta
    new = their_update(w, mask, g, 0.3, 2, 4, k_of=lambda n_: k)
    r = check(tmp_path, w, mask, g, new)
    if r.verdict == "identical":                 # the extra drops all grew straight back
        return
    assert r.verdict == "explained" and r.causes == ["k_rounding"], r.detail
    if delta < 0:                # below floor: no rounding gives it (above, ceil may explain it)
        assert f"k = a count no rounding of f * n gives = {k}" in r.detail
        assert "--k-rounding other" in r.detail


@pytest.mark.parametrize("keys,message", [
    ({"n": 2}, "holds both keys n and m, not only n"),
    ({"n": 5, "m": 4}, "n"),
    ({"n": 2, "m": 4, "method": "srigl", "budget": 10}, "go with a method that has --nm"),
    ({"n": 2, "m": 4, "nm_groups": "diagonal"}, "nm_groups"),
])
def test_bad_nm_keys_are_input_errors(tmp_path, capsys, keys, message):
    w, mask, g = problem()
    path = save_update(tmp_path / "b.npz", weight=w, mask=mask, grad=g, drop_fraction=0.3,
                       new_mask=mask, **keys)
    assert main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_dense_layer_whose_inputs_are_not_a_multiple_of_m_is_never_updated(tmp_path):
    rng = np.random.default_rng(0)
    w, g = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    mask = np.ones((4, 6), bool)
    assert check(tmp_path, w, mask, g, mask).verdict == "identical"


def test_the_nm_vectors_pass_as_written_and_their_answers_are_named(tmp_path):
    from rigl_np.verify.vectors import write

    paths = [p for p in write(tmp_path / "v") if "_nm_" in p.name]
    assert len(paths) == 6
    results, errors, _ = verify_paths(paths)
    assert not errors and {r.verdict for r in results} == {"identical"}
    with np.load(paths[0]) as f:                      # 2:4 Linear: the answer without regrowth
        arrays = {k: f[k] for k in f.files if not k.startswith("answer/")}
        arrays["new_mask"] = f["answer/regrow_dropped=no/new_mask"]
        arrays["new_weight"] = f["answer/regrow_dropped=no/new_weight"]
    r = check(tmp_path, **{k: arrays[k] for k in ("new_weight",)}, w=arrays["weight"],
              mask=arrays["mask"].astype(bool), g=arrays["grad"], new=arrays["new_mask"])
    assert r.verdict == "explained" and r.causes == ["no_regrow_dropped"], r.detail


def test_a_whole_model_file_with_model_wide_n_and_m(tmp_path):
    from rigl_np.nm import nm_update

    layers = {}
    for seed, (name, shape) in enumerate((("fc1", (8, 16)), ("conv", (4, 8, 3, 3)))):
        w, mask, g = problem(shape, seed=seed)
        r = nm_update(w, mask, np.abs(g), 0.3, 2, 4)
        layers[name] = dict(weight=w, mask=mask, grad=g, new_mask=r.mask,
                            new_weight=np.where(r.new, 0, w) * r.mask)
    path = save_update(tmp_path / "model.npz", drop_fraction=0.3, n=2, m=4, **layers)
    results, errors, _ = verify_paths([path])
    assert not errors and [(r.layer, r.verdict) for r in results] == [
        ("fc1", "identical"), ("conv", "identical")]
