"""Sparsity distributions (uniform, ER, ERK), the exact-count rule, random masks, reports."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigl_np.sparsity import density_report, layer_densities, nnz_for, random_masks

LENET300 = {"fc1": (300, 784), "fc2": (100, 300), "fc3": (10, 100)}
CNN = {"conv1": (32, 3, 3, 3), "conv2": (64, 32, 3, 3), "conv3": (128, 64, 3, 3),
       "fc": (10, 2048)}

layer_shape = st.one_of(
    st.tuples(st.integers(1, 64), st.integers(1, 64)),
    st.tuples(st.integers(1, 32), st.integers(1, 32), st.sampled_from([1, 3, 5]),
              st.sampled_from([1, 3, 5])))
shape_dicts = st.lists(layer_shape, min_size=1, max_size=6).map(
    lambda shapes: {f"layer{i}": s for i, s in enumerate(shapes)})
densities = st.floats(0.01, 1.0)


def _budget_nnz(shapes, density):
    """Active weights uniform density would spend: sum_l (N_l - floor((1 - d) N_l))."""
    return sum(nnz_for(math.prod(s), density) for s in shapes.values())


# -- the exact-count rule ---------------------------------------------------------------------

@pytest.mark.parametrize("n, density, expected", [
    (1000, 0.1, 100), (1000, 0.9, 900), (30000, 0.1, 3000), (235200, 0.1, 23520),
    (10, 0.25, 3), (7, 0.0, 0), (7, 1.0, 7), (1000, np.float32(0.9), 900),
    (1000, np.float32(0.3), 300), (1000, 1 - 0.7, 300), (1000, 1 - 0.95, 50),
    (30000, 1 - 0.99, 300),
])
def test_nnz_for_is_exact(n, density, expected):
    assert nnz_for(n, density) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 1000))
def test_nnz_for_matches_rational_rule(n, per_mille):
    density = per_mille / 1000
    assert nnz_for(n, density) == n - math.floor((1 - Fraction(per_mille, 1000)) * n)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 1000))
def test_nnz_for_complement_of_a_sparsity_is_exact(n, per_mille):
    """Callers pass density = 1 - sparsity; float error in the subtraction must not matter."""
    assert nnz_for(n, 1 - per_mille / 1000) == n - math.floor(Fraction(per_mille, 1000) * n)


def test_nnz_for_rejects_a_density_outside_0_1():
    with pytest.raises(ValueError, match="density"):
        nnz_for(10, 1.5)


# -- uniform ----------------------------------------------------------------------------------

def test_uniform_gives_every_layer_the_density():
    assert layer_densities(LENET300, 0.1, "uniform") == {"fc1": 0.1, "fc2": 0.1, "fc3": 0.1}


def test_uniform_first_layer_dense_is_rigl_torch_allocation():
    got = layer_densities(LENET300, 0.1, "uniform", first_layer_dense=True)
    assert got == {"fc1": 1.0, "fc2": 0.1, "fc3": 0.1}
    single = layer_densities({"only": (5, 5)}, 0.1, "uniform", first_layer_dense=True)
    assert single == {"only": 0.1}                  # one layer: stays sparse, like rigl-torch


# -- ER / ERK ---------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(shape_dicts, densities, st.sampled_from(["er", "erk"]))
def test_erk_never_exceeds_one_and_meets_the_budget(shapes, density, distribution):
    got = layer_densities(shapes, density, distribution)
    assert set(got) == set(shapes)
    assert all(0 < d <= 1 for d in got.values())
    spent = sum(nnz_for(math.prod(s), got[name]) for name, s in shapes.items())
    target = _budget_nnz(shapes, density)
    # each layer rounds its count up by less than one weight: within one weight per layer
    assert target - 1e-6 * target <= spent <= target + len(shapes)


def test_erk_overflowing_layer_is_made_dense_and_the_rest_resolved():
    """LeNet-300-100 at 10 %: fc3's ERK density would be ~1.84; it goes dense, eps is re-solved."""
    n = {name: math.prod(s) for name, s in LENET300.items()}
    raw = {name: sum(s) / math.prod(s) for name, s in LENET300.items()}
    target = _budget_nnz(LENET300, 0.1)
    one_shot_eps = target / sum(raw[k] * n[k] for k in n)
    assert one_shot_eps * raw["fc3"] > 1                      # the case really overflows
    got = layer_densities(LENET300, 0.1, "erk")
    assert got["fc3"] == 1.0
    # re-solved: eps * (r1 N1 + r2 N2) = target - N3, with the same eps for fc1 and fc2
    eps = (target - n["fc3"]) / (raw["fc1"] * n["fc1"] + raw["fc2"] * n["fc2"])
    assert got["fc1"] == pytest.approx(eps * raw["fc1"], rel=1e-12)
    assert got["fc2"] == pytest.approx(eps * raw["fc2"], rel=1e-12)


def test_erk_makes_layers_dense_repeatedly_until_none_overflows():
    shapes = {"tiny": (2, 2), "small": (4, 8), "big": (256, 512)}
    got = layer_densities(shapes, 0.5, "erk")
    assert got["tiny"] == 1.0 and got["small"] == 1.0 and got["big"] < 1.0


def test_er_equals_erk_for_fully_connected_layers():
    er, erk = layer_densities(LENET300, 0.05, "er"), layer_densities(LENET300, 0.05, "erk")
    assert er == pytest.approx(erk, rel=1e-12)


def test_er_ignores_kernel_dims_and_erk_uses_them():
    er, erk = layer_densities(CNN, 0.1, "er"), layer_densities(CNN, 0.1, "erk")
    ratio_er = ((64 + 32) / (64 * 32)) / ((128 + 64) / (128 * 64))
    ratio_erk = ((64 + 32 + 6) / (64 * 32 * 9)) / ((128 + 64 + 6) / (128 * 64 * 9))
    assert er["conv2"] / er["conv3"] == pytest.approx(ratio_er, rel=1e-12)
    assert erk["conv2"] / erk["conv3"] == pytest.approx(ratio_erk, rel=1e-12)


@pytest.mark.parametrize("shapes", [LENET300, CNN])
def test_power_scale_zero_gives_uniform(shapes):
    got = layer_densities(shapes, 0.2, "erk", power_scale=0.0)
    size = sum(math.prod(s) for s in shapes.values())
    # eps = sum_l nnz_l / sum_l N_l, which is 0.2 up to the per-layer rounding
    assert all(d == pytest.approx(0.2, abs=len(shapes) / size) for d in got.values())
    assert len(set(got.values())) == 1


@pytest.mark.parametrize("distribution", ["uniform", "er", "erk"])
def test_dense_layers_and_overrides_stay_outside_the_budget(distribution):
    rest = {k: v for k, v in CNN.items() if k not in ("conv1", "fc")}
    expected = layer_densities(rest, 0.1, distribution)
    got = layer_densities(CNN, 0.1, distribution, dense_layers=("conv1",), overrides={"fc": 0.5})
    assert got["conv1"] == 1.0 and got["fc"] == 0.5
    assert {k: got[k] for k in rest} == expected


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="unknown distribution"):
        layer_densities(LENET300, 0.1, "snip")
    with pytest.raises(ValueError, match="not in shapes"):
        layer_densities(LENET300, 0.1, dense_layers=("conv9",))
    with pytest.raises(ValueError, match="global density"):
        layer_densities(LENET300, 0.0)


def test_density_one_is_all_dense():
    assert layer_densities(CNN, 1.0, "erk") == {name: 1.0 for name in CNN}


# -- random masks and reports -----------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(shape_dicts, densities, st.sampled_from(["uniform", "erk"]), st.integers(0, 2**32 - 1))
def test_random_masks_have_exact_counts(shapes, density, distribution, seed):
    dens = layer_densities(shapes, density, distribution)
    masks = random_masks(shapes, dens, np.random.default_rng(seed))
    for name, shape in shapes.items():
        assert masks[name].shape == shape and masks[name].dtype == bool
        assert masks[name].sum() == nnz_for(math.prod(shape), dens[name])


def test_random_masks_are_seeded():
    dens = layer_densities(LENET300, 0.1)
    a = random_masks(LENET300, dens, np.random.default_rng(5))
    b = random_masks(LENET300, dens, np.random.default_rng(5))
    c = random_masks(LENET300, dens, np.random.default_rng(6))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["fc1"], c["fc1"])


def test_density_report_counts_dense_layers_in_the_global_density():
    masks = {"fc2": np.zeros((100, 300), bool), "fc3": np.ones((10, 100), bool)}
    masks["fc2"].flat[:3000] = True
    report = density_report(masks, LENET300)          # fc1 has no mask: dense
    assert report["layers"]["fc1"] == {"density": 1.0, "nnz": 235200, "size": 235200}
    assert report["layers"]["fc2"]["nnz"] == 3000 and report["layers"]["fc2"]["density"] == 0.1
    assert report["nnz"] == 235200 + 3000 + 1000 and report["size"] == 266200
    assert report["global_density"] == pytest.approx(239200 / 266200)
