"""Timing helpers (rigl_np.timing, also in rigl_np.viz): round-robin order and the BLAS thread
count a table's note reports."""
from rigl_np import timing, viz


def test_round_robin_interleaves_the_calls():
    order = []
    times = viz.round_robin({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                            repeats=3, warmup=1, before_each=lambda: order.append("-"))
    assert order == ["a", "b"] + ["-", "a", "-", "b"] * 3
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


def test_blas_threads_names_its_source(monkeypatch):
    for variable in timing.THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert viz.blas_threads().endswith("(the default: one per core)")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert viz.blas_threads() == "3 (OMP_NUM_THREADS=3)"
