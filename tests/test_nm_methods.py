"""``--nm N:M`` for static, SET, RigL and gradual pruning (rigl_np.methods.nm): the invariants after
every batch and update and in the method's saved state (hypothesis, on a small Linear + conv
model), the layers left dense, the refusals (exit 2, one line), and train/compare on the CLI
(metrics.json, masks.npz snapshots and checkpoint.npz all N:M; the group-occupancy figure, the
results table's "N:M 2:4" rows)."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigl_np import backend, methods
from rigl_np.cli import main
from rigl_np.masks.nm import bad_groups, group_counts
from rigl_np.nn import Conv2d, Flatten, Linear, ReLU, Sequential
from rigl_np.optim import SGD
from rigl_np.runfolder import load_snapshots
from rigl_np.train import train_step
from rigl_np.viz.nm import group_occupancy

host = backend.to_numpy
TIMING = {"static": {}, "set": {"delta_t": 3, "t_end": 14}, "rigl": {"delta_t": 3, "t_end": 14},
          "pruning": {"delta_t": 3, "t1": 14}}


def _model(rng):
    """conv (8, 4, 3, 3) -> fc1 (12, 128) -> fc2 (5, 12): at 2:8, conv and fc2 stay dense."""
    model = Sequential([("conv", Conv2d(4, 8, 3, padding=1)), ("relu1", ReLU()),
                        ("flatten", Flatten()), ("fc1", Linear(128, 12)), ("relu2", ReLU()),
                        ("fc2", Linear(12, 5))])
    for p in model.params().values():
        p[...] = backend.asarray(rng.standard_normal(p.shape).astype("float32") * 0.3)
    return model


def _check(method, optimizer, n, m, exact=True):
    """Every N:M layer: groups of exactly n (pruning before t1: at least n), nnz = n/m * size,
    off-mask weights and momentum 0; the saved state's masks the same."""
    arrays, _ = method.state()
    for name, mask in method.masks.items():
        counts = host(group_counts(mask, m))
        assert (counts == n).all() if exact else (counts >= n).all()
        if exact:
            assert int(host(mask).sum()) == mask.size // m * n
        off = ~host(mask)
        assert not host(method.params[name])[off].any()
        assert not host(optimizer.state[name]["momentum"])[off].any()
        assert (host(arrays["mask"][name]) == host(mask)).all()


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(sorted(TIMING)), st.sampled_from([(2, 4), (1, 4), (2, 8)]),
       st.integers(0, 2**31))
def test_every_batch_and_update_keeps_every_group_at_n(name, nm, seed):
    n, m = nm
    rng = np.random.default_rng(seed)
    model = _model(rng)
    shapes = {k: model.params()[k].shape for k in model.sparsifiable()}
    method = methods.get(name).build({k: 0.5 for k in shapes}, np.random.default_rng(seed),
                                     nm=f"{n}:{m}", **TIMING[name])
    optimizer = SGD(model.params(), 0.1, momentum=0.9, weight_decay=1e-3)
    method.attach(model, optimizer)
    dense = {"conv.weight", "fc2.weight"} if m == 8 else set()
    assert set(method.masks) == set(shapes) - dense
    assert method.structure_record()["dense_layers"].keys() == dense
    if name == "pruning":
        assert all(host(mk).all() for mk in method.masks.values())        # starts dense
    else:
        _check(method, optimizer, n, m)
    changed = 0
    for step in range(1, 19):
        before = {k: host(v).copy() for k, v in method.masks.items()}
        x = backend.asarray(rng.standard_normal((6, 4, 4, 4)).astype("float32"))
        y = backend.asarray(rng.integers(0, 5, 6))
        train_step(model, optimizer, x, y, step, method)
        _check(method, optimizer, n, m, exact=name != "pruning" or step >= 14)
        changed += sum(int((host(method.masks[k]) != before[k]).sum()) for k in before)
    assert (changed > 0) == (name != "static")


@pytest.mark.parametrize("argv,message", [
    (["--nm", "5:4"], "--nm must be N:M with whole numbers 0 < N < M (e.g. 2:4), got 5:4"),
    (["--nm", "0:4"], "--nm must be N:M with whole numbers 0 < N < M (e.g. 2:4), got 0:4"),
    (["--nm", "2"], "--nm must be N:M with whole numbers 0 < N < M (e.g. 2:4), got 2"),
    (["--nm", "2:4", "--distribution", "erk", "--sparsity", "0.5"],
     "--nm 2:4 keeps exactly 2 of every 4 weights in each N:M layer: give --distribution "
     "uniform --sparsity 0.5, not --distribution erk --sparsity 0.5"),
    (["--nm", "2:4", "--distribution", "uniform", "--sparsity", "0.9"],
     "give --distribution uniform --sparsity 0.5, not --distribution uniform --sparsity 0.9"),
    (["--nm", "2:4", "--method", "srigl"],
     "not of --method srigl; leave it out"),
    (["--nm", "2:4", "--distribution", "uniform", "--sparsity", "0.5", "--selection", "global"],
     "leave out --selection global"),
])
def test_bad_nm_settings_are_refused_with_one_line(capsys, argv, message):
    assert main(["train", "--dataset", "synthetic", "--epochs", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


RUN = ["--dataset", "synthetic", "--epochs", "1", "--delta-t", "10", "--checkpoint-every", "7",
       "--distribution", "uniform"]


@pytest.mark.parametrize("method,nm,sparsity", [("rigl", "2:8", "0.75"),
                                                ("pruning", "1:4", "0.75")])
def test_train_writes_nm_masks_everywhere_and_says_which_layers_stay_dense(
        tmp_path, capsys, method, nm, sparsity):
    n, m = map(int, nm.split(":"))
    out = tmp_path / "run"
    assert main(["train", *RUN, "--method", method, "--nm", nm, "--sparsity", sparsity,
                 "--out", str(out)]) == 0
    said = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    structure = metrics["structure"]
    assert (structure["n"], structure["m"]) == (n, m)
    dense = {"fc2.weight", "fc3.weight"} if m == 8 else set()
    assert set(structure["dense_layers"]) == dense
    for name in dense:
        assert f"--nm {nm}: {name} stays dense" in said
        assert metrics["layer_density"][name] == 1.0
    snapshots = load_snapshots(out / "masks.npz")
    last = max(snapshots)
    for step, masks in snapshots.items():
        assert set(masks) == {"fc1.weight", "fc2.weight", "fc3.weight"} - dense
        for mask in masks.values():
            if method != "pruning" or step == last:
                assert bad_groups(mask, n, m) == []
    with np.load(out / "checkpoint.npz") as c:
        for name in set(snapshots[last]):
            mask = c[f"method/mask/{name}"].astype(bool)
            assert bad_groups(mask, n, m) == []
            assert not c[f"param/{name}"][~mask].any()
            assert not c[f"opt/{name}/momentum"][~mask].any()
    assert metrics["layer_density"]["fc1.weight"] == n / m
    assert (out / "nm_occupancy.png").exists()


def test_group_occupancy_is_the_share_of_snapshots_each_position_was_active():
    first = np.array([[True, True, False, False, False, True, True, False]])
    later = np.array([[True, False, True, False, False, True, True, False]])
    occupancy = group_occupancy({0: {"fc": first}, 10: {"fc": later}, 20: {"fc": later}}, "fc", 4)
    assert occupancy.tolist() == [[1, 1 / 3, 2 / 3, 0], [0, 1, 1, 0]]


def test_compare_runs_a_grid_at_nm_and_names_its_runs(tmp_path):
    assert main(["compare", *RUN, "--methods", "static,set", "--sparsities", "0.5",
                 "--seeds", "0", "--nm", "2:4", "--out", str(tmp_path / "grid"),
                 "--jobs", "1"]) == 0
    runs = sorted(p.name for p in (tmp_path / "grid" / "runs").iterdir())
    assert "lenet300-set-nm2of4-uniform-0.5-seed0" in runs
    metrics = json.loads((tmp_path / "grid" / "runs" / "lenet300-set-nm2of4-uniform-0.5-seed0" /
                          "metrics.json").read_text())
    assert metrics["structure"]["n"] == 2 and metrics["layer_density"]["fc3.weight"] == 0.5
    table = (tmp_path / "grid" / "results.md").read_text()
    assert "| lenet300 | set | N:M 2:4 | 0.5 |" in table
