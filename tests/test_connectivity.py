"""Connectivity diagnostics (masks/connectivity.py, viz/drift.py, the run's warning).

``connectivity`` is checked against the test's own breadth-first search over the explicit unit
graph (a conv's units are channels; a Linear after a conv reads each channel as consecutive
inputs), on random chains; a LeNet-5 whose uniform 99 % masks cut it warns once, exits 0,
records the cut and draws it; every mask update of a run records its connectivity.
"""
import json
import os
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rigl_np.masks.connectivity import connectivity
from rigl_np.viz.drift import drifts, plot_connectivity, plot_density_drift


def _bfs(masks, shapes):
    """The test's own search: unit nodes (layer index, unit), edges from the masks."""
    names = list(shapes)
    edges = {}
    for li, name in enumerate(names):
        m = masks[name].reshape(shapes[name][0], shapes[name][1], -1).any(axis=2)
        group = shapes[name][1] // shapes[names[li - 1]][0] if li else 1
        for o, i in zip(*np.nonzero(m)):
            edges.setdefault((li, i // group), set()).add((li + 1, o))
    def reach(start):
        seen, todo = set(start), list(start)
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen
    last = len(names)
    outputs = {(last, o) for o in range(shapes[names[-1]][0])}
    fwd = reach({(0, i) for i in range(shapes[names[0]][1])})
    # backward: reverse the edges
    rev = {}
    for a, bs in edges.items():
        for b in bs:
            rev.setdefault(b, set()).add(a)
    seen, todo = set(outputs), list(outputs)
    while todo:
        for nxt in rev.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    inputs = [i for i in range(shapes[names[0]][1]) if (0, i) in seen]
    alive = {name: sum((li + 1, o) in fwd and (li + 1, o) in seen
                       for o in range(shapes[name][0])) for li, name in enumerate(names)}
    return len(inputs) / shapes[names[0]][1], alive


@st.composite
def chains(draw):
    """2-4 layers, optionally two convs first (channels, 2x2 kernels) then a flattening Linear."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    density = draw(st.floats(0.02, 0.6))
    shapes, width = {}, int(rng.integers(1, 5))
    if draw(st.booleans()):
        for i in range(2):
            out = int(rng.integers(1, 5))
            shapes[f"conv{i}"] = (out, width, 2, 2)
            width = out
        width *= 4                                            # flattened: 4 positions a channel
    for i in range(draw(st.integers(1, 3))):
        out = int(rng.integers(1, 6))
        shapes[f"fc{i}"] = (out, width)
        width = out
    masks = {n: rng.random(s) < density for n, s in shapes.items()}
    return masks, shapes


@settings(max_examples=300, deadline=None)
@given(chains())
def test_connectivity_equals_a_search_of_the_unit_graph(case):
    masks, shapes = case
    c = connectivity(masks, shapes)
    fraction, alive = _bfs(masks, shapes)
    assert c["input_path_fraction"] == fraction
    assert {n: v["alive"] for n, v in c["layers"].items()} == alive
    assert (c["cut"] is None) == (fraction > 0)
    assert c["collapsed"] == ([] if fraction > 0 else list(shapes))
    for name, m in masks.items():
        links = m.reshape(m.shape[0], m.shape[1], -1).any(axis=2)
        assert c["layers"][name]["no_fan_in"] == int((~links.any(axis=1)).sum())
        assert c["layers"][name]["no_fan_out"] == int((~links.any(axis=0)).sum())


def test_the_cut_is_the_layer_that_no_input_reaches_through():
    shapes = {"fc1": (2, 3), "fc2": (2, 2)}
    fc1 = np.zeros((2, 3), bool)
    fc1[0, :] = True                                          # only unit 0 has inputs
    fc2 = np.zeros((2, 2), bool)
    fc2[:, 1] = True                                          # only unit 1 is read
    c = connectivity({"fc1": fc1, "fc2": fc2}, shapes)
    assert c["cut"] == "fc2" and c["input_path_fraction"] == 0.0
    assert c["layers"]["fc1"] == {"units": 2, "alive": 0, "no_fan_in": 1, "no_fan_out": 0}
    assert connectivity({"fc2": fc2}, shapes)["cut"] is None  # fc1 dense: unit 1 has inputs
    assert connectivity({}, {"a": (2, 3), "b": (4, 5)}) is None   # 5 inputs after 2 outputs


def _train(tmp_path, *args):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rigl_np", "train", "--dataset", "synthetic",
                           "--epochs", "1", *args, "--out", str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_run_that_cuts_the_network_warns_once_records_and_draws_it(tmp_path):
    done = _train(tmp_path, "--method", "static", "--model", "lenet5", "--sparsity", "0.99",
                  "--distribution", "uniform", "--seed", "5")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "warning: the masks disconnect the network at step 0: no path from the input to the "
        "output crosses fc3.weight, so the output no longer depends on the input "
        "(metrics.json: connectivity)"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["connectivity"]["end"]["cut"] == "fc3.weight"
    assert metrics["connectivity"]["start"]["input_path_fraction"] == 0.0
    assert (tmp_path / "run" / "connectivity.png").exists()


def test_every_mask_update_records_its_connectivity(tmp_path):
    done = _train(tmp_path, "--method", "rigl", "--delta-t", "10")
    assert done.returncode == 0 and done.stderr == ""
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["mask_updates"]
    for u in metrics["mask_updates"]:
        c = u["connectivity"]
        assert c["cut"] is None and set(c["layers"]) == {"fc1.weight", "fc2.weight", "fc3.weight"}
    assert not drifts(metrics["mask_updates"])               # per-layer RigL keeps its counts
    assert not (tmp_path / "run" / "density_drift.png").exists()
    assert plot_connectivity(metrics).axes


def test_drift_is_seen_and_drawn():
    updates = [{"step": s, "layers": {"a": {"nnz": n}, "b": {"nnz": 10 - n}}}
               for s, n in ((10, 4), (20, 6))]
    assert drifts(updates) and not drifts(updates[:1])
    fig = plot_density_drift(updates, {"a": (10,), "b": (20,)})
    assert [list(line.get_ydata()) for line in fig.axes[0].lines] == [[0.4, 0.6], [0.3, 0.2]]
    fig = plot_density_drift(updates, {"a": (10,), "b": (20,)}, start={"a": 5, "b": 5})
    assert [list(line.get_xdata()) for line in fig.axes[0].lines] == [[0, 10, 20]] * 2
    assert [line.get_ydata()[0] for line in fig.axes[0].lines] == [0.5, 0.25]


def test_verify_reports_the_connectivity_of_a_densities_files_masks(tmp_path):
    from rigl_np import backend
    from rigl_np.models import build_model
    from rigl_np.sparsity import random_masks
    from rigl_np.verify.main import main, verify_paths

    model = build_model("lenet5", (1, 28, 28), 10, backend.host_rng(0))
    shapes = {n: model.params()[n].shape for n in model.sparsifiable()}
    for seed, cut in ((5, "fc3.weight"), (0, None)):                 # as the runs above draw
        masks = random_masks(shapes, {n: 0.01 for n in shapes}, backend.host_rng([seed, 1]))
        path = tmp_path / f"d{seed}.npz"
        np.savez(path, kind="densities", density=0.01, distribution="uniform",
                 **{f"shape/{n}": np.array(s) for n, s in shapes.items()},
                 **{f"mask/{n}": m for n, m in masks.items()})
        results, errors, _ = verify_paths([str(path)])
        assert not errors and [r.verdict for r in results] == ["identical"] * len(shapes)
        assert all(r.counts["connectivity"]["cut"] == cut for r in results)
        noted = [r.layer for r in results if "these masks cut the network" in r.detail]
        assert noted == ([cut] if cut else [])
        assert main([str(path)]) == 0                                # a finding, not an error
