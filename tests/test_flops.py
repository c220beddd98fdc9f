"""FLOP accounting (docs/semantics.md "FLOPs"): per-layer counts, each method's own formula, the
paper's 0.4219 check."""
import pytest

from rigl_np import backend
from rigl_np.flops import (flops_report, layer_flops, pruning_training_flops,
                           rigl_training_flops)
from rigl_np.rigl import pruning_density
from rigl_np.methods import get
from rigl_np.models import build_model

FLOPS = {"a": 10.0}                      # one layer: f_D = 10
SPARSE = {"a": 0.2}                      # at density 0.2: f_S = 2


def _method(name, **kw):
    return get(name)({"a": 0.2}, backend.host_rng(0), **kw)


def test_rigl_costs_0_4219_of_dense_at_fs_042_and_delta_t_100():
    ratio = rigl_training_flops(1.0, 0.42, 100) / _method("dense").training_flops({"a": 1.0}, {})
    assert ratio == pytest.approx(0.4219, abs=5e-5)


def test_each_method_declares_its_formula():
    fd, fs = 10.0, 2.0
    assert _method("static").training_flops(FLOPS, SPARSE) == pytest.approx(3 * fs)
    assert _method("set", delta_t=10).training_flops(FLOPS, SPARSE) == pytest.approx(3 * fs)
    assert _method("dense").training_flops(FLOPS, {}) == 3 * fd
    assert _method("snfs", delta_t=10).training_flops(FLOPS, SPARSE) == pytest.approx(2 * fs + fd)
    rigl = _method("rigl", delta_t=2, t_end=100)
    assert rigl.training_flops(FLOPS, SPARSE) == pytest.approx((3 * fs * 2 + 2 * fs + fd) / 3)
    srigl = _method("srigl", delta_t=2, t_end=100)
    assert srigl.training_flops(FLOPS, SPARSE) == rigl.training_flops(FLOPS, SPARSE)


def test_growth_gradient_accumulation_pays_a_dense_gradient_per_accumulated_batch():
    fd, fs = 100.0, 10.0
    assert rigl_training_flops(fd, fs, 100, grad_accumulation=101) == pytest.approx(2 * fs + fd)
    one, many = (rigl_training_flops(fd, fs, 100, grad_accumulation=n) for n in (1, 32))
    assert many - one == pytest.approx(31 * (fd - fs) / 101)  # 31 more batches: f_D instead of f_S
    method = _method("rigl", delta_t=100, t_end=1000, grad_accumulation=32)
    assert method.training_flops({"a": fd}, {"a": fs / fd}) == pytest.approx(many)


def test_layer_flops_use_the_conv_output_size():
    flops = layer_flops(build_model("lenet5", (1, 28, 28), 10), (1, 28, 28))
    assert flops["conv1.weight"] == 2 * (6 * 1 * 5 * 5) * 28 * 28
    assert flops["conv2.weight"] == 2 * (16 * 6 * 5 * 5) * 10 * 10
    assert flops["fc1.weight"] == 2 * 400 * 120


def test_report_multipliers_follow_layer_densities():
    model = build_model("lenet300", (1, 28, 28), 10)
    densities = {"fc1.weight": 0.1, "fc2.weight": 0.1, "fc3.weight": 1.0}
    static = get("static")(densities, backend.host_rng(0))
    report = flops_report(model, (1, 28, 28), static, densities)
    f = layer_flops(model, (1, 28, 28))
    expected = (0.1 * f["fc1.weight"] + 0.1 * f["fc2.weight"] + f["fc3.weight"]) / sum(f.values())
    assert report["inference_multiplier"] == pytest.approx(expected)
    assert report["train_multiplier"] == pytest.approx(expected)


def test_small_dense_costs_its_narrower_model():
    shape, full = (1, 28, 28), build_model("lenet300", (1, 28, 28), 10)
    method = get("small-dense")({n: 0.1 for n in full.sparsifiable()}, backend.host_rng(0))
    narrow = method.build_model("lenet300", shape, 10, backend.host_rng(0))
    report = flops_report(full, shape, method, {})
    ratio = sum(layer_flops(narrow, shape).values()) / sum(layer_flops(full, shape).values())
    assert 0 < method.width < 1
    assert report["train_multiplier"] == report["inference_multiplier"] == pytest.approx(ratio)


def test_pruning_cost_lies_between_its_final_sparse_cost_and_dense():
    flops = {"a": 100.0}
    cost = pruning_training_flops(flops, {"a": 0.1}, total_steps=1000, delta_t=10, t0=0, t1=750)
    assert 3 * 10.0 < cost < 3 * 100.0
    slower = pruning_training_flops(flops, {"a": 0.1}, total_steps=1000, delta_t=10, t0=0, t1=990)
    assert slower > cost                        # pruning later costs more
    method = _method("pruning", delta_t=10, t0=0, t1=750, total_steps=1000)
    assert method.training_flops(flops, {"a": 0.1}) == cost


def test_pruning_charges_each_batch_the_masks_it_trained_with():
    """Pruned after batch 1 (t1 = 1): batch 1 trains dense, batches 2..10 at the final density;
    every 4th batch up to t1 = 6: batches 1-4 dense, 5-6 at the step-4 density, then final."""
    flops = {"a": 10.0}
    cost = pruning_training_flops(flops, {"a": 0.1}, total_steps=10, delta_t=4, t0=0, t1=1)
    assert cost == pytest.approx(3 * (10.0 + 9 * 1.0) / 10)
    d4 = pruning_density(4, 0.1, 0, 6)
    cost = pruning_training_flops(flops, {"a": 0.1}, total_steps=10, delta_t=4, t0=0, t1=6)
    assert cost == pytest.approx(3 * 10.0 * (4 * 1.0 + 2 * d4 + 4 * 0.1) / 10)
