"""verify on whole-model files with ``selection = "global"`` (verify/global_model.py): one verdict
for the model's one ranking, the usual causes, ties across layers as ties, ``--global-scores``;
mutants of the global update are caught."""
import numpy as np
import pytest

from rigl_np.rigl import rigl_update
from rigl_np.rigl.global_update import global_mask_update, layer_scores
from rigl_np.verify.main import main, verify_paths

SHAPES = {"fc1": (30, 20), "fc2": (10, 30), "fc3": (4, 10)}


def _model(seed, scale=None):
    """Weights (each layer at its own scale), masks at 30 %, gradients; continuous values."""
    rng = np.random.default_rng(seed)
    scale = scale or {"fc1": 1.0, "fc2": 3.0, "fc3": 0.2}
    w = {n: (rng.standard_normal(s) * scale[n]).astype(np.float32) for n, s in SHAPES.items()}
    m = {n: rng.random(s) < 0.3 for n, s in SHAPES.items()}
    g = {n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()}
    return {n: w[n] * m[n] for n in SHAPES}, m, g


def _ours(w, m, g, f, how="raw"):
    drop = layer_scores({n: np.abs(a) for n, a in w.items()}, how)
    grow = layer_scores({n: np.abs(a) for n, a in g.items()}, how)
    return {n: r.mask for n, r in global_mask_update(drop, grow, m, f).items()}


def _write(path, w, m, g, new, f=0.3, **extra):
    arrays = {"drop_fraction": np.float64(f), "method": np.array("rigl"),
              "selection": np.array("global"), **extra}
    for n in SHAPES:
        arrays.update({f"{n}/weight": w[n], f"{n}/mask": m[n], f"{n}/grad": g[n],
                       f"{n}/new_mask": new[n]})
    np.savez(path, **arrays)
    return str(path)


def _one(path, **selected):
    results, errors, _ = verify_paths([path], selected)
    assert not errors, errors
    assert len(results) == 1                                   # one verdict for the model
    return results[0]


def test_the_global_update_is_identical_and_one_verdict_for_the_model(tmp_path):
    w, m, g = _model(0)
    r = _one(_write(tmp_path / "u.npz", w, m, g, _ours(w, m, g, 0.3)))
    assert r.verdict == "identical" and r.layer == "global: fc1, fc2, fc3"
    assert main([str(tmp_path / "u.npz")]) == 0


@pytest.mark.parametrize("seed", range(5))
def test_a_per_layer_update_is_not_a_global_one(tmp_path, seed):
    w, m, g = _model(seed)
    per_layer = {n: rigl_update(w[n], m[n], g[n], 0.3).mask for n in SHAPES}
    r = _one(_write(tmp_path / "u.npz", w, m, g, per_layer))
    assert r.verdict == "differs"
    assert {"wrong_drop", "wrong_grow"} & set(r.causes)
    assert main([str(tmp_path / "u.npz")]) == 1


def test_a_swap_across_layers_is_caught(tmp_path):
    w, m, g = _model(1)
    new = _ours(w, m, g, 0.3)
    kept = np.flatnonzero(new["fc1"] & m["fc1"])[0]          # keep one it dropped elsewhere
    dropped = np.flatnonzero(m["fc2"] & ~new["fc2"])[0]
    new["fc1"].flat[kept], new["fc2"].flat[dropped] = False, True
    r = _one(_write(tmp_path / "u.npz", w, m, g, new))
    assert r.verdict == "differs" and "wrong_drop" in r.causes


def test_a_tie_across_layers_is_a_tie(tmp_path):
    w, m, g = _model(2)
    k = int(0.3 * sum(int(x.sum()) for x in m.values()))
    active = np.sort(np.concatenate([np.abs(w[n][m[n]]) for n in SHAPES]))
    threshold = active[k]                                     # the smallest |W| kept
    lost = next(n for n in SHAPES if (m[n] & (np.abs(w[n]) == threshold)).any())
    at = np.flatnonzero(m[lost] & (np.abs(w[lost]) == threshold))[0]
    # a dropped weight of fc3 gets exactly that |W|: two equal scores at the threshold, in two
    # layers; the tie rule keeps the earlier layer's. Neither can be grown back (|G| = 0).
    assert lost != "fc3"
    dropped = np.flatnonzero(m["fc3"] & (np.abs(w["fc3"]) < threshold))
    victim = dropped[0]
    w["fc3"].flat[victim] = threshold
    g[lost].flat[at], g["fc3"].flat[victim] = 0, 0
    ours = _ours(w, m, g, 0.3)
    assert ours[lost].flat[at] and not ours["fc3"].flat[victim]
    theirs = {n: a.copy() for n, a in ours.items()}
    theirs[lost].flat[at], theirs["fc3"].flat[victim] = False, True   # the other tied one kept
    r = _one(_write(tmp_path / "u.npz", w, m, g, theirs))
    assert r.verdict == "equivalent" and r.causes == ["tie"]
    assert _one(_write(tmp_path / "v.npz", w, m, g, ours)).verdict == "identical"


def test_l2_scores_are_found_and_selected(tmp_path):
    w, m, g = _model(3)
    path = _write(tmp_path / "u.npz", w, m, g, _ours(w, m, g, 0.3, "l2"))
    found = _one(path)
    assert found.verdict == "explained" and "global_scores" in found.causes
    assert not found.accepted and found.options == ["--global-scores l2"]
    assert _one(path, global_scores="l2").accepted
    assert _one(path, global_scores="raw").verdict == "differs"
    assert main([path]) == 1 and main([path, "--global-scores", "l2"]) == 0


def test_a_global_file_needs_one_drop_fraction(tmp_path, capsys):
    w, m, g = _model(4)
    path = _write(tmp_path / "u.npz", w, m, g, _ours(w, m, g, 0.3), **{"fc2/drop_fraction":
                                                                         np.float64(0.2)})
    assert main([path]) == 2
    assert "a global update has one drop_fraction for the model" in capsys.readouterr().err


def test_a_global_set_update_ranks_its_draws_as_they_are(tmp_path):
    w, m, _ = _model(5)
    rng = np.random.default_rng(6)
    draws = {n: rng.random(s) for n, s in SHAPES.items()}
    drop = layer_scores({n: np.abs(a) for n, a in w.items()}, "l2")     # SET: only |W| scaled
    new = {n: r.mask for n, r in global_mask_update(drop, draws, m, 0.3).items()}
    path = _write(tmp_path / "u.npz", w, m, draws, new, method=np.array("set"))
    np.savez(path, **{k.replace("/grad", "/grow_score"): v for k, v in np.load(path).items()})
    assert _one(path, global_scores="l2").accepted
    assert _one(path, global_scores="raw").verdict == "differs"
