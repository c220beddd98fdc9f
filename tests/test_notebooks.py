"""Every notebook runs top to bottom at smoke size, and is stored without outputs.

Each ``notebooks/*.ipynb`` is executed with nbclient in a fresh ``python3`` kernel, with the
working directory ``notebooks/`` and the environment variables
- ``RIGL_NP_SMOKE=1``: each notebook's size switch picks tiny data and few steps (seconds), and
  every slider cell (``viz.explore``) draws its static figure instead of widgets;
- ``OPENBLAS_NUM_THREADS=1``: the kernel does not compete with other tests for cores;
- ``TMPDIR``: a pytest temporary folder, where the notebooks put their run folders.
Notebooks with a ``RIGL_NP_PRECOMPUTED`` switch run a second time with it set: they must show
the saved runs of ``notebooks/precomputed/`` without training, and without writing there.

The kernel is the one of the Python running the tests: jupyter_client uses ipykernel's built-in
``python3`` spec (``sys.executable``) when none is installed, and replaces a ``python`` in an
installed spec by ``sys.executable``, so a fresh virtual environment needs no
``ipykernel install``.

The first code cell of a notebook that supports hosted Jupyter is one shared setup cell (the
one of 00_quickstart); it is run here in a plain interpreter without site-packages, from the
checkout (it must find the repository) and from elsewhere with no URL set (it must stop with one
clear line, and never reach the network).

Notebooks are committed without outputs or execution counts (Jupyter's "Clear All Outputs", or
``jupyter nbconvert --clear-output --inplace notebooks/*.ipynb``): readable diffs, and no stale
numbers.
"""
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")        # the kernel the notebooks run in

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
STORED = sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
PRECOMPUTED = [p for p in PATHS if "RIGL_NP_PRECOMPUTED" in p.read_text()]
CELL_TIMEOUT = 300                      # seconds per cell; smoke cells take a few
SETUP_HEADER = "# ---- setup: make rigl_np importable"


def code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def execute(path, monkeypatch, tmp_path, **env):
    """``path`` run top to bottom in a fresh kernel (module docstring); returns the notebook."""
    for name, value in {"RIGL_NP_SMOKE": "1", "OPENBLAS_NUM_THREADS": "1",
                        "TMPDIR": str(tmp_path), **env}.items():
        monkeypatch.setenv(name, value)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()                    # raises CellExecutionError naming the failing cell
    errors = [output for cell in code_cells(nb) for output in cell.outputs
              if output.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    return nb


def shown_images(cell) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.outputs)


def test_there_are_notebooks():
    assert PATHS, f"no notebooks found in {NOTEBOOKS}"


@pytest.mark.parametrize("path", STORED, ids=[str(p.relative_to(NOTEBOOKS)) for p in STORED])
def test_notebook_has_no_stored_outputs(path):
    nb = nbformat.read(path, as_version=4)
    stored = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              and (cell.outputs or cell.execution_count is not None)]
    assert not stored, (f"{path.name}: code cells {stored} hold outputs or execution counts; "
                        "clear them (Jupyter: Clear All Outputs, then save; or "
                        f"jupyter nbconvert --clear-output --inplace {path})")


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_runs_at_smoke_size(path, monkeypatch, tmp_path):
    nb = execute(path, monkeypatch, tmp_path)
    for cell in code_cells(nb):
        if "viz.explore(" in cell.source:   # a slider cell: its static figure, and what it says
            text = "".join(o.get("text", "") for o in cell.outputs)
            assert shown_images(cell) == 1 and "Static figure at" in text, cell.source[:80]


def folder_state(folder: Path) -> dict:
    return {p.relative_to(folder): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("path", PRECOMPUTED, ids=[p.name for p in PRECOMPUTED])
def test_notebook_shows_the_precomputed_runs(path, monkeypatch, tmp_path):
    saved = NOTEBOOKS / "precomputed"
    assert saved.is_dir(), "notebooks/precomputed/ is missing (notebooks/README.md says how)"
    before = folder_state(saved)
    nb = execute(path, monkeypatch, tmp_path, RIGL_NP_PRECOMPUTED="1")
    assert folder_state(saved) == before, "a notebook wrote into notebooks/precomputed/"
    text = "".join(o.get("text", "") for cell in code_cells(nb) for o in cell.outputs)
    assert "PRECOMPUTED=True" in text
    assert "epoch   1/" not in text                    # nothing was trained


def test_slider_cells_stay_static_in_a_kernel_without_a_front_end(monkeypatch, tmp_path):
    """A plain ``jupyter nbconvert --execute`` (nbclient, no RIGL_NP_SMOKE) gets the figure."""
    monkeypatch.delenv("RIGL_NP_SMOKE", raising=False)
    monkeypatch.delenv("RIGL_NP_STATIC", raising=False)
    source = ("%matplotlib inline\nfrom rigl_np import viz\n"
              "viz.explore(lambda alpha: viz.plot_drop_schedule(alpha, 10, 50, 60), "
              "alpha=viz.Slider(0.1, 0.5, 0.1, 0.3));")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT).execute()
    (cell,) = nb.cells
    kinds = {k for o in cell.outputs for k in o.get("data", {})}
    assert shown_images(cell) == 1
    assert "application/vnd.jupyter.widget-view+json" not in kinds


SETUP = next(c.source for c in code_cells(nbformat.read(NOTEBOOKS / "00_quickstart.ipynb", 4)))


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_the_setup_cell_is_the_shared_one_and_comes_first(path):
    cells = code_cells(nbformat.read(path, as_version=4))
    setups = [i for i, cell in enumerate(cells) if cell.source.startswith(SETUP_HEADER)]
    if setups:
        assert setups == [0], f"{path.name}: the setup cell must be the first code cell"
        assert cells[0].source == SETUP, f"{path.name}: copy the setup cell of 00_quickstart"


def run_setup(cwd, **env):
    """The setup cell in a fresh interpreter that ignores site-packages (rigl_np is not
    installed for it), in ``cwd``; returns the finished process."""
    return subprocess.run([sys.executable, "-S", "-c", SETUP], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_setup_cell_puts_the_checkout_on_the_path():
    assert SETUP.startswith(SETUP_HEADER)
    done = run_setup(NOTEBOOKS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"rigl_np from {NOTEBOOKS.parent}"


def test_setup_cell_without_a_checkout_or_url_says_what_to_set(tmp_path):
    done = run_setup(tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "rigl_np is not importable here: set RIGL_NP_REPO in this cell to the git URL of the "
        "rigl_np repository, then run the cell again"]
    assert not (tmp_path / "rigl_np_repo").exists()      # no clone was tried
