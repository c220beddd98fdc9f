"""``verify`` on SRigL, SET and SNFS dumps: correct ones are identical, known mistakes are named.

The SRigL mutants are independent per-row implementations (loops over neurons, ties by column)
that reuse only rigl_np's ablation decision, so that the one thing each gets wrong is the thing
under test: the fan-in not recomputed after ablation, or the output layer ablated.
"""
import math

import numpy as np

from rigl_np.rigl import mask_update
from rigl_np.srigl import srigl_budget, srigl_update
from rigl_np.verify import save_update, verify_paths

SHAPE, DENSITY = (16, 30), 0.2


def srigl_layer(seed=0, shape=SHAPE, density=DENSITY):
    """A constant fan-in mask (k0 per row) whose first rows are weak enough to be ablated."""
    rng = np.random.default_rng(seed)
    budget = srigl_budget(shape, density)
    n_out, fan = shape[0], math.prod(shape[1:])
    rows = np.argsort(rng.random((n_out, fan)), axis=1) < budget // n_out
    mask = rows.reshape(shape)
    w = (rng.standard_normal(shape) * mask).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    w[:5] *= 1e-3
    g[:5] *= 1e-3
    return w, mask, g, budget


def check(tmp_path, name="u.npz", selected=None, **arrays):
    path = save_update(tmp_path / name, **arrays)
    results, errors, _ = verify_paths([path], selected)
    assert not errors and len(results) == 1
    return results[0]


def row_top(score, candidates, k):
    """In one row: the k candidates with the largest score, the lower column first on ties."""
    where = np.flatnonzero(candidates)
    chosen = np.zeros(score.size, bool)
    chosen[where[np.lexsort((where, -score[where]))[:k]]] = True
    return chosen


def keep_fan_in_update(w, m, g, f, budget, ablated):
    """SRigL that forgets to recompute the fan-in after ablation: every survivor gets k0."""
    n_out = m.shape[0]
    w2, m2, g2 = (a.reshape(n_out, -1) for a in (w, m, g))
    k0, nnz = budget // n_out, int(m.sum())
    n_keep = nnz - math.floor(f * nnz)
    candidates = m2 & ~ablated[:, None]
    where = np.flatnonzero(candidates)
    kept = np.zeros(m2.size, bool)
    kept[where[np.lexsort((where, -np.abs(w2).ravel()[where]))[:n_keep]]] = True
    kept = kept.reshape(m2.shape)
    new = np.zeros_like(m2)
    for r in range(n_out):
        if ablated[r]:
            continue
        row_kept = row_top(np.abs(w2[r]), kept[r], min(int(kept[r].sum()), k0))
        new[r] = row_kept | row_top(np.abs(g2[r]), ~row_kept, k0 - int(row_kept.sum()))
    return new.reshape(m.shape)


def test_a_correct_srigl_update_is_identical(tmp_path):
    w, m, g, budget = srigl_layer()
    r = srigl_update(w, m, g, 0.3, budget)
    assert r.ablated.any()                            # the case exercises ablation
    out = check(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=r.mask,
                method="srigl", budget=budget, new_weight=np.where(r.new, 0, w) * r.mask)
    assert (out.verdict, out.causes) == ("identical", [])


def test_srigl_without_fan_in_recomputation_is_explained(tmp_path):
    w, m, g, budget = srigl_layer()
    ablated = srigl_update(w, m, g, 0.3, budget).ablated
    theirs = keep_fan_in_update(w, m, g, 0.3, budget, ablated)
    out = check(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=theirs,
                method="srigl", budget=budget)
    assert out.n_differ > 0 and (out.verdict, out.causes) == ("explained", ["fan_in"])
    assert "--fan-in keep" in out.detail


def test_srigl_ablating_the_output_layer_is_explained(tmp_path):
    w, m, g, budget = srigl_layer()
    theirs = srigl_update(w, m, g, 0.3, budget, ablate=True).mask
    out = check(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=theirs,
                method="srigl", budget=budget, ablate=False)
    assert out.n_differ > 0 and (out.verdict, out.causes) == ("explained", ["ablation"])
    assert "--ablation always" in out.detail
    assert check(tmp_path, "b.npz", {"ablation": "always"}, weight=w, mask=m, grad=g,
                 drop_fraction=0.3, new_mask=theirs, method="srigl", budget=budget,
                 ablate=False).accepted


def test_srigl_k_rounding_applies_to_its_drop_count(tmp_path):
    w, m, g, budget = srigl_layer()
    nnz = int(m.sum())                                # 96: f = 0.2984 gives 28.6 -> ceil 29
    theirs = srigl_update(w, m, g, (math.ceil(0.2984 * nnz) + 0.5) / nnz, budget).mask
    out = check(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.2984, new_mask=theirs,
                method="srigl", budget=budget)
    assert out.n_differ > 0 and out.verdict == "explained" and out.causes == ["k_rounding"]


def test_srigl_without_constant_fan_in_differs(tmp_path):
    w, m, g, budget = srigl_layer()
    theirs = srigl_update(w, m, g, 0.3, budget).mask.copy()
    row = np.flatnonzero(theirs.reshape(SHAPE[0], -1).any(axis=1))[0]
    theirs[row, np.flatnonzero(~theirs[row])[0]] = True   # one neuron with one input too many
    out = check(tmp_path, weight=w, mask=m, grad=g, drop_fraction=0.3, new_mask=theirs,
                method="srigl", budget=budget)
    assert out.verdict == "differs" and "fan_in" in out.causes and "wrong_grow" in out.causes


def test_srigl_needs_a_budget(tmp_path):
    w, m, g, _ = srigl_layer()
    path = save_update(tmp_path / "u.npz", weight=w, mask=m, grad=g, drop_fraction=0.3,
                       new_mask=m, method="srigl")
    results, errors, _ = verify_paths([path])
    assert not results and "missing key(s) ['budget']" in errors[0][1]


def test_set_ranks_its_own_random_scores(tmp_path):
    rng = np.random.default_rng(0)
    m = rng.random((20, 30)) < 0.2
    w = (rng.standard_normal(m.shape) * m).astype(np.float32)
    scores = rng.random(m.shape).astype(np.float32)
    r = mask_update(w, m, scores, 0.3)
    out = check(tmp_path, weight=w, mask=m, grow_score=scores, drop_fraction=0.3,
                new_mask=r.mask, method="set")
    assert (out.verdict, out.method) == ("identical", "set")
    wrong = mask_update(w, m, rng.random(m.shape), 0.3).mask       # other random scores
    out = check(tmp_path, "w.npz", weight=w, mask=m, grow_score=scores, drop_fraction=0.3,
                new_mask=wrong, method="set")
    assert out.verdict == "differs" and out.causes == ["wrong_grow"]


def test_snfs_grows_by_the_moving_average(tmp_path):
    rng = np.random.default_rng(1)
    m = rng.random((20, 30)) < 0.2
    w = (rng.standard_normal(m.shape) * m).astype(np.float32)
    ema = np.zeros(m.shape, np.float32)
    for _ in range(5):
        ema = 0.9 * ema + 0.1 * rng.standard_normal(m.shape).astype(np.float32)
    r = mask_update(w, m, np.abs(ema), 0.3)
    out = check(tmp_path, weight=w, mask=m, grad=ema, drop_fraction=0.3, new_mask=r.mask,
                method="snfs")
    assert out.verdict == "identical"


def test_srigl_dumped_in_the_in_out_layout(tmp_path):
    w, m, g, budget = srigl_layer(shape=(8, 4, 3, 3), density=0.3)
    r = srigl_update(w, m, g, 0.3, budget)

    def kernel(a):                                    # (out, in, kh, kw) -> (kh, kw, in, out)
        return np.ascontiguousarray(a.transpose(2, 3, 1, 0))

    out = check(tmp_path, layout="in_out", weight=kernel(w), mask=kernel(m), grad=kernel(g),
                new_mask=kernel(r.mask), drop_fraction=0.3, method="srigl", budget=budget)
    assert (out.verdict, out.accepted) == ("identical", True)
    wrong = kernel(r.mask).copy()
    wrong[..., 0] = kernel(m)[..., 0]                 # output neuron 0 left as it was
    out = check(tmp_path, "w.npz", layout="in_out", weight=kernel(w), mask=kernel(m),
                grad=kernel(g), new_mask=wrong, drop_fraction=0.3, method="srigl", budget=budget)
    assert out.verdict == "differs" and all(len(p["index"]) == 4 and p["index"][3] == 0
                                            for p in out.positions)
