"""Run the hostile-submission tests and print what each attack met, as a Markdown table.

    python -m tools.hostile_table            # runs tests/test_hostile.py (several minutes)
    python -m tools.hostile_table -k fork    # extra arguments go to pytest

One row per attack: the attack batch of ``tests/test_hostile.py`` (``ATTACKS``, graded
as root and as an unprivileged user where the suite can drop to one, each on this machine
and as on a host that refuses user namespaces, ``tests/no_userns.py``) and the file's
other tests (run as whoever runs this). A cell says ``held`` when the test
passed in that leg, ``FAILED`` when it did not, and ``-`` when it did not run there.
The last column is how the attack is held: ``HELD_BY`` beside ``ATTACKS`` for the
batch, the test's docstring (first sentence) for the others.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests" / "test_hostile.py"
PER_ATTACK = "test_each_attack_ran_and_was_held"
LEGS = ("root", "user", "root_no_userns", "user_no_userns")
HEADS = ("root", "non-root", "root, no userns", "non-root, no userns")
NOT_ATTACKS = {"test_every_attack_says_how_it_is_held"}  # checks of the file itself


class Collect:
    """A pytest plugin: the outcome of every test's call (or of its setup, if that failed)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or report.failed:
            self.outcomes[report.nodeid] = "held" if report.passed else "FAILED"


def descriptions() -> tuple[dict[str, str], dict[str, str]]:
    """(HELD_BY of the test file, first sentence of each test's docstring), read with ast
    (importing the test file would set up its unprivileged user)."""
    tree = ast.parse(TESTS.read_text(encoding="utf-8"))
    held_by: dict[str, str] = {}
    docs: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "HELD_BY" for t in targets):
                assert node.value is not None
                held_by = ast.literal_eval(node.value)
        elif isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            doc = ast.get_docstring(node) or ""
            docs[node.name] = " ".join(doc.split(". ")[0].split())
    return held_by, docs


def rows(outcomes: dict[str, str]) -> list[tuple[str, ...]]:
    """(attack, one cell per leg of LEGS, how held) for every test that ran."""
    held_by, docs = descriptions()
    me = "root" if os.geteuid() == 0 else "user"
    table: dict[str, dict[str, str]] = {}
    how: dict[str, str] = {}
    for nodeid, outcome in outcomes.items():
        name, _, params = nodeid.split("::")[-1].partition("[")
        if name in NOT_ATTACKS:
            continue
        parts = params.rstrip("]").split("-") if params else []
        leg = next((p for p in parts if p in LEGS), me)
        others = [p for p in parts if p not in LEGS]
        if name == PER_ATTACK and others:
            attack = others[0]
            how[attack] = held_by.get(attack, "")
        else:
            attack = name.removeprefix("test_").replace("_", " ")
            attack += f" [{'-'.join(others)}]" if others else ""
            how[attack] = docs.get(name, "")
        cells = table.setdefault(attack, {})
        cells[leg] = "FAILED" if "FAILED" in (cells.get(leg), outcome) else outcome
    return [
        (attack, *(cells.get(leg, "-") for leg in LEGS), how[attack] or "(its name)")
        for attack, cells in sorted(table.items(), key=lambda kv: (kv[0] not in held_by, kv[0]))
    ]


def markdown(found: list[tuple[str, ...]]) -> str:
    def cell(text: str) -> str:
        return re.sub(r"\s+", " ", text).replace("|", "\\|")

    lines = ["| attack | " + " | ".join(HEADS) + " | outcome |", "|---" * (len(HEADS) + 2) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in found]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import pytest

    collect = Collect()
    code = pytest.main([str(TESTS), "-q", "-p", "no:cacheprovider", *argv], plugins=[collect])
    print()
    print(markdown(rows(collect.outcomes)))
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
