"""The one place that chooses between NumPy and CuPy.

Every compute function in rigl_np starts with ``xp = backend.array_module(*inputs)`` and then
uses only ``xp.*`` and array methods, so the same code runs on the CPU (NumPy) and on an NVIDIA
GPU (CuPy). This module is the only compute-side module allowed to import either library; a test
(``tests/test_backend.py``) parses the others and fails on a direct import.

What is here:
- ``set_backend("numpy" | "cupy")`` (default from the environment variable ``RIGL_NP_BACKEND``)
  and ``backend_name()``;
- ``xp()``: the module new arrays are made with;
- ``array_module(*arrays)``: the module that matches the given arrays; mixing NumPy and CuPy
  arrays is a clear error, never a silent copy;
- ``asarray`` (host data onto the backend) and ``to_numpy`` (back to the host);
- ``take_rows(a, indices)``: ``a.take(indices, axis=0)`` for indices known to be in range, by the
  fastest call each library has;
- ``host_rng(seed)``: every random draw happens on the host with a NumPy ``Generator`` and is
  moved to the backend afterwards, so NumPy and CuPy runs start from identical weights and masks.

There is a third, test-only backend, ``"strict"``: NumPy arrays, but ``array_module`` hands out a
stand-in namespace that refuses what CuPy does not offer (``errstate``, ``random``, ``ufunc.at``
such as ``add.at``, ...). Running the compute tests under it catches NumPy-only calls on a
machine without a GPU.
"""
from __future__ import annotations

import os
import types

import numpy

BACKENDS = ("numpy", "cupy", "strict")

_state = {"name": "numpy", "xp": numpy}


class BackendError(RuntimeError):
    """Raised for an unavailable backend or for arrays from two backends mixed in one call."""


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, or a CUDA runtime error without a driver/device
        return False


def set_backend(name: str) -> None:
    """Select where new arrays live: ``"numpy"`` (default), ``"cupy"`` or the test-only ``"strict"``."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "cupy":
        if not cupy_available():
            raise BackendError("backend 'cupy' needs CuPy and a CUDA device; install cupy-cuda12x "
                               "(or your CUDA's wheel) on a GPU machine, or use --backend numpy")
        import cupy
        _state.update(name="cupy", xp=cupy)
    elif name == "strict":
        _state.update(name="strict", xp=STRICT)
    else:
        _state.update(name="numpy", xp=numpy)


def backend_name() -> str:
    """The name of the selected backend."""
    return _state["name"]


def xp():
    """The array namespace new arrays are created with (``numpy``, ``cupy`` or the strict stand-in)."""
    return _state["xp"]


def _is_cupy(a) -> bool:
    return type(a).__module__.startswith("cupy")


def array_module(*arrays):
    """The array namespace matching ``arrays`` (ignoring ``None`` and Python scalars).

    Raises ``BackendError`` when NumPy and CuPy arrays are mixed: that is a bug in the caller (a
    host array was never moved with ``asarray``), and a silent transfer would hide it.
    """
    kinds = set()
    for a in arrays:
        if a is None or isinstance(a, (int, float, bool)):
            continue
        kinds.add("cupy" if _is_cupy(a) else "numpy")
    if len(kinds) > 1:
        raise BackendError("NumPy and CuPy arrays were mixed in one call; move host arrays to the "
                           "backend with rigl_np.backend.asarray(...) first")
    if "cupy" in kinds:
        import cupy
        return cupy
    return STRICT if _state["name"] == "strict" else numpy


def asarray(a, dtype=None):
    """Move ``a`` (host array, list, scalar or backend array) to the selected backend."""
    if _state["name"] == "cupy":
        import cupy
        return cupy.asarray(a, dtype=dtype)
    if _is_cupy(a):
        a = a.get()
    return numpy.asarray(a, dtype=dtype)


def to_numpy(a) -> numpy.ndarray:
    """Bring an array back to the host as a NumPy array (no copy when it already is one)."""
    if _is_cupy(a):
        return a.get()
    return numpy.asarray(a)


def take_rows(a, indices, out=None):
    """``a.take(indices, axis=0, out=out)`` for ``indices`` already known to lie in ``[0, len(a))``.

    NumPy's default ``mode="raise"`` checks every index on a slow path; ``mode="wrap"`` returns
    the same rows for in-range indices and gathers faster (measured here: 1.5 instead of 2.7 ns
    per element from a 4096-float source in cache). CuPy's ``take`` has no ``mode`` (it wraps).
    """
    if _is_cupy(a):
        return a.take(indices, axis=0, out=out)
    return a.take(indices, axis=0, out=out, mode="wrap")


def host_rng(seed) -> numpy.random.Generator:
    """A NumPy ``Generator`` on the host; every random draw in rigl_np comes from one of these."""
    return numpy.random.default_rng(seed)


def to_scalar(a) -> float:
    """A Python float from a 0-d array of either backend (one device sync on CuPy)."""
    return float(to_numpy(a))


# ---------------------------------------------------------------------------------------------
# The strict stand-in: NumPy underneath, but only what CuPy also offers.
# ---------------------------------------------------------------------------------------------
_REFUSED = {
    "errstate": "CuPy has no errstate; avoid producing inf/nan instead of silencing them",
    "seterr": "CuPy has no seterr",
    "random": "draw on the host with backend.host_rng(seed) and move the result with asarray",
    "lib": "numpy.lib helpers (stride tricks, ...) differ in CuPy; use slicing",
    "vectorize": "a Python-level loop; write array code",
    "apply_along_axis": "a Python-level loop; write array code",
    "frompyfunc": "not available in CuPy",
    "nditer": "not available in CuPy",
    "matrix": "not available in CuPy",
}


class _StrictUfunc:
    """A ufunc that computes like NumPy's but refuses the unbuffered ``.at`` method."""

    def __init__(self, ufunc):
        self._ufunc = ufunc

    def __call__(self, *args, **kwargs):
        return self._ufunc(*args, **kwargs)

    def __getattr__(self, attr):
        if attr == "at":
            raise BackendError(f"{self._ufunc.__name__}.at is NumPy-only (CuPy offers no ufunc.at); "
                               "write it as a loop of slices or a matrix product")
        return getattr(self._ufunc, attr)


class _Strict(types.ModuleType):
    def __getattr__(self, attr):
        if attr in _REFUSED:
            raise BackendError(f"numpy.{attr} is not CuPy-compatible: {_REFUSED[attr]}")
        value = getattr(numpy, attr)
        return _StrictUfunc(value) if isinstance(value, numpy.ufunc) else value


STRICT = _Strict("rigl_np_strict_numpy", "NumPy that refuses what CuPy does not offer (tests only).")

set_backend(os.environ.get("RIGL_NP_BACKEND", "numpy"))
