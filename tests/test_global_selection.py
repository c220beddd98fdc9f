"""Global selection (rigl.global_update, methods/selection.py): one ranking over every sparse layer.

The global update is checked against the test's own full sort of the concatenation (score
descending, then the concatenated index ascending: an earlier layer, then the lower flat index),
on random layers with many ties; the methods are checked end to end in the trainer: the total
count is exact while per-layer counts drift, dense layers take no part, and ``--global-scores``
is refused without ``--selection global``.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigl_np import methods
from rigl_np.methods import selection
from rigl_np.rigl.global_update import (concat, global_mask_update, global_prune,
                                        global_random_masks, layer_scores)


def _top(score, candidates, k):
    """The test's own top-k: a full stable sort by -score among the candidates."""
    idx = np.flatnonzero(candidates)
    chosen = np.zeros(score.size, bool)
    chosen[idx[np.argsort(-score[idx], kind="stable")[:k]]] = True
    return chosen


@st.composite
def layers(draw):
    """2-3 small layers with weights and gradients drawn from few values (ties across layers)."""
    n = draw(st.integers(2, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    shapes = [tuple(rng.integers(1, 6, size=rng.integers(1, 3))) for _ in range(n)]
    names = [f"l{i}" for i in range(n)]
    w = {m: rng.integers(-3, 4, size=s).astype(np.float32) for m, s in zip(names, shapes)}
    g = {m: rng.integers(-3, 4, size=s).astype(np.float32) for m, s in zip(names, shapes)}
    masks = {m: rng.random(s) < draw(st.floats(0.1, 0.9)) for m, s in zip(names, shapes)}
    return w, g, masks, draw(st.floats(0, 1))


@settings(max_examples=200, deadline=None)
@given(layers())
def test_global_drop_and_grow_is_one_sort_over_the_concatenation(case):
    w, g, masks, f = case
    flat_m, flat_w, flat_g = concat(masks), concat(w), concat(g)
    n = int(flat_m.sum())
    k = math.floor(f * n)
    result = global_mask_update({m: np.abs(a) for m, a in w.items()},
                                {m: np.abs(a) for m, a in g.items()}, masks, f)
    new = concat({m: r.mask for m, r in result.items()})
    if k == 0 or n == flat_m.size:
        assert (new == flat_m).all()
        return
    kept = _top(np.abs(flat_w), flat_m, n - k)
    expected = kept | _top(np.abs(flat_g), ~kept, k)
    assert (new == expected).all()
    assert int(new.sum()) == n                                     # the total is exact
    kept_parts = np.split(kept, np.cumsum([m.size for m in masks.values()])[:-1])
    for (name, r), part in zip(result.items(), kept_parts):        # each layer's own record
        dropped = masks[name] & ~part.reshape(masks[name].shape)
        assert r.n_active == int(masks[name].sum())
        assert (r.dropped == dropped).all() and r.n_drop == int(dropped.sum())
        assert (r.new == (r.mask & ~masks[name])).all()
        assert (r.regrown_same == (dropped & r.grown)).all()


@settings(max_examples=200, deadline=None)
@given(layers(), st.integers(0, 60))
def test_global_prune_keeps_the_largest_over_all_layers(case, n_keep):
    w, _, masks, _ = case
    flat_m = concat(masks)
    result = global_prune({m: np.abs(a) for m, a in w.items()}, masks, n_keep)
    new = concat({m: r.mask for m, r in result.items()})
    expected = _top(np.abs(concat(w)), flat_m, min(n_keep, int(flat_m.sum())))
    assert (new == expected).all()
    assert not (new & ~flat_m).any()                               # pruning grows nothing


@settings(max_examples=100, deadline=None)
@given(layers(), st.floats(0.01, 100))
def test_l2_scores_ignore_a_layers_scale(case, c):
    w, g, masks, f = case
    scaled = {m: a * (c if m == "l0" else 1) for m, a in w.items()}
    a = layer_scores({m: np.abs(x) for m, x in w.items()}, "l2")
    b = layer_scores({m: np.abs(x) for m, x in scaled.items()}, "l2")
    for m in a:
        np.testing.assert_allclose(a[m], b[m], rtol=1e-5)
    assert layer_scores(w, "raw") is w


def test_a_model_without_sparse_layers_has_nothing_to_rank():
    assert global_mask_update({}, {}, {}, 0.3) == {} and global_prune({}, {}, 0) == {}


def test_pooled_masks_hold_the_layers_total_drawn_over_all_of_them():
    shapes = {"a": (300, 100), "b": (100, 10)}
    densities = {"a": 0.1, "b": 0.5}
    rng = np.random.default_rng(0)
    masks = selection.Pooled().initial_masks(shapes, densities, rng)
    assert sum(int(m.sum()) for m in masks.values()) == 3000 + 500
    # drawn uniformly: both layers near the pooled density 3500 / 31000, far from 0.1 / 0.5
    assert abs(masks["b"].mean() - 3500 / 31000) < 0.05
    again = global_random_masks(shapes, 3500, np.random.default_rng(0))
    assert all((again[n] == masks[n]).all() for n in shapes)


def _train(tmp_path, *args):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rigl_np", "train", "--dataset", "synthetic",
                           "--epochs", "1", "--delta-t", "10", *args, "--out",
                           str(tmp_path / "run")], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("method", ["rigl", "set", "static", "pruning"])
def test_global_runs_keep_the_total_exact_while_layers_drift(tmp_path, method):
    done = _train(tmp_path, "--method", method, "--selection", "global", "--global-scores",
                  "l2" if method == "pruning" else "raw", "--distribution", "uniform-first-dense")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    nnz = metrics["layer_nnz"]
    sizes = {"fc1.weight": 784 * 300, "fc2.weight": 300 * 100, "fc3.weight": 100 * 10}
    assert nnz["fc1.weight"] == sizes["fc1.weight"]                 # the dense layer: no part
    sparse_total = (sizes["fc2.weight"] - math.floor(0.9 * sizes["fc2.weight"])
                    + sizes["fc3.weight"] - math.floor(0.9 * sizes["fc3.weight"]))
    assert nnz["fc2.weight"] + nnz["fc3.weight"] == sparse_total     # the global count, exact
    assert nnz["fc3.weight"] != sizes["fc3.weight"] // 10            # but not per layer
    for u in metrics["mask_updates"]:
        assert set(u["layers"]) == {"fc2.weight", "fc3.weight"}
        if method != "pruning":
            assert sum(v["nnz"] for v in u["layers"].values()) == sparse_total


def test_global_scores_without_global_selection_is_one_line_exit_2(tmp_path):
    done = _train(tmp_path, "--method", "rigl", "--global-scores", "l2")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --global-scores l2 normalises a global ranking; add --selection global"]


def test_a_global_run_is_named_tabled_and_labelled_apart_from_a_per_layer_one():
    from rigl_np import config
    from rigl_np.cli import build_parser
    from rigl_np.results import row_from

    def cfgs(*args):
        return config.from_namespace(build_parser().parse_args(["train", *args]))

    assert config.run_name(cfgs("--method", "rigl")) == "lenet300-rigl-erk-0.9-seed0"
    assert config.run_name(cfgs("--method", "rigl", "--selection", "global")) == \
        "lenet300-rigl-global-erk-0.9-seed0"
    saved = config.to_dict(cfgs("--method", "pruning", "--selection", "global",
                                "--global-scores", "l2"))
    assert config.run_name(config.from_dict(saved)) == "lenet300-pruning-global-l2-erk-0.9-seed0"
    metrics = {"test_accuracy": 0.8, "global_density": 0.1, "train_seconds": 1.0,
               "flops": {"train_multiplier": 0.2, "inference_multiplier": 0.1},
               "method": methods.get("pruning").kind()}
    assert row_from(saved, metrics)["distribution"] == "global-l2 erk"
    saved["options"]["selection"], saved["options"]["global_scores"] = "layer", "raw"
    assert row_from(saved, metrics)["distribution"] == "erk"
