"""Shared fixtures: every compute test runs once per backend.

``backend_name`` is parametrised over "numpy", "strict" (NumPy arrays, but the namespace refuses
what CuPy lacks, so NumPy-only calls fail here without a GPU) and "cupy" (skipped cleanly unless
CuPy and a CUDA device are present).
"""
import pytest

from rigl_np import backend


@pytest.fixture(params=["numpy", "strict", "cupy"])
def backend_name(request):
    if request.param == "cupy" and not backend.cupy_available():
        pytest.skip("CuPy with a CUDA device is not available")
    previous = backend.backend_name()
    backend.set_backend(request.param)
    yield request.param
    backend.set_backend(previous)
