"""No import cycles: every module imports on its own in a fresh interpreter, and the graph of
module-level imports inside the package is acyclic (a lazy import inside a function is the only
sanctioned way to reach back, and it must not be needed to make a module importable)."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import matheval

PKG = Path(matheval.__file__).parent
# Scripts run in their own processes with their folder on sys.path, not modules of the package.
SCRIPTS = {"matheval.__main__", "matheval.grading._sympy_worker", "matheval.sandbox._child"}
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(PKG)], prefix="matheval.") if m.name not in SCRIPTS)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone_in_a_fresh_interpreter(module):
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _top_level_imports(path: Path, module: str) -> set[str]:
    """matheval modules imported at module level (not inside functions) by `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("matheval")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.startswith("matheval"):
                out.add(base)
                out |= {f"{base}.{a.name}" for a in node.names}
    return out


def test_module_level_import_graph_is_acyclic():
    files = {m: PKG.joinpath(*m.split(".")[1:]) for m in MODULES}
    paths = {m: (p / "__init__.py" if p.is_dir() else p.with_suffix(".py")) for m, p in files.items()}
    graph = {m: {d for d in _top_level_imports(paths[m], m) if d in paths and d != m} for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            # A package importing its own submodules is how packages work, not a cycle.
            if m.startswith(d + ".") and paths[d].name == "__init__.py":
                continue
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in MODULES:
        if m not in state:
            visit(m)
