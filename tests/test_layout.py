"""How the package is put together: imports run one way, down the layers, and every module stays
small (library modules at most 300 lines, test files at most 400), and tests/README.md, the map
of the tests, stays whole.

The import graph of ``rigl_np`` has no cycle, so each module can be read knowing only the ones
below it. The graph counts every ``import`` in every module, lazy ones and a package
``__init__``'s own included, as Python runs them: importing ``rigl_np.data.dataset`` runs
``rigl_np/data/__init__.py`` first, and ``importlib.import_module(f"{__name__}.{name}")`` in an
``__init__`` imports any module of that package.
"""
import ast
import re
from pathlib import Path

import rigl_np

PACKAGE = Path(rigl_np.__file__).parent
TESTS = Path(__file__).parent
MAX_LINES = 300
MAX_TEST_LINES = 400

# The layers of rigl_np, lowest first: each top-level module or package of rigl_np/ in one.
LAYERS = (
    # 1. the ground: the exceptions and exit codes, the one atomic write and the one careful
    #    read, NumPy/CuPy, timing, child processes that die with their parent, typed options
    {"rigl_np", "errors", "atomic", "reading", "backend", "timing", "children", "options",
     "stopping"},
    # 2. the maths and the data: layers, models, optimizers, masks (selection, structures, the
    #    update record), RigL's phases, pruning's schedule, FLOPs
    {"functional", "nn", "models", "optim", "sparsity", "masks", "rigl", "srigl", "nm", "prune",
     "flops", "data"},
    # 3. the training methods, assembled from the maths
    {"methods"},
    # 4. one run's parts: its settings, the loop, checkpoints, the run folder (and an old one set
    #    aside by --overwrite), the results table
    {"config", "train", "checkpoint", "runfolder", "runcheck", "setaside", "results"},
    # 5. libraries that read what the layers below make: figures, verification, exercises
    {"viz", "verify", "exercises"},
    # 6. orchestration: one run end to end, a grid of runs (locally, or on a Dask cluster)
    {"experiment", "compare", "cluster"},
    # 7. the command line
    {"cli", "__main__"},
)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _with_packages(module: str) -> list:
    """``"a.b.c"`` -> ``["a", "a.b", "a.b.c"]``: what importing ``module`` runs."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _targets(node, name: str, package: str, modules: dict) -> list:
    """The module names one AST node of module ``name`` may import (``package``: where its
    relative imports start)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
        return [base] + [f"{base}.{a.name}" for a in node.names]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module" and node.args):
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return [arg.value]
        if (isinstance(arg, ast.JoinedStr) and arg.values
                and isinstance(arg.values[0], ast.FormattedValue)
                and getattr(arg.values[0].value, "id", None) == "__name__"):
            return [m for m in modules if m.rpartition(".")[0] == name]   # any of its modules
    return []


def _import_graph(root: Path = PACKAGE) -> dict:
    """``{module: the modules of package folder root it imports}``; a module's own packages are
    not counted (Python is already running them when it gets there)."""
    modules = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        own = set(_with_packages(name))
        graph[name] = {m for node in ast.walk(ast.parse(path.read_text()))
                       for t in _targets(node, name, package, modules) for m in _with_packages(t)
                       if m in modules and m not in own}
    return graph


def _cycle(graph: dict):
    """One import cycle as a list of module names, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_imports_run_one_way():
    graph = _import_graph()
    assert len(graph) > 20, "the package's modules were not found"
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _top(module: str) -> str:
    """``"rigl_np.viz.runs"`` -> ``"viz"``: the top-level module or package (or ``"rigl_np"``)."""
    return module.split(".")[1] if "." in module else module


def _layer(module: str) -> int:
    """The index in ``LAYERS`` of ``module``'s top-level module or package; -1 if in none."""
    return next((i for i, layer in enumerate(LAYERS) if _top(module) in layer), -1)


def _upward_imports(graph: dict) -> list:
    """``"a -> b"`` for each import of a module in a higher layer than the importer's."""
    return sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps
                  if _layer(b) > _layer(a))


def test_imports_go_down_the_layers():
    """A module imports only from its own layer of ``LAYERS`` or a lower one: the maths never
    imports a run's parts, the figure library (viz/) never imports compare, experiment or the
    command line, and only the command line imports everything. A new top-level module must be
    given a layer."""
    graph = _import_graph()
    unplaced = sorted({m for m in graph if _layer(m) < 0})
    assert not unplaced, f"modules in no layer of LAYERS (place them): {unplaced}"
    named = set().union(*LAYERS)
    assert sum(map(len, LAYERS)) == len(named), "a module is in two layers"
    gone = named - set(map(_top, graph))
    assert not gone, f"LAYERS names modules that are not in rigl_np/: {sorted(gone)}"
    upward = _upward_imports(graph)
    assert not upward, "imports of a higher layer (move what is shared down): " + ", ".join(upward)


def test_an_upward_import_is_found():
    assert _upward_imports({"rigl_np.viz.runs": {"rigl_np.compare"}}) == [
        "rigl_np.viz.runs -> rigl_np.compare"]
    assert _upward_imports({"rigl_np.compare": {"rigl_np.viz.runs", "rigl_np.errors"}}) == []


def test_the_graph_sees_what_python_runs(tmp_path):
    """A package ``__init__``'s own imports (relative, absolute, an ``import_module`` loop) and
    the ``__init__`` that importing ``pkg.sub.x`` runs are all edges of the graph."""
    files = {"__init__.py": "",
             "a.py": "def f():\n    from pkg.sub.x import y\n",
             "sub/__init__.py": "from .x import y\nfrom pkg.sub import z\n",
             "sub/x.py": "from pkg import a\n", "sub/z.py": "",
             "auto/__init__.py": ("import importlib, pkgutil\n"
                                  "for m in pkgutil.iter_modules(__path__):\n"
                                  "    importlib.import_module(f'{__name__}.{m.name}')\n"),
             "auto/one.py": "import pkg.a\n"}
    for file, text in files.items():
        (tmp_path / "pkg" / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / file).write_text(text)
    graph = _import_graph(tmp_path / "pkg")
    assert graph["pkg.a"] == {"pkg.sub", "pkg.sub.x"}
    assert graph["pkg.sub"] == {"pkg.sub.x", "pkg.sub.z"}
    assert graph["pkg.sub.x"] == {"pkg.a"}                  # not its own packages pkg, pkg.sub
    assert graph["pkg.auto"] == {"pkg.auto.one"}
    assert graph["pkg.auto.one"] == {"pkg.a"}
    assert _cycle(graph) == ["pkg.a", "pkg.sub", "pkg.sub.x", "pkg.a"]


def test_every_module_is_small():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by concept): {long}"


def test_every_test_file_is_short():
    long = {p.name: n for p in TESTS.glob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_TEST_LINES}
    assert not long, f"test files over {MAX_TEST_LINES} lines (split them by topic): {long}"


def _test_map() -> tuple:
    """tests/README.md read as (the files its list describes, every ``*.py`` it names, the
    modules of rigl_np/ its table has a row for)."""
    text = (TESTS / "README.md").read_text()
    listed = re.findall(r"^- `(\w+\.py)`:", text, flags=re.M)
    named = set(re.findall(r"`(test_[\w*]+\.py)`", text))          # test_verify_*.py too
    rows = {m for line in text.splitlines() if line.startswith("| `")
            for m in re.findall(r"`([\w.]+/?)`", line.split("|")[1])}
    return listed, named, rows


def test_the_map_of_the_tests_lists_every_file_and_names_only_real_ones():
    """tests/README.md has a line for each file of tests/ (and for nothing else), every test file
    it names exists, and its table has a row for every module and package of rigl_np/."""
    listed, named, rows = _test_map()
    files = sorted(p.name for p in TESTS.glob("*.py"))
    assert sorted(set(listed)) == sorted(listed), "a file is listed twice in tests/README.md"
    assert not set(files) - set(listed), ("files of tests/ missing from the list in "
                                          f"tests/README.md: {sorted(set(files) - set(listed))}")
    gone = {name for name in set(listed) | named if not list(TESTS.glob(name))}
    assert not gone, f"tests/README.md names test files that do not exist: {sorted(gone)}"
    modules = {p.name + ("/" if p.is_dir() else "") for p in PACKAGE.iterdir()
               if p.suffix == ".py" and p.name != "__init__.py"
               or p.is_dir() and (p / "__init__.py").exists()}
    assert not modules - rows, ("modules of rigl_np/ with no row in tests/README.md: "
                                f"{sorted(modules - rows)}")

