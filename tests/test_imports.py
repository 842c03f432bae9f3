"""Light entry points stay light: `import fute`, the space module and `fute --help` do not load torch."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["fute", "fute.errors", "fute.space", "fute.hashing", "fute.cli"])
def test_importing_does_not_load_torch(module):
    code = f"import sys, {module}; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"], f"import {module} loads torch or transformers"


def test_the_lazy_api_is_still_there():
    import fute

    assert callable(fute.embed_dataset) and fute.TaskVector.__name__ == "TaskVector"
    assert {"embed_dataset", "rank", "Store"} <= set(dir(fute))
    with pytest.raises(AttributeError):
        fute.no_such_name  # noqa: B018


def _import_graph() -> dict[str, set[str]]:
    """fute's modules and the fute modules each imports anywhere in its file (top level, in functions, under
    TYPE_CHECKING), read from the source. Importing a submodule runs its package's ``__init__`` first, so a
    module also depends on the packages above it."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src"
    files = {}
    for p in (src / "fute").rglob("*.py"):
        parts = p.relative_to(src).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    graph: dict[str, set[str]] = {m: set() for m in files}
    for m, p in files.items():
        package = m if p.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                names = [base, *(f"{base}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                while name and name not in files:
                    name = name.rpartition(".")[0]
                while name:  # the module and every package above it
                    if name != m and name in files and not m.startswith(name + "."):
                        graph[m].add(name)
                    name = name.rpartition(".")[0]
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    """Each concept has one home, and homes depend one way: no set of modules imports each other in a circle
    (the package ``fute`` itself, whose lazy names point down into everything, is left out)."""
    graph = {m: deps - {"fute"} for m, deps in _import_graph().items() if m != "fute"}
    assert len(graph) > 40 and "fute.space" in graph["fute.methods.base"]
    assert _cycles(graph) == []
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the finder finds one


def test_the_leaves_stay_leaves():
    """space.py (vectors, cards, space ids) and errors.py import no plug-in, model or store code."""
    graph = _import_graph()
    assert graph["fute.errors"] <= {"fute"}
    assert graph["fute.space"] <= {"fute", "fute.errors", "fute.hashing", "fute.samples", "fute.surrogate"}


def test_bench_scripts_stand_alone():
    """Each benchmark script imports the package only: no other script, no test module, not the CLI (whose parsing
    lives in fute.options); what scripts share lives in the package (fute.evaluation)."""
    import ast
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "bench"
    siblings = {p.stem for p in bench.glob("*.py")}
    bad = []
    for script in sorted(bench.glob("*.py")):
        text = script.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] in siblings | {"tests"} or name.startswith(("fute.cli", "importlib")):
                    bad.append(f"{script.name}: {name}")
        if "sys.path.insert" in text or "spec_from_file_location" in text:
            bad.append(f"{script.name}: loads code by path")
    assert bad == []
