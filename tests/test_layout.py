"""How the package is put together: imports run one way, down the layers, and every module stays
small.

The import graph of ``rigl_np`` has no cycle, so each module can be read knowing only the ones
below it. The graph counts every ``import`` in every module, lazy ones and a package
``__init__``'s own included, as Python runs them: importing ``rigl_np.data.dataset`` runs
``rigl_np/data/__init__.py`` first, and ``importlib.import_module(f"{__name__}.{name}")`` in an
``__init__`` imports any module of that package.
"""
import ast
from pathlib import Path

import rigl_np

PACKAGE = Path(rigl_np.__file__).parent
MAX_LINES = 300


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


def test_the_graph_sees_what_python_runs(tmp_path):
    """A package ``__init__``'s own imports (relative, absolute, an ``import_module`` loop) and
    the ``__init__`` that importing ``pkg.sub.x`` runs are all edges of the graph."""
    files = {"__init__.py": "",
             "a.py": "def f():\n    from pkg.sub.x import y\n",
             "sub/__init__.py": "from .x import y\nfrom pkg.sub import z\n",
             "sub/x.py": "from pkg import a\n", "sub/z.py": "",
             "auto/__init__.py": ("import importlib, pkgutil\nfor m in pkgutil.iter_modules("
                                  "__path__):\n    importlib.import_module(f'{__name__}.{m.name}')\n"),
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
