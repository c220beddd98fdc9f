"""The results table (rigl_np.results): one row per (model, method, distribution, sparsity),
spread only with seeds."""
from rigl_np.results import summarise, to_markdown


def _row(method, seed, accuracy, has_masks=True, dense_baseline=False):
    return dict(model="lenet300", method=method, distribution="erk", sparsity=0.9, seed=seed,
                test_accuracy=accuracy, global_density=0.1, train_flops=0.1, inference_flops=0.1,
                seconds=10.0, has_masks=has_masks, dense_baseline=dense_baseline)


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
