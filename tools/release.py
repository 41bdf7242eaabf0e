"""Build the student repository (the "release") from this course repository.

    python -m tools.release OUT_DIR

writes into OUT_DIR (new or empty; a lone ``.git`` is kept) what students get:

    README.md, noxfile.py, pyproject.toml, .gitignore   (from tools/release_templates/)
    .github/workflows/grade.yml                          (rendered by tools/workflow.py)
    labs/                  the lab statements, copied
    src/minigrad/          the skeleton (skeleton/src/minigrad), checked fresh first
    grader/                the grader with its PUBLIC part only (see below)
    requirements/          the pinned requirements, copied
    tests/test_example.py  a sample test of the student's own

The public grader is ``grader/`` without its instructor-only files (``INSTRUCTOR_ONLY``):
the hidden checks (``grader/checks/hidden/``) and their rubric
(``grader/rubric_hidden.toml``), and the catalog of planted-bug variants
(``grader/mistakes/``: copies of solution lines). Nothing is edited: the files shipped
are the instructor's, so a student's run and CI show exactly what the public checks do.
The student-facing explanations of the mistakes (``grader/diagnoses.toml``) ship.

Then the release is checked (``leak_check``, ``verify``); any finding fails the release
with exit status 1 and one line per finding (``path:line: what``). OUT_DIR must then
not be published. Exit status 2 is a usage error.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from grader import answer_key, rubric
from tools import skeleton
from tools.workflow import WORKFLOW_PATH, render_workflow

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).with_name("release_templates")
GRADER = ROOT / "grader"
RUBRIC = GRADER / "rubric.toml"
MISTAKES_DIR = GRADER / "mistakes"
MISTAKES_CATALOG = MISTAKES_DIR / "catalog.toml"
# What the release leaves out of grader/ (whole files and folders, never edited).
INSTRUCTOR_ONLY = (MISTAKES_DIR, GRADER / "checks" / "hidden", GRADER / rubric.HIDDEN_NAME)
PUBLIC = "visible"

# Released path -> template file (``{{name}}`` placeholders, see ``_values``).
TEMPLATE_FILES = {
    "README.md": "README.md",
    "noxfile.py": "noxfile.py.txt",
    "pyproject.toml": "pyproject.toml.txt",
    ".gitignore": "gitignore.txt",
    "tests/test_example.py": "test_example.py.txt",
}

# Solution lines that the PUBLIC grader contains on purpose, per released file. Reviewed:
# grader/child/worker.py holds the grader's own textbook training loop (`train.engine_sgd`
# runs it on the student's engine; lab04 describes it step by step), whose lines
# coincide with lines of the reference `fit` and `zero_grad`.
ALLOWED_SOLUTION_LINES: dict[str, frozenset[str]] = {
    "grader/child/worker.py": frozenset(
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


class ReleaseError(Exception):
    """The release cannot be built as asked (one-line message)."""


class TargetError(ReleaseError):
    """OUT_DIR cannot receive a release (a usage error)."""


# ---------------------------------------------------------------- the rubric
def load_rubric(path: Path = RUBRIC) -> dict[str, Any]:
    """The rubric with the hidden checks' entries (grader/rubric_hidden.toml) merged in."""
    return rubric.merged(path)


def hidden_ids(raw: dict[str, Any]) -> list[str]:
    """Check ids that students must not see (visibility other than visible)."""
    return [str(c["id"]) for c in raw.get("check", []) if c.get("visibility", PUBLIC) != PUBLIC]


# ---------------------------------------------------------------- building
def _values(raw: dict[str, Any]) -> dict[str, str]:
    checks = [c for c in raw.get("check", []) if not c.get("extra_credit", False)]
    public = [c for c in checks if c.get("visibility", PUBLIC) == PUBLIC]
    later = [c for c in checks if c.get("visibility", PUBLIC) != PUBLIC]
    total = sum(c["points"] for c in checks)
    shown = sum(c["points"] for c in public)
    return {
        "total_points": f"{total:g}",
        "public_points": f"{shown:g}",
        "public_count": str(len(public)),
        "later_points": f"{total - shown:g}",
        "later_count": str(len(later)),
    }


def render_template(name: str, values: dict[str, str]) -> str:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        left = re.findall(r"\{\{\s*\w*\s*\}\}", text)
        raise ReleaseError(f"template {name}: no value for {left}")
    return text


def _files(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted(
        p
        for p in folder.rglob(pattern)
        if p.is_file()
        and not SKIP_DIRS.intersection(p.relative_to(folder).parts)
        and p.suffix != ".pyc"
    )


def _check_target(out_dir: Path) -> None:
    out = out_dir.resolve()
    if out == ROOT or ROOT in out.parents or out in ROOT.parents:
        raise TargetError(f"{out_dir}: give a folder outside the course repository {ROOT}")
    if out.exists() and (not out.is_dir() or any(p.name != ".git" for p in out.iterdir())):
        raise TargetError(f"{out_dir}: give a new or empty folder (a lone .git is kept)")


def _write(out_dir: Path, rel: str, text: str) -> None:
    target = out_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def build(out_dir: Path) -> None:
    """Write the student repository into ``out_dir`` (new or empty)."""
    _check_target(out_dir)
    stale = skeleton.check()
    if stale:
        raise ReleaseError("the skeleton is not releasable: " + "; ".join(stale))
    shown = tomllib.loads(RUBRIC.read_text(encoding="utf-8")).get("check", [])
    unlisted = [str(c.get("id")) for c in shown if c.get("visibility", PUBLIC) != PUBLIC]
    if unlisted:
        raise ReleaseError(f"{RUBRIC.name}: move {unlisted} to {rubric.HIDDEN_NAME}")
    raw = load_rubric()
    out_dir.mkdir(parents=True, exist_ok=True)

    for rel, template in TEMPLATE_FILES.items():
        _write(out_dir, rel, render_template(template, _values(raw)))
    _write(out_dir, WORKFLOW_PATH, render_workflow())
    for folder, target in (
        (ROOT / "labs", "labs"),
        (skeleton.SKELETON, "src/minigrad"),
        (ROOT / "requirements", "requirements"),
        (GRADER, "grader"),  # as is, less its instructor-only files
    ):
        for path in _files(folder):
            if not any(path == p or path.is_relative_to(p) for p in INSTRUCTOR_ONLY):
                dest = out_dir / target / path.relative_to(folder)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
    # The answer key of the public checks, so that a student's check needs no PyTorch
    # (none when this grader has no key and no PyTorch to build one: still correct).
    public = {str(c["id"]) for c in raw.get("check", []) if c.get("visibility", PUBLIC) == PUBLIC}
    key = answer_key.public_key(public, out_dir / "grader")
    if key is None:
        print("release: no answer key shipped (run `nox -s grade` once to build it)")
    else:
        _write(out_dir, f"grader/{answer_key.SHIPPED}", key.to_json(with_checks=False))


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
    own tests, the skeleton lock and the planted-bug catalog. Empty files do not count.
    """
    paths = [
        p
        for p in sorted(skeleton.REFERENCE.glob("*.py"))
        if skeleton.split(p.read_text(encoding="utf-8"))[1]
    ]
    paths += sorted((ROOT / "reference" / "tests").glob("*.py"))
    paths += sorted((ROOT / "tests").glob("*.py"))
    paths += [skeleton.LOCK, MISTAKES_CATALOG]
    return {
        _digest(p.read_text(encoding="utf-8")): p.relative_to(ROOT).as_posix()
        for p in paths
        if p.is_file() and _normal(p.read_text(encoding="utf-8"))
    }


def _lab_lines() -> set[str]:
    """Lines of the instructor's lab statements (they name the later checks on purpose)."""
    return {
        line.strip()
        for path in _files(ROOT / "labs")
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
    hidden = hidden_ids(load_rubric())
    hidden_re = re.compile(
        r"(?<![\w.])(" + "|".join(re.escape(cid) for cid in hidden) + r")(?![\w])"
    )
    lab_lines = _lab_lines()
    problems: list[str] = []
    for path in _files(out_dir):
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


VERIFY = """
import json
from grader.checks import REGISTRY
from grader.rubric import RUBRIC
print(json.dumps({"registry": sorted(REGISTRY), "rubric": sorted(RUBRIC.items)}))
"""


def verify(out_dir: Path) -> list[str]:
    """Problems with the released grader itself: it must import, and its registered
    checks must be exactly the public rubric's (run with this interpreter, which needs
    requirements/grade.txt installed)."""
    done = subprocess.run(
        [sys.executable, "-E", "-B", "-c", VERIFY],
        cwd=out_dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return [
            f"grader/: the released grader does not import: {last} (the release must run "
            "with requirements/grade.txt installed)"
        ]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    registry, rubric = set(found["registry"]), set(found["rubric"])
    problems = [
        f"grader/: check {c} is registered but not in the rubric" for c in registry - rubric
    ]
    problems += [f"grader/: check {c} is in the rubric but has no code" for c in rubric - registry]
    wanted = {
        str(c["id"])
        for c in load_rubric().get("check", [])
        if c.get("visibility", PUBLIC) == PUBLIC
    }
    if rubric != wanted:
        problems.append(f"grader/rubric.toml: lists {sorted(rubric ^ wanted)} wrongly")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m tools.release OUT_DIR", file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    try:
        build(out_dir)
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, TargetError) else 1
    problems = leak_check(out_dir) + verify(out_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"release FAILED: {len(problems)} problem(s); do not publish {out_dir}",
            file=sys.stderr,
        )
        return 1
    count = len(_files(out_dir))
    print(f"release written to {out_dir}: {count} files, no leak found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
