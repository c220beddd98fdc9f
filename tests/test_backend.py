"""The backend module: selection, mixing errors, the strict stand-in, and no stray imports."""
import ast
import pathlib

import numpy as np
import pytest

from rigl_np import backend

PACKAGE = pathlib.Path(backend.__file__).parent
HOST_SIDE = "host-side"         # what a module (or its package) says in its docstring to be one


def _declares_host_side(path) -> bool:
    """Host-side modules (file formats, plotting, the CLI) may use NumPy directly; they say so."""
    docs = [ast.get_docstring(ast.parse(path.read_text())) or ""]
    if path.name != "__init__.py" and (path.parent / "__init__.py").exists():
        docs.append(ast.get_docstring(ast.parse((path.parent / "__init__.py").read_text())) or "")
    return any(HOST_SIDE in doc.lower() for doc in docs)


def _compute_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "backend.py" and not _declares_host_side(path):
            yield path


def _imported_roots(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_compute_modules_do_not_import_numpy_or_cupy():
    modules = list(_compute_modules())
    assert len(modules) >= 5, "the compute modules were not found"
    offenders = [str(p.relative_to(PACKAGE)) for p in modules
                 if {"numpy", "cupy"} & set(_imported_roots(ast.parse(p.read_text())))]
    assert offenders == [], (f"import numpy/cupy only in backend.py and modules whose docstring "
                             f"says they are host-side; found in {offenders}")


def test_array_module_refuses_mixed_backends():
    class FakeCupyArray:  # looks like a CuPy array to the backend's type check
        pass
    FakeCupyArray.__module__ = "cupy._core.core"
    with pytest.raises(backend.BackendError, match="mixed"):
        backend.array_module(np.zeros(2), FakeCupyArray())


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(backend.BackendError, match="unknown backend 'torch'"):
        backend.set_backend("torch")


def test_cupy_backend_without_gpu_says_what_to_do():
    if backend.cupy_available():
        pytest.skip("a GPU is present")
    with pytest.raises(backend.BackendError, match="CuPy and a CUDA device"):
        backend.set_backend("cupy")


@pytest.mark.parametrize("call", [
    lambda xp: xp.errstate(all="ignore"),
    lambda xp: xp.random.default_rng(0),
    lambda xp: xp.add.at(np.zeros(3), [0, 0], 1.0),
])
def test_strict_stand_in_refuses_numpy_only_calls(call):
    with pytest.raises(backend.BackendError, match="CuPy"):
        call(backend.STRICT)


def test_strict_stand_in_computes_like_numpy():
    x = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(backend.STRICT.add(x, 1), x + 1)
    assert backend.STRICT.float32 is np.float32


def test_array_module_follows_selected_backend(backend_name):
    xp = backend.array_module(backend.asarray(np.zeros(2)))
    expected = {"numpy": np, "strict": backend.STRICT}.get(backend_name)
    if expected is not None:
        assert xp is expected
    assert np.array_equal(backend.to_numpy(backend.asarray([1.0, 2.0])), [1.0, 2.0])


def test_host_rng_is_seeded():
    a = backend.host_rng(3).standard_normal(4)
    b = backend.host_rng(3).standard_normal(4)
    assert np.array_equal(a, b)
