"""The results table (rigl_np.results): one row per (model, method, distribution, sparsity),
spread only with seeds; a run that failed is a row of its own, named, and counted at the top."""
import csv
import io

import pytest

from rigl_np.results import summarise, to_csv, to_markdown


def _row(method, seed, accuracy, has_masks=True, dense_baseline=False):
    return dict(model="lenet300", method=method, distribution="erk", sparsity=0.9, seed=seed,
                test_accuracy=accuracy, global_density=0.1, train_flops=0.1, inference_flops=0.1,
                seconds=10.0, has_masks=has_masks, dense_baseline=dense_baseline, status="ok")


def test_one_seed_shows_no_spread_and_several_show_it():
    table = summarise([_row("rigl", 0, 0.8), _row("rigl", 1, 0.9), _row("static", 0, 0.85)])
    text = to_markdown(table, "2 run(s) at a time with 1 BLAS thread(s) each")
    rigl, static = (line for line in text.splitlines() if "| lenet300 |" in line)
    assert "85.00 ± 7.07 (n=2)" in rigl
    assert "85.00 (n=1)" in static and "±" not in static
    assert "2 run(s) at a time with 1 BLAS thread(s) each" in text


def test_methods_without_masks_have_no_distribution():
    table = summarise([_row("small-dense", 0, 0.8, has_masks=False), _row("rigl", 0, 0.8)])
    assert [t["distribution"] for t in table] == ["-", "erk"]


def _failed(method, seed, status):
    return {**_row(method, seed, None), "status": status,
            "run": f"lenet300-{method}-erk-0.9-seed{seed}"}


def test_a_run_that_failed_is_a_row_of_its_own_and_the_mean_says_n_of():
    table = summarise([_row("rigl", 0, 0.8), _failed("rigl", 1, "diverged: the loss became nan"),
                       _row("rigl", 2, 0.9), _failed("static", 0, "failed: busy | locked")])
    assert [(t["method"], t["status"], t["run"], t["seeds"]) for t in table] == [
        ("rigl", "ok", "", 2),
        ("rigl", "diverged: the loss became nan", "lenet300-rigl-erk-0.9-seed1", 0),
        ("static", "failed: busy | locked", "lenet300-static-erk-0.9-seed0", 0)]
    assert table[0]["accuracy_mean"] == pytest.approx(0.85) and table[1]["accuracy_mean"] is None
    text = to_markdown(table)
    assert text.startswith("**Incomplete: 2 of 4 runs failed**")
    rigl, diverged, static = (line for line in text.splitlines() if "| lenet300 |" in line)
    assert "| 85.00 ± 7.07 (n=2 of 3) |" in rigl and rigl.endswith("| ok |")
    assert diverged.endswith("| - | - | - | - | - | lenet300-rigl-erk-0.9-seed1 diverged: the "
                             "loss became nan |")
    assert static.endswith("| lenet300-static-erk-0.9-seed0 failed: busy \\| locked |")
    rows = list(csv.DictReader(io.StringIO(to_csv(table))))
    assert [r["global_density"] for r in rows] == ["0.1", "", ""]
    assert list(rows[0])[-1] == "seconds"          # still the last column


def test_a_table_of_finished_runs_says_nothing_failed():
    text = to_markdown(summarise([_row("rigl", 0, 0.8), _row("rigl", 1, 0.9)]))
    assert text.startswith("| model |") and "Incomplete" not in text and "(n=2)" in text
