"""The command line: a seconds-long run writes a complete run folder; bad options exit 2 cleanly."""
import json
import subprocess
import sys

import pytest

from rigl_np.cli import main


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rigl_np", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_train_on_synthetic_writes_the_run_folder(tmp_path):
    out = tmp_path / "run"
    code = main(["train", "--dataset", "synthetic", "--method", "rigl", "--epochs", "1",
                 "--delta-t", "5", "--sparsity", "0.8", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "history", "layer_density", "global_density", "mask_updates",
                "train_seconds", "flops"):
        assert key in metrics
    assert metrics["test_accuracy"] > 0.5
    assert 0.19 < metrics["global_density"] < 0.21
    assert metrics["mask_updates"] and metrics["mask_updates"][0]["step"] == 5
    assert json.loads((out / "config.json").read_text())["sparse"]["sparsity"] == 0.8
    assert (out / "history.csv").read_text().startswith("epoch,")


@pytest.mark.parametrize("args,message", [
    (["--sparsity", "1.0"], "--sparsity must lie in [0, 1)"),
    (["--sparsity", "-0.1"], "--sparsity must lie in [0, 1)"),
    (["--delta-t", "0"], "--delta-t must be at least 1"),
    (["--method", "lottery"], "invalid choice: 'lottery'"),
    (["--dataset", "imagenet"], "invalid choice: 'imagenet'"),
    (["--model", "cnn"], "--model cnn expects 3x32x32 images"),
    (["--epochs", "0"], "--epochs must lie in [1, 100000]"),
    (["--grad-accumulation", "100"], "--grad-accumulation 100 must be below --delta-t 100"),
    (["--delta-t", "1"], "rigl skips the optimizer step on those"),
])
def test_bad_options_exit_2_with_one_clear_line(args, message):
    result = _run("train", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_is_a_clear_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    from rigl_np.data import sources

    def offline(url, out):
        raise OSError("network unreachable")

    monkeypatch.setattr(sources, "fetch_url", offline)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("RIGL_NP_DATA", raising=False)
    code = main(["train", "--dataset", "mnist", "--epochs", "1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert str(tmp_path / "cache" / "rigl_np" / "mnist") in err
    assert err.splitlines()[-1].startswith("error: MNIST not found. To get it:")


def test_a_data_dir_without_the_data_is_refused_not_replaced_by_another_copy(tmp_path):
    result = _run("train", "--data-dir", str(tmp_path), "--epochs", "1",
                  "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--data-dir {tmp_path} (or its fashion-mnist subfolder) has none of" in result.stderr


def test_help_lists_every_option_group():
    result = _run("train", "--help")
    assert result.returncode == 0
    for flag in ("--dataset", "--model", "--method", "--distribution", "--sparsity", "--epochs",
                 "--batch-size", "--lr", "--momentum", "--weight-decay", "--delta-t", "--alpha",
                 "--t-end-fraction", "--grad-accumulation", "--seed", "--backend", "--data-dir",
                 "--out"):
        assert flag in result.stdout


def test_compare_writes_the_table_reuses_finished_runs_and_refuses_stale_ones(tmp_path):
    args = ["compare", "--dataset", "synthetic", "--epochs", "1", "--methods", "dense,rigl",
            "--sparsities", "0.8", "--seeds", "0", "--delta-t", "10", "--out", str(tmp_path)]
    first = _run(*args)
    assert first.returncode == 0, first.stderr
    table = (tmp_path / "results.md").read_text()
    assert "| lenet300 | dense | - | 0 |" in table and "| lenet300 | rigl | erk | 0.8 |" in table
    assert (tmp_path / "accuracy_vs_sparsity.png").exists()
    again = _run(*args)
    assert "2 done before, 0 to run" in again.stdout
    stale = _run(*args[:-4], "--delta-t", "20", "--out", str(tmp_path))
    assert stale.returncode == 2 and "holds a run with other settings (sparse.delta_t)" in stale.stderr


def test_cupy_backend_without_a_gpu_exits_2_with_advice():
    from rigl_np.backend import cupy_available
    if cupy_available():
        pytest.skip("a GPU is present")
    result = _run("train", "--backend", "cupy")
    assert result.returncode == 2 and "--backend cupy needs CuPy and a CUDA device" in result.stderr
