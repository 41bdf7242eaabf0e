"""Find submissions: a folder holding ``src/minigrad/``, or a folder of such folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class UsageError(Exception):
    """The command line names something the grader cannot use (one-line message)."""


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path
    problem: str = ""  # non-empty: not gradable (the report says why)


def is_submission(path: Path) -> bool:
    return (path / "src" / "minigrad").is_dir()


def find(paths: list[Path]) -> list[Submission]:
    """Submissions named on the command line, in a stable order with unique names."""
    found: list[Submission] = []
    for path in paths:
        if not path.exists():
            raise UsageError(
                f"no such folder: {path}. Give a folder that holds src/minigrad/ "
                "(one submission) or a folder of such folders."
            )
        if not path.is_dir():
            raise UsageError(f"{path} is a file; give the folder that holds src/minigrad/.")
        if is_submission(path):
            found.append(Submission(path.resolve().name, path))
            continue
        children = sorted(c for c in path.iterdir() if c.is_dir() and not c.name.startswith("."))
        batch = [c for c in children if is_submission(c)]
        if not batch:
            raise UsageError(
                f"wrong layout: {path} holds no src/minigrad/ and no sub-folder does. "
                f"A submission is a folder with src/minigrad/scalar.py in it."
            )
        for child in children:
            problem = (
                ""
                if is_submission(child)
                else (
                    f"{child.name}/ has no src/minigrad/ folder: put the package at "
                    f"{child.name}/src/minigrad/ and grade again"
                )
            )
            found.append(Submission(child.name, child, problem))
    return _unique(found)


def _unique(subs: list[Submission]) -> list[Submission]:
    seen: dict[str, int] = {}
    result = []
    for sub in subs:
        count = seen.get(sub.name, 0)
        seen[sub.name] = count + 1
        name = sub.name if count == 0 else f"{sub.name}-{count + 1}"
        result.append(Submission(name, sub.path, sub.problem))
    return result
