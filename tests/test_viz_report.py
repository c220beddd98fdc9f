"""``plot_runs`` (rigl_np.viz.report): which figures it writes for run folders and a compare
folder, and end to end on one real seconds-long run on the synthetic data set (rendering a PNG
takes a good fraction of a second, so the other tests check which figures it makes without
rendering them)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rigl_np import viz
from rigl_np.runfolder import load_snapshots
from rigl_np.viz import report
from rigl_np.viz.report import input_layer
from viz_fakes import fake_run, random_snapshots, results_table, update_records


@pytest.fixture
def no_png(monkeypatch):
    """Let plot_runs decide and draw, but skip rendering PNGs (slow; the real run renders)."""
    monkeypatch.setattr(report, "save", lambda fig, path: Path(path))


def test_plot_runs_writes_what_applies(tmp_path, no_png):
    rng = np.random.default_rng(0)
    rigl = fake_run(tmp_path / "rigl", "rigl", snapshots=random_snapshots(rng),
                    updates=update_records())
    srigl = fake_run(tmp_path / "srigl", "srigl", updates=update_records(neurons=True))
    dense = fake_run(tmp_path / "dense", "dense", accuracy=0.9)
    written = viz.plot_runs([rigl, srigl, dense], out_dir=tmp_path / "cmp")
    assert (rigl / "in_degree.gif").exists()
    names = {(p.parent.name, p.name) for p in written}
    for name in ("training_curves.png", "layer_densities.png", "update_counts.png",
                 "turnover_itop.png", "drop_schedule.png", "masks.png", "fan_histograms.png",
                 "in_degree.png", "in_degree.gif"):
        assert ("rigl", name) in names
    assert ("srigl", "active_neurons.png") in names and ("srigl", "masks.png") not in names
    assert {n for d, n in names if d == "dense"} == {"training_curves.png"}
    assert {n for d, n in names if d == "cmp"} == {
        "compare_training_curves.png", "accuracy_vs_sparsity.png", "accuracy_vs_flops.png",
        "flops_vs_time.png"}


def test_plot_runs_reads_a_compare_folder(tmp_path, no_png):
    results_table(tmp_path)
    fake_run(tmp_path / "runs" / "a", "dense")
    fake_run(tmp_path / "runs" / "b", "static")
    written = viz.plot_runs(tmp_path)
    assert tmp_path / "flops_vs_time.png" in written
    assert tmp_path / "runs" / "b" / "layer_densities.png" in written


def test_plot_runs_on_a_real_run(tmp_path):
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "rigl_np", "train", "--dataset", "synthetic",
                    "--epochs", "1", "--delta-t", "5", "--out", str(out)], check=True,
                   capture_output=True)
    written = viz.plot_runs(out)
    for name in ("training_curves.png", "layer_densities.png", "update_counts.png",
                 "turnover_itop.png", "masks.png", "fan_histograms.png", "in_degree.png",
                 "in_degree.gif"):
        assert out / name in written and (out / name).stat().st_size > 0
    snapshots = load_snapshots(out / "masks.npz")
    assert input_layer(snapshots[0], (1, 28, 28)) == "fc1.weight"
    with Image.open(out / "in_degree.gif") as gif:
        assert gif.n_frames == len(snapshots)
    fig = viz.plot_in_degree(snapshots, "fc1.weight", (1, 28, 28), max_frames=len(snapshots))
    frames = [ax for ax in fig.axes if ax.images]
    assert len(frames) == len(snapshots)
    for ax, (step, masks) in zip(frames, snapshots.items()):
        assert ax.get_title() == f"step {step}"
        np.testing.assert_array_equal(ax.images[0].get_array(),
                                      masks["fc1.weight"].sum(axis=0).reshape(28, 28))
