"""Every notebook runs top to bottom at smoke size, and is stored without outputs.

Each ``notebooks/*.ipynb`` is executed with nbclient in a fresh ``python3`` kernel, with the
working directory ``notebooks/`` and the environment variables
- ``RIGL_NP_SMOKE=1``: each notebook's size switch picks tiny data and few steps (seconds);
- ``OPENBLAS_NUM_THREADS=1``: the kernel does not compete with other tests for cores;
- ``TMPDIR``: a pytest temporary folder, where the notebooks put their run folders.

The kernel is the one of the Python running the tests: jupyter_client uses ipykernel's built-in
``python3`` spec (``sys.executable``) when none is installed, and replaces a ``python`` in an
installed spec by ``sys.executable``, so a fresh virtual environment needs no
``ipykernel install``.

Notebooks are committed without outputs or execution counts (Jupyter's "Clear All Outputs", or
``jupyter nbconvert --clear-output --inplace notebooks/*.ipynb``): readable diffs, and no stale
numbers.
"""
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")        # the kernel the notebooks run in

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT = 300                      # seconds per cell; smoke cells take a few


def test_there_are_notebooks():
    assert PATHS, f"no notebooks found in {NOTEBOOKS}"


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_has_no_stored_outputs(path):
    nb = nbformat.read(path, as_version=4)
    stored = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              and (cell.outputs or cell.execution_count is not None)]
    assert not stored, (f"{path.name}: code cells {stored} hold outputs or execution counts; "
                        "clear them (Jupyter: Clear All Outputs, then save; or "
                        f"jupyter nbconvert --clear-output --inplace {path})")


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_runs_at_smoke_size(path, monkeypatch, tmp_path):
    monkeypatch.setenv("RIGL_NP_SMOKE", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' run folders; pytest cleans up
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()                    # raises CellExecutionError naming the failing cell
    errors = [output for cell in nb.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
