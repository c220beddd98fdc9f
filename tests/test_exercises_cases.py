"""Every grading run holds every edge case its exercise's signature allows (the case lists are
fixed; only the values are drawn), so no wrong answer passes by the luck of the draw."""
import math

import numpy as np
import pytest

from rigl_np.exercises import cases, layer_cases
from rigl_np.exercises.erk import erk_cases
from rigl_np.exercises.schedule import fraction_cases, step_cases
from rigl_np.rigl import rigl_update
from rigl_np.sparsity import layer_densities

SEEDS = range(100)


def _by_label(builder, seed) -> dict:
    return {c.label: c.args for c in builder(np.random.default_rng(seed))}


@pytest.mark.parametrize("seed", SEEDS)
def test_the_drop_cases_hold_the_hard_ones(seed):
    drops = _by_label(cases.drop_cases, seed)
    ties = drops["ties exactly at the k-th |W|"]
    magnitudes = np.sort(np.abs(ties["weight"][ties["mask"]]))
    assert magnitudes[ties["k"] - 1] == magnitudes[ties["k"]]
    first = drops["random weights, larger ones at inactive positions"]
    weight, mask = np.abs(first["weight"]), first["mask"]
    assert weight[~mask].min() > weight[mask].max()
    n, k = int(first["mask"].sum()), first["k"]
    assert len({k, n - k, n - k - 1, n - k + 1}) == 4          # kept, dropped, one off: all differ
    zeros = drops["active weights exactly 0, some kept and some dropped"]
    assert (zeros["weight"][zeros["mask"]] == 0).sum() > zeros["k"]
    assert drops["k = 0"]["k"] == 0
    assert drops["k = nnz (every connection dropped)"]["k"] == drops[
        "k = nnz (every connection dropped)"]["mask"].sum()
    assert drops["a conv-shaped weight (out, in, kh, kw)"]["weight"].ndim == 4
    assert drops["every position active (density 1)"]["mask"].all()
    assert not drops["no active connection (nnz = 0, k = 0)"]["mask"].any()


@pytest.mark.parametrize("seed", SEEDS)
def test_the_grow_cases_hold_the_hard_ones(seed):
    grows = _by_label(cases.grow_cases, seed)
    zero = grows["zero gradients where some zero-gradient positions must be grown"]
    assert ((zero["grad"] != 0) & ~zero["kept"]).sum() < zero["k"]
    ties = grows["ties exactly at the k-th |G|"]
    magnitudes = np.sort(np.abs(ties["grad"][~ties["kept"]]))[::-1]
    assert magnitudes[ties["k"] - 1] == magnitudes[ties["k"]]
    flat = grows["all gradients 0, kept positions first and last"]["kept"].ravel()
    assert flat[0] and flat[-1] and not flat.all()
    assert grows["k = 0"]["k"] == 0
    every = grows["k = every position not kept"]
    assert every["k"] == (~every["kept"]).sum() > 0
    assert grows["every position kept (k = 0)"]["kept"].all()


@pytest.mark.parametrize("seed", SEEDS)
def test_the_update_cases_hold_the_hard_ones(seed):
    updates = list(layer_cases.rigl_update_cases(np.random.default_rng(seed)))
    assert rigl_update(*updates[0].args.values()).n_regrown_same >= 1    # a just-dropped one back
    assert updates[1].args["weight"].ndim == 4
    ks = [math.floor(c.args["drop_fraction"] * c.args["mask"].sum()) for c in updates]
    fractions = [c.args["drop_fraction"] for c in updates]
    assert 0 in ks and 0.0 in fractions and 1.0 in fractions
    assert any(c.args["mask"].all() for c in updates)
    fulls = list(layer_cases.full_update_cases(np.random.default_rng(seed)))
    assert [c.label for c in fulls[:len(updates)]] == [c.label for c in updates]
    assert all((c.args["momentum"] != 0).all() for c in fulls[:len(updates)])


@pytest.mark.parametrize("seed", SEEDS)
def test_the_srigl_cases_hold_the_hard_ones(seed):
    srigls = list(layer_cases.srigl_cases(np.random.default_rng(seed)))
    for case in srigls[:3]:
        kept, ablated = case.args["kept"], case.args["ablated"]
        counts = kept.reshape(len(ablated), -1).sum(axis=1)
        assert ablated.any() and not counts[ablated].any()
        assert 0 in counts[~ablated] and case.args["fan_in"] in counts[~ablated]
        assert kept.reshape(len(ablated), -1).shape[1] > len(ablated)   # columns differ from rows
    third = srigls[2].args
    rows = [r for r in range(len(third["ablated"])) if third["kept"][r, 0] and
            third["kept"][r, -1] and not (third["grad"][r] != 0).any()]
    assert rows                         # keeps its ends, must grow zero-gradient inputs
    whole = srigls[3].args
    assert whole["fan_in"] == whole["kept"].shape[1] and not whole["ablated"].any()


@pytest.mark.parametrize("seed", SEEDS)
def test_the_erk_cases_overflow_and_are_whole_numbers(seed):
    erks = list(erk_cases(np.random.default_rng(seed)))
    for case in erks:
        shapes, density = case.args["shapes"], case.args["density"]
        densities = layer_densities(shapes, density)
        assert ("overflow" in case.label and "no layer" not in case.label) == (
            max(densities.values()) == 1)
        assert all(math.isclose(density * math.prod(s), round(density * math.prod(s)))
                   for s in shapes.values())
    thin = next(c.args for c in erks if "neither the smallest" in c.label)
    densities = layer_densities(thin["shapes"], thin["density"])
    dense = [n for n, v in densities.items() if v == 1]
    names, sizes = list(thin["shapes"]), {n: math.prod(s) for n, s in thin["shapes"].items()}
    assert len(dense) == 1 and dense[0] not in (names[0], names[-1], min(sizes, key=sizes.get))
    assert any(len(c.args["shapes"]) == 1 for c in erks)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_schedule_cases_hold_the_ends(seed):
    rng = np.random.default_rng(seed)
    fractions = list(fraction_cases(rng))
    assert {(c.args["step"], c.args["t_end"]) for c in fractions} >= {(0, 1), (1, 1), (2, 1)}
    steps = list(step_cases(rng))
    configs = {(c.args["delta_t"], c.args["t_end"]) for c in steps}
    assert any(d == 1 for d, _ in configs) and any(d == t for d, t in configs)
    assert all(t // d != d for d, t in configs)       # ΔT read as a count of updates shows
    assert any(c.args["step"] == 0 for c in steps)
