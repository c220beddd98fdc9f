"""``verify`` on files of layer densities and of update schedules (kind densities / schedule)."""
import math

import numpy as np
import pytest

from rigl_np.rigl import drop_fraction
from rigl_np.sparsity import layer_densities, nnz_for
from rigl_np.verify import save_update, verify_paths

SHAPES = {"conv1": (16, 3, 3, 3), "conv2": (32, 16, 3, 3), "fc1": (120, 512), "fc2": (10, 120)}


def run(tmp_path, name="d.npz", selected=None, **arrays):
    path = save_update(tmp_path / name, **arrays)
    results, errors, _ = verify_paths([path], selected)
    assert not errors, errors
    return results


def masks_with(counts):
    return {f"mask/{n}": (np.arange(math.prod(s)) < counts[n]).reshape(s)
            for n, s in SHAPES.items()}


def shapes():
    return {f"shape/{n}": np.array(s) for n, s in SHAPES.items()}


def test_erk_densities_and_masks_are_identical(tmp_path):
    ours = layer_densities(SHAPES, 0.1, "erk")
    counts = {n: nnz_for(math.prod(s), ours[n]) for n, s in SHAPES.items()}
    results = run(tmp_path, kind="densities", density=0.1, distribution="erk", **shapes(),
                  **{f"density/{n}": ours[n] for n in SHAPES}, **masks_with(counts))
    assert [r.layer for r in results] == list(SHAPES)
    assert {r.verdict for r in results} == {"identical"}


def test_floor_counts_are_explained_by_the_count_rule(tmp_path):
    ours = layer_densities(SHAPES, 0.1, "erk")
    floors = {n: math.floor(ours[n] * math.prod(s)) for n, s in SHAPES.items()}
    assert floors != {n: nnz_for(math.prod(s), ours[n]) for n, s in SHAPES.items()}
    results = run(tmp_path, kind="densities", density=0.1, distribution="erdos_renyi_kernel",
                  **shapes(), **masks_with(floors))
    explained = [r for r in results if r.verdict == "explained"]
    assert explained and all(r.causes == ["density"] for r in explained)
    assert all("--density-count floor" in r.detail for r in explained)
    assert {r.verdict for r in results} <= {"identical", "explained"}


def test_a_dense_first_layer_inside_the_budget_is_explained(tmp_path):
    dense = {"conv1"}
    rest = {n: s for n, s in SHAPES.items() if n not in dense}
    total = sum(nnz_for(math.prod(s), 0.1) for s in SHAPES.values())
    share = (total - math.prod(SHAPES["conv1"])) / sum(math.prod(s) for s in rest.values())
    theirs = {"conv1": 1.0, **{n: share for n in rest}}            # global density exactly 0.1
    results = run(tmp_path, kind="densities", density=0.1, distribution="uniform", **shapes(),
                  dense_layers=np.array(sorted(dense)),
                  **{f"density/{n}": d for n, d in theirs.items()})
    by_layer = {r.layer: r for r in results}
    assert by_layer["conv1"].verdict == "identical"
    assert all(by_layer[n].verdict == "explained" and "--excluded inside" in by_layer[n].detail
               for n in rest)


def test_wrong_densities_differ(tmp_path):
    results = run(tmp_path, kind="densities", density=0.1, distribution="erk", **shapes(),
                  **{f"density/{n}": 0.1 for n in SHAPES})          # uniform, not ERK
    assert {r.verdict for r in results} == {"differs"}
    assert all(r.causes == ["density"] for r in results)


def schedule(first_update="delta", counted=True, inclusive=False, shift=0, alpha=0.3,
             delta_t=10, t_end=60, total=80):
    """Another implementation's schedule loop: (counter values at updates, drop fractions)."""
    steps, fractions = [], []
    t, last = (0 if first_update == "zero" else 1), None
    for _ in range(total):
        due = t % delta_t == 0 and (t < t_end or (inclusive and t == t_end)) and t != last
        if due:
            steps.append(t)
            fractions.append(drop_fraction(t + shift, alpha, t_end))
            last = t
            if not counted:
                continue
        t += 1
    return dict(kind="schedule", steps=np.array(steps), drop_fractions=np.array(fractions),
                alpha=alpha, delta_t=delta_t, t_end=t_end, total_steps=total)


def test_rigl_np_schedule_is_identical(tmp_path):
    [r] = run(tmp_path, **schedule())
    assert (r.verdict, r.n_differ) == ("identical", 0) and "5 updates" in r.detail


def test_an_inclusive_end_is_explained(tmp_path):
    [r] = run(tmp_path, **schedule(inclusive=True))
    assert (r.verdict, r.causes, r.options) == ("explained", ["schedule"], ["--t-end inclusive"])
    assert not r.accepted
    [r] = run(tmp_path, "b.npz", {"t_end": "inclusive"}, **schedule(inclusive=True))
    assert r.accepted


def test_the_official_schedule_is_explained_by_the_options_selected(tmp_path):
    official = schedule(first_update="zero", counted=False, inclusive=True, total=62)
    [r] = run(tmp_path, **official)
    assert (r.verdict, r.causes) == ("explained", ["schedule"]) and not r.accepted
    selected = {"first_update": "zero", "count_update_batches": "no", "t_end": "inclusive"}
    [r] = run(tmp_path, "b.npz", selected, **official)
    assert r.accepted and r.options == ["--first-update zero", "--count-update-batches no",
                                        "--t-end inclusive"]


def test_a_fraction_one_step_ahead_differs_and_says_so(tmp_path):
    [r] = run(tmp_path, **schedule(shift=1))
    assert (r.verdict, r.causes) == ("differs", ["schedule"])
    assert "f(t + 1): off by one step" in r.detail and r.n_differ == 5


def test_a_fraction_one_step_behind_is_a_lagging_counter(tmp_path):
    [r] = run(tmp_path, **schedule(shift=-1))
    assert (r.verdict, r.causes, r.options) == ("explained", ["schedule"], ["--fraction-lag 1"])
