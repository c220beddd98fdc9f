"""The exercise notebooks (notebooks/exercises/) run from their own folder in a copy of the
repository without ``.git``: every solution notebook passes all its graders, and every student
notebook, as shipped, runs to the end with each grader answering "not implemented yet".

Notebooks run as tests/test_notebooks.py runs the others (nbclient, a fresh kernel of the Python
running the tests, ``OPENBLAS_NUM_THREADS=1``), with two differences:
- the working directory is ``notebooks/exercises/`` inside a temporary copy of ``rigl_np/`` and
  ``notebooks/exercises/`` (no ``.git``);
- the kernel starts with ``python -S`` and only the site-packages folders on ``PYTHONPATH``, so
  the editable install of rigl_np (a ``.pth`` file) is not seen and the notebook's first cell
  must find the copy two folders up, as it would on a machine where rigl_np is not installed.

Cells are tagged (cell metadata "tags"): "setup" (the first code cell), "stub" (the functions the
student writes), "grader" (each calls ``rigl_np.exercises.check``) and, in solution notebooks
only, "all-passed" (the last cell, which asserts that every grader passed). A solution notebook
differs from its student notebook in the stub cells and that last cell only. Notebooks are stored
without outputs (``jupyter nbconvert --clear-output --inplace notebooks/exercises/*.ipynb``).
"""
import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")        # the kernel the notebooks run in

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "notebooks" / "exercises"
PATHS = sorted(EXERCISES.glob("*.ipynb"))
SOLUTIONS = [p for p in PATHS if "solution" in p.name]
STUDENTS = [p for p in PATHS if "solution" not in p.name]
CELL_TIMEOUT = 120                      # seconds per cell; the whole notebook takes about one
KERNEL = "rigl-np-without-install"


def _tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def _solution_of(student: Path) -> Path:
    return student.with_name(student.stem + "_solution.ipynb")


def test_there_are_six_exercises_each_with_a_solution():
    assert len(STUDENTS) >= 6, f"exercise notebooks missing in {EXERCISES}"
    missing = [p.name for p in STUDENTS if not _solution_of(p).is_file()]
    assert not missing, f"no solution notebook for {missing}"
    assert len(SOLUTIONS) == len(STUDENTS)


@pytest.mark.parametrize("path", STUDENTS, ids=[p.name for p in STUDENTS])
def test_a_solution_differs_from_its_exercise_only_in_the_stubs(path):
    student = nbformat.read(path, as_version=4).cells
    solution = nbformat.read(_solution_of(path), as_version=4).cells
    first_code = next(c for c in student if c.cell_type == "code")
    assert "setup" in _tags(first_code) and "all-passed" in _tags(solution[-1])
    assert len(solution) == len(student) + 1
    for i, (a, b) in enumerate(zip(student, solution)):
        assert _tags(a) == _tags(b), f"cell {i}: tags {_tags(a)} vs {_tags(b)}"
        if "stub" not in _tags(a):
            assert a.source == b.source, f"cell {i} differs outside the stubs"
    stubs = [c for c in student if "stub" in _tags(c)]
    graders = [c for c in student if "grader" in _tags(c)]
    assert stubs and len(stubs) == len(graders)
    assert all("raise NotImplementedError" in c.source for c in stubs)
    assert all("check(" in c.source for c in graders)


def _isolated_kernel(folder: Path) -> None:
    """A kernel spec in ``folder``: this Python with -S, site-packages only on PYTHONPATH."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    paths = os.pathsep.join(site.getsitepackages() + [site.getusersitepackages()])
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL, "language": "python", "env": {"PYTHONPATH": paths}}))


@pytest.fixture
def copy_without_git(tmp_path, monkeypatch):
    """notebooks/exercises/ in a copy of the repository without .git; the isolated kernel."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "rigl_np", repo / "rigl_np",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(EXERCISES, repo / "notebooks" / "exercises")
    _isolated_kernel(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    return repo / "notebooks" / "exercises"


def _run(path: Path, folder: Path):
    """Execute the copy of ``path`` in ``folder``; (notebook, stdout of each cell)."""
    nb = nbformat.read(folder / path.name, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(folder)}})
    client.execute()                    # raises CellExecutionError naming the failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    texts = ["".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")
             if c.cell_type == "code" else "" for c in nb.cells]
    setup = next(t for c, t in zip(nb.cells, texts) if "setup" in _tags(c))
    assert setup == "", f"{path.name}: the setup cell did not find rigl_np: {setup}"
    return nb, texts


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_a_solution_notebook_passes_its_graders(path, copy_without_git):
    nb, texts = _run(path, copy_without_git)
    graders = [t for c, t in zip(nb.cells, texts) if "grader" in _tags(c)]
    assert graders and all(": PASSED - " in t for t in graders), graders
    assert "graders passed" in texts[-1]


@pytest.mark.parametrize("path", STUDENTS, ids=[p.name for p in STUDENTS])
def test_a_student_notebook_runs_to_the_end_with_its_stubs(path, copy_without_git):
    nb, texts = _run(path, copy_without_git)
    graders = [t for c, t in zip(nb.cells, texts) if "grader" in _tags(c)]
    assert graders and all(": FAILED - not implemented yet" in t for t in graders), graders


def test_the_setup_cell_says_what_to_do_without_the_repository(tmp_path):
    cells = nbformat.read(STUDENTS[0], as_version=4).cells
    setup = next(c.source for c in cells if "setup" in _tags(c))
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(site.getsitepackages()))
    run = subprocess.run([sys.executable, "-S", "-c", setup], cwd=folder, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "rigl_np was not found: open this notebook from notebooks/exercises/" in run.stdout
