"""What must never reach students, and the check that none of it reached a release.

Instructor-only: the reference solution's lines and files, the instructor's tests, the
skeleton lock, and the grader's instructor-only files (``INSTRUCTOR_ONLY``: the
planted-bug catalog, the hidden checks and their rubric), which the release leaves
out whole. ``leak_check`` looks for any of it, and for hidden check ids, in a release.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from grader import rubric
from tools import skeleton

ROOT = Path(__file__).resolve().parent.parent
GRADER = ROOT / "grader"
RUBRIC = GRADER / "rubric.toml"
MISTAKES_DIR = GRADER / "mistakes"
MISTAKES_CATALOG = MISTAKES_DIR / "catalog.toml"
PUBLIC = "visible"
# What the release leaves out of grader/ (whole files and folders, never edited).
INSTRUCTOR_ONLY = (MISTAKES_DIR, GRADER / "checks" / "hidden", GRADER / rubric.HIDDEN_NAME)

# Solution lines that the PUBLIC grader contains on purpose, per released file. Reviewed:
# grader/child/interpreter.py holds the grader's own textbook training loop (`train.engine_sgd`
# runs it on the student's engine; lab04 describes it step by step), whose lines
# coincide with lines of the reference `fit` and `zero_grad`.
ALLOWED_SOLUTION_LINES: dict[str, frozenset[str]] = {
    "grader/child/interpreter.py": frozenset(
        {
            "for _ in range(epochs):",
            "p.grad = 0.0",
            "loss.backward()",
            "p.data -= lr * p.grad",
            "losses: list[float] = []",
        }
    ),
}

SKIP_DIRS = {
    ".git",
    ".nox",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
}
FORBIDDEN_PARTS = {"reference": "the hidden reference solution"}
FORBIDDEN_NAMES = {"skeleton.lock": "the skeleton lock of the instructor repository"}


# ---------------------------------------------------------------- the rubric
def load_rubric(path: Path = RUBRIC) -> dict[str, Any]:
    """The rubric with the hidden checks' entries (grader/rubric_hidden.toml) merged in."""
    return rubric.merged(path)


def ids(raw: dict[str, Any], public: bool) -> list[str]:
    """The ids of the rubric's checks that students see (``public``) or must not see."""
    return [str(c["id"]) for c in raw.get("check", []) if is_public(c) == public]


def is_public(entry: dict[str, Any]) -> bool:
    return bool(entry.get("visibility", PUBLIC) == PUBLIC)


def files(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted(
        p
        for p in folder.rglob(pattern)
        if p.is_file()
        and not SKIP_DIRS.intersection(p.relative_to(folder).parts)
        and p.suffix != ".pyc"
    )


def instructor_only(path: Path) -> bool:
    return any(path == p or path.is_relative_to(p) for p in INSTRUCTOR_ONLY)


# ---------------------------------------------------------------- checking
def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def _digest(text: str) -> str:
    return hashlib.sha256(_normal(text).encode("utf-8")).hexdigest()


def solution_lines(reference: Path = skeleton.REFERENCE) -> dict[str, str]:
    """Solution line (stripped) -> where it comes from, like tools.skeleton.leaks.

    Code lines of the solution regions of every reference module, except lines that
    also appear outside the regions of any reference module (given code).
    """
    given: set[str] = set()
    found: dict[str, str] = {}
    for path in sorted(reference.glob("*.py")):
        given_text, regions = skeleton.split(path.read_text(encoding="utf-8"), str(path))
        given.update(line.strip() for line in given_text.splitlines())
        for region in regions:
            for line in region.lines:
                code = line.strip()
                if code and not code.startswith("#"):
                    found.setdefault(code, f"{path.name} {region.qualname}")
    return {code: where for code, where in found.items() if code not in given}


def instructor_files() -> dict[str, str]:
    """Digest of each instructor-only file -> its path in the course repository.

    The reference modules that hold solutions, the reference tests, the instructor's
    own tests, the skeleton lock and the grader's instructor-only files (the planted-bug
    catalog, the hidden checks and their rubric). Empty files do not count.
    """
    paths = [
        p
        for p in sorted(skeleton.REFERENCE.glob("*.py"))
        if skeleton.split(p.read_text(encoding="utf-8"))[1]
    ]
    paths += sorted((ROOT / "reference" / "tests").glob("*.py"))
    paths += sorted((ROOT / "tests").glob("*.py"))
    paths += [skeleton.LOCK, *(p for p in files(GRADER) if instructor_only(p))]
    return {
        _digest(p.read_text(encoding="utf-8")): p.relative_to(ROOT).as_posix()
        for p in paths
        if p.is_file() and _normal(p.read_text(encoding="utf-8"))
    }


def _lab_lines() -> set[str]:
    """Lines of the instructor's lab statements (they name the later checks on purpose)."""
    return {
        line.strip()
        for path in files(ROOT / "labs")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
    }


_QUOTED = re.compile(r"""(["'])(.+?)(?<!\\)\1""")


def leak_check(out_dir: Path) -> list[str]:
    """Every place in ``out_dir`` where something instructor-only shows (empty: none).

    Looked for in every text file (``.git`` and tool caches are skipped): instructor-
    only paths, copies of instructor-only files, solution lines (a whole line, or a
    whole quoted string, as in a catalog of planted bugs), hidden check ids (allowed only
    on lines of the lab statements, which announce the checks shown after the due date).
    """
    solutions = solution_lines()
    digests = instructor_files()
    hidden = ids(load_rubric(), public=False)
    hidden_re = re.compile(
        r"(?<![\w.])(" + "|".join(re.escape(cid) for cid in hidden) + r")(?![\w])"
    )
    lab_lines = _lab_lines()
    problems: list[str] = []
    for path in files(out_dir):
        rel = path.relative_to(out_dir).as_posix()
        parts = path.relative_to(out_dir).parts
        for part in parts[:-1]:
            if part in FORBIDDEN_PARTS:
                problems.append(f"{rel}: instructor-only folder {part}/ ({FORBIDDEN_PARTS[part]})")
        if parts[-1] in FORBIDDEN_NAMES:
            problems.append(f"{rel}: instructor-only file ({FORBIDDEN_NAMES[parts[-1]]})")
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        if _normal(text) and _digest(text) in digests:
            problems.append(f"{rel}: a copy of the instructor-only {digests[_digest(text)]}")
        allowed = ALLOWED_SOLUTION_LINES.get(rel, frozenset())
        for number, line in enumerate(text.splitlines(), 1):
            code = line.strip()
            quoted = [m.group(2).strip() for m in _QUOTED.finditer(code)]
            for candidate in dict.fromkeys([code, *quoted]):
                if candidate in solutions and candidate not in allowed:
                    problems.append(
                        f"{rel}:{number}: solution line of {solutions[candidate]}: {candidate!r}"
                    )
            if hidden and code not in lab_lines:
                for match in dict.fromkeys(hidden_re.findall(line)):
                    problems.append(f"{rel}:{number}: hidden check id {match!r}")
    return problems
