"""Find submissions: a folder holding ``src/minigrad/``, or a folder of such folders."""

from __future__ import annotations

import os
import re
import stat
import string
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from grader.i18n import N_, _

# Files the grader writes beside the per-submission folders in the report folder.
CLASS_FILES = frozenset({"grades.csv", "summary.md", "index.html", "class.html", "report.md"})


class UsageError(Exception):
    """The command line names something the grader cannot use (one-line message)."""


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path
    problem: str = ""  # non-empty: not gradable (the report says why)
    lang: str = ""  # the language its reports are written in ("": the course's)


def is_submission(path: Path) -> bool:
    return (path / "src" / "minigrad").is_dir()


def find(paths: list[Path]) -> list[Submission]:
    """Submissions named on the command line, in a stable order with unique names."""
    found: list[Submission] = []
    for path in paths:
        if not path.exists():
            raise UsageError(
                _(
                    "no such folder: {path}. Give a folder that holds src/minigrad/ "
                    "(one submission) or a folder of such folders."
                ).format(path=path)
            )
        if not path.is_dir():
            raise UsageError(
                _("{path} is a file; give the folder that holds src/minigrad/.").format(path=path)
            )
        if is_submission(path):
            found.append(Submission(path.resolve().name, path, unsafe(path)))
            continue
        children = sorted(c for c in path.iterdir() if c.is_dir() and not c.name.startswith("."))
        batch = [c for c in children if is_submission(c)]
        if not batch:
            raise UsageError(
                _(
                    "wrong layout: {path} holds no src/minigrad/ and no sub-folder does. "
                    "A submission is a folder with src/minigrad/scalar.py in it."
                ).format(path=path)
            )
        for child in children:
            problem = unsafe(child) if is_submission(child) else NO_PACKAGE.format(name=child.name)
            found.append(Submission(child.name, child, problem))
    return _unique(found)


# The parts of a submission the grader reads (the package and the student's tests).
# Everything else in the folder is the student's tools' business (nox's in-tree
# virtualenv with its lib64 link, .git, reports/, caches) and is never read.
GRADED_PARTS = ("src", "tests")
# Folders that tools write inside those parts (pytest, mypy, ruff, hypothesis): skipped.
TOOL_CACHES = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}
)


def unsafe(folder: Path) -> str:
    """'' or why the submission is refused: a symlink or a special file (FIFO, device,
    socket) in the parts the grader reads, ``src/`` and ``tests/`` (git stores symlinks;
    one could point into the grader)."""
    if folder.is_symlink():
        return SYMLINK.format(path=folder.name)
    for part in GRADED_PARTS:
        if (folder / part).is_symlink():
            return SYMLINK.format(path=part)
        for top, dirs, files in os.walk(folder / part):
            dirs[:] = [d for d in dirs if d not in TOOL_CACHES]
            for name in dirs + files:
                path = Path(top) / name
                mode = path.lstat().st_mode
                if stat.S_ISLNK(mode):
                    problem = SYMLINK
                elif stat.S_ISDIR(mode) or stat.S_ISREG(mode):
                    continue
                else:
                    problem = SPECIAL
                return problem.format(path=path.relative_to(folder))
    return ""


# Why a submission is not gradable, as its report says it: written in English here (the
# discovery runs before a submission's language is known) and put into the submission's
# language by ``translated`` when its report is written.
NO_PACKAGE = N_(
    "{name}/ has no src/minigrad/ folder: put the package at {name}/src/minigrad/ and grade again"
)
SYMLINK = N_("{path} is a symlink: submissions may hold only regular files and folders")
SPECIAL = N_("{path} is a special file: submissions may hold only regular files and folders")
PROBLEMS = (NO_PACKAGE, SYMLINK, SPECIAL)


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """A regex matching ``template`` filled in (each {name} a group; repeats must agree)."""
    parts, seen = [], set()
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
        seen.add(name)
    return re.compile("".join(parts), re.DOTALL)


def translated(problem: str, templates: Iterable[str] = PROBLEMS) -> str:
    """``problem`` (English, made from one of ``templates``) in the current language;
    as is when no template made it."""
    for template in templates:
        found = _pattern(template).fullmatch(problem)
        if found:
            return _(template).format(**found.groupdict())
    return problem


def _unique(subs: list[Submission]) -> list[Submission]:
    seen: dict[str, int] = {}
    result = []
    for sub in subs:
        # Letters, digits and a few harmless marks: nothing Markdown, HTML or a terminal
        # would read as markup in the class view or the console.
        base = "".join(c if c.isalnum() or c in " ._-+@=,()'" else "_" for c in sub.name)
        if base.lower() in CLASS_FILES or base.startswith("."):
            base = f"{base.lstrip('.')}_submission"  # never over a class file
        count = seen.get(base, 0)
        seen[base] = count + 1
        name = base if count == 0 else f"{base}-{count + 1}"
        result.append(Submission(name, sub.path, sub.problem))
    return result


# ---------------------------------------------------------------- the tests it brings
MAX_FILE_BYTES = 1_000_000  # a larger .py file in a submission is not copied


def test_files(submission: Path) -> list[Path]:
    """The submission's ``tests/test_*.py``."""
    return [p for p in test_modules(submission) if p.name.startswith("test_")]


def test_modules(submission: Path) -> list[Path]:
    """``tests/*.py`` that are copied: test files and their helpers, never conftest.py."""
    folder = submission / "tests"
    return sorted(
        p
        for p in folder.glob("*.py")
        if p.name != "conftest.py"
        and p.is_file()
        and not p.is_symlink()
        and p.stat().st_size <= MAX_FILE_BYTES
    )


def read_tests(submission: Path) -> dict[str, bytes]:
    """File name -> content of the submission's test modules (regular files only)."""
    found = {}
    for path in test_modules(submission):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as handle:
            if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                found[path.name] = handle.read(MAX_FILE_BYTES)
    return found


def own_language(submission: Path) -> str:
    """The language a student chose in their repository: ``language`` under
    ``[tool.minigrad]`` in its pyproject.toml, as written ('' when none). Read as data,
    never followed through a link."""
    path = submission / "pyproject.toml"
    try:
        if path.is_symlink() or not path.is_file():
            return ""
        with path.open("rb") as handle:
            raw = tomllib.loads(handle.read(MAX_FILE_BYTES).decode("utf-8", "replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return ""
    tool = raw.get("tool", {})
    table = tool.get("minigrad", {}) if isinstance(tool, dict) else {}
    value = table.get("language", "") if isinstance(table, dict) else ""
    return value.strip() if isinstance(value, str) else ""
