"""The grader's layout keeps its promises: reporters load nothing heavy, no module
imports itself back through another."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

GRADER = Path(__file__).resolve().parent.parent / "grader"


def test_writing_reports_imports_neither_torch_nor_hypothesis() -> None:
    code = (
        "import sys, grader.report, grader.render.html, grader.classview, grader.results\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'hypothesis')"
        " or m.startswith('grader.checks')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=GRADER.parent,
    )
    assert done.stdout.strip() == "[]"


def _module_imports(path: Path) -> set[str]:
    """Grader modules imported at module level (not inside functions)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grader"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("grader"))
    return found


def test_no_import_cycle_in_the_grader() -> None:
    modules = {}
    for path in GRADER.rglob("*.py"):
        parts = path.relative_to(GRADER.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {name: _module_imports(path) & set(modules) - {name} for name, path in modules.items()}
    # A package's __init__ importing its own submodules is not a cycle of concern.
    graph = {n: {d for d in deps if not n.startswith(d + ".")} for n, deps in graph.items()}
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*trail[trail.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


MAX_MODULE_LINES = 600


def test_every_grader_module_is_of_a_readable_size() -> None:
    """No Python file under grader/ is over MAX_MODULE_LINES lines (split it by topic)."""
    long = {
        str(path.relative_to(GRADER)): lines
        for path in sorted(GRADER.rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"over {MAX_MODULE_LINES} lines: {long}"
