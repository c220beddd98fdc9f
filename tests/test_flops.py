"""FLOP accounting (docs/semantics.md "FLOPs"): per-layer counts, each method's own formula, the
paper's 0.4219 check."""
import pytest

from rigl_np import backend
from rigl_np.flops import flops_report, layer_flops, rigl_training_flops
from rigl_np.methods import MaskRecords, get
from rigl_np.models import build_model

FLOPS = {"a": 10.0}                      # one layer: f_D = 10
SPARSE = {"a": 0.2}                      # at density 0.2: f_S = 2


def _method(name, **kw):
    return get(name).build({"a": 0.2}, backend.host_rng(0), **kw)


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


def _records(total: int, updates: dict) -> list:
    """The density segments of a 10-weight layer, dense at first, then ``{step: nnz}``."""
    records = MaskRecords({"a": backend.xp().ones(10, dtype=bool)})
    for step, nnz in updates.items():
        records.add(step, 0.0, {"a": {"grown": 0, "regrown_same": 0, "nnz": nnz}}, {})
    return records.density_segments({"a": (10,)}, total)


def test_each_batch_is_charged_the_masks_it_trained_with():
    """Updates after batches 4 and 6 of 10: batches 1-4 dense, 5-6 at 5/10, 7-10 at 1/10."""
    assert _records(10, {4: 5, 6: 1}) == [(0.4, {"a": 1.0}), (0.2, {"a": 0.5}),
                                           (0.4, {"a": 0.1})]
    assert _records(10, {}) == [(1.0, {"a": 1.0})]
    assert _records(10, {3: 10, 7: 10}) == [(1.0, {"a": 1.0})]      # unchanged counts: merged
    assert _records(10, {10: 2}) == [(1.0, {"a": 1.0})]             # after the last batch


def test_report_prices_training_from_the_recorded_segments():
    model = build_model("lenet300", (1, 28, 28), 10)
    f = layer_flops(model, (1, 28, 28))
    static = get("static")({n: 0.1 for n in f}, backend.host_rng(0))
    final = {n: 0.1 for n in f}
    segments = [(0.25, {n: 1.0 for n in f}), (0.75, final)]
    report = flops_report(model, (1, 28, 28), static, final, segments)
    assert report["train_multiplier"] == pytest.approx(0.25 * 1.0 + 0.75 * 0.1)
    assert report["inference_multiplier"] == pytest.approx(0.1)


def test_a_pruning_run_is_priced_between_its_final_sparse_cost_and_dense(tmp_path):
    from rigl_np.cli import main

    out = tmp_path / "run"
    assert main(["train", "--method", "pruning", "--dataset", "synthetic", "--epochs", "1",
                 "--delta-t", "5", "--sparsity", "0.9", "--out", str(out)]) == 0
    import json
    metrics = json.loads((out / "metrics.json").read_text())
    final = metrics["flops"]["inference_multiplier"]
    assert final < metrics["flops"]["train_multiplier"] < 1.0
