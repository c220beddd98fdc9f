"""FLOP accounting (SPEC "FLOPs"): per-layer counts, method formulas, the paper's 0.4219 check."""
import pytest

from rigl_np.flops import flops_report, layer_flops, pruning_training_flops, training_flops
from rigl_np.models import build_model


def test_rigl_costs_0_4219_of_dense_at_fs_042_and_delta_t_100():
    f_dense = 1.0
    ratio = training_flops("rigl", f_dense, 0.42 * f_dense, 100) / training_flops("dense", f_dense, f_dense)
    assert ratio == pytest.approx(0.4219, abs=5e-5)


def test_method_formulas():
    fd, fs = 10.0, 2.0
    assert training_flops("static", fd, fs) == training_flops("set", fd, fs) == 3 * fs
    assert training_flops("snfs", fd, fs) == 2 * fs + fd
    assert training_flops("rigl", fd, fs, delta_t=1) == (3 * fs + 2 * fs + fd) / 2
    with pytest.raises(ValueError, match="no training-FLOPs formula"):
        training_flops("lottery", fd, fs)


def test_growth_gradient_accumulation_pays_a_dense_gradient_per_accumulated_batch():
    fd, fs = 100.0, 10.0
    assert training_flops("rigl", fd, fs, 100, grad_accumulation=1) == training_flops("rigl", fd, fs, 100)
    assert training_flops("srigl", fd, fs, 100, grad_accumulation=101) == pytest.approx(2 * fs + fd)
    one, many = (training_flops("rigl", fd, fs, 100, grad_accumulation=n) for n in (1, 32))
    assert many - one == pytest.approx(31 * (fd - fs) / 101)  # 31 more batches: f_D instead of f_S


def test_layer_flops_use_the_conv_output_size():
    flops = layer_flops(build_model("lenet5", (1, 28, 28), 10), (1, 28, 28))
    assert flops["conv1.weight"] == 2 * (6 * 1 * 5 * 5) * 28 * 28
    assert flops["conv2.weight"] == 2 * (16 * 6 * 5 * 5) * 10 * 10
    assert flops["fc1.weight"] == 2 * 400 * 120


def test_report_multipliers_follow_layer_densities():
    model = build_model("lenet300", (1, 28, 28), 10)
    report = flops_report(model, (1, 28, 28), "static", {"fc1.weight": 0.1, "fc2.weight": 0.1,
                                                         "fc3.weight": 1.0})
    f = layer_flops(model, (1, 28, 28))
    expected = (0.1 * f["fc1.weight"] + 0.1 * f["fc2.weight"] + f["fc3.weight"]) / sum(f.values())
    assert report["inference_multiplier"] == pytest.approx(expected)
    assert report["train_multiplier"] == pytest.approx(expected)


def test_pruning_cost_lies_between_its_final_sparse_cost_and_dense():
    flops = {"a": 100.0}
    cost = pruning_training_flops(flops, {"a": 0.1}, total_steps=1000, delta_t=10, t0=0, t1=750)
    assert 3 * 10.0 < cost < 3 * 100.0
    slower = pruning_training_flops(flops, {"a": 0.1}, total_steps=1000, delta_t=10, t0=0, t1=990)
    assert slower > cost                        # pruning later costs more
