"""Wall-clock timings for the notebooks and benchmarks/: round-robin medians, the BLAS threads.

Host-side module (timing only, no arrays).

A shared machine's speed drifts from second to second (other jobs, turbo, cache). Timing one
function for all its repeats and then the next lets that drift land on one of them and turn a
ratio upside down; calling each function once per round, round after round, exposes all of
them to the same drift, so their ratios hold even when the milliseconds do not (the method of
``benchmarks/``). How many threads BLAS had changes every matrix-product time, so a table of
times says it (``blas_threads``).
"""
from __future__ import annotations

import os
import statistics
import time

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def round_robin(functions: dict, repeats: int, warmup: int = 2, before_each=None) -> dict:
    """``{name: median seconds of one call}``, the calls interleaved round-robin.

    1. ``warmup`` untimed calls of each (first-call costs: allocation, caches);
    2. ``repeats`` rounds, each calling every function once, in order, timed one by one
       (``before_each()``, untimed, before every timed call: a benchmark's cache eviction);
    3. the median of each function's times.
    """
    for fn in functions.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            if before_each is not None:
                before_each()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def blas_threads() -> str:
    """How many threads BLAS was told to use, and by what: "1 (OPENBLAS_NUM_THREADS=1)", or
    "2 (the default: one per core)" when no variable sets it."""
    for variable in THREAD_VARIABLES:
        if os.environ.get(variable):
            return f"{os.environ[variable]} ({variable}={os.environ[variable]})"
    return f"{os.cpu_count()} (the default: one per core)"
