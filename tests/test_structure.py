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


def _modules() -> dict[str, Path]:
    modules = {}
    for path in GRADER.rglob("*.py"):
        parts = path.relative_to(GRADER.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> dict[str, list[int]]:
    """Every grader module ``name`` imports, anywhere in the file (at module level, in
    functions, under ``if TYPE_CHECKING``), with the lines where it imports it at
    other than module level (an empty list: only at module level)."""

    def owner(target: str) -> str:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target

    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found: dict[str, list[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grader"):
            targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.startswith("grader")]
        else:
            continue
        for dep in {owner(t) for t in targets} - {"", name}:
            if not name.startswith(dep + "."):  # a package importing its own modules
                lines = found.setdefault(dep, [])
                if id(node) not in top:
                    lines.append(node.lineno)
    return found


# Imports made inside functions, each for a reason: a heavy optional dependency loaded
# only when needed. (grader/child/ is a separate program, started as a script: it
# imports its own modules in the order its set-up needs them, see worker.main.)
LATE_IMPORTS = {("grader.checks.base", "grader.expect")}  # PyTorch, for a drawing


def test_no_import_cycle_in_the_grader() -> None:
    """Counting every import, inside functions too: the layers only point down."""
    modules = _modules()
    graph = {n: set(_imports(n, p, modules)) for n, p in modules.items()}
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


def test_imports_inside_functions_are_only_the_listed_heavy_ones() -> None:
    modules = _modules()
    late = {
        (name, dep)
        for name, path in modules.items()
        if not name.startswith("grader.child")
        for dep, lines in _imports(name, path, modules).items()
        if lines
    }
    assert late == LATE_IMPORTS


MAX_MODULE_LINES = 600


def test_every_grader_module_is_of_a_readable_size() -> None:
    """No Python file under grader/ is over MAX_MODULE_LINES lines (split it by topic)."""
    long = {
        str(path.relative_to(GRADER)): lines
        for path in sorted(GRADER.rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"over {MAX_MODULE_LINES} lines: {long}"
