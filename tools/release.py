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
(``grader/mistakes/``: copies of solution lines). Nothing else is edited but the message
catalogs (``grader/locale/``), which lose the hidden checks' messages: the files shipped
are the instructor's, so a student's run and CI show exactly what the public checks do.
The student-facing explanations of the mistakes (``grader/diagnoses.toml``) ship.

Then the release is checked (``leak_check`` of tools/leaks.py, and ``verify``); any
finding fails the release with exit status 1 and one line per finding
(``path:line: what``). OUT_DIR must then not be published. Exit status 2 is a usage
error.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from grader import answer_key, keybuild, rubric
from tools import i18n, skeleton
from tools.leaks import (
    GRADER,
    INSTRUCTOR_ONLY,
    ROOT,
    RUBRIC,
    files,
    ids,
    instructor_only,
    is_public,
    leak_check,
    load_rubric,
)
from tools.workflow import WORKFLOW_PATH, render_workflow

TEMPLATES = Path(__file__).with_name("release_templates")

# Released path -> template file (``{{name}}`` placeholders, see ``_values``).
TEMPLATE_FILES = {
    "README.md": "README.md",
    "noxfile.py": "noxfile.py.txt",
    "pyproject.toml": "pyproject.toml.txt",
    ".gitignore": "gitignore.txt",
    "tests/test_example.py": "test_example.py.txt",
}


class ReleaseError(Exception):
    """The release cannot be built as asked (one-line message)."""


class TargetError(ReleaseError):
    """OUT_DIR cannot receive a release (a usage error)."""


# ---------------------------------------------------------------- building
def _values(raw: dict[str, Any]) -> dict[str, str]:
    checks = [c for c in raw.get("check", []) if not c.get("extra_credit", False)]
    public = [c for c in checks if is_public(c)]
    later = [c for c in checks if not is_public(c)]
    total = sum(c["points"] for c in checks)
    shown = sum(c["points"] for c in public)
    return {
        "total_points": f"{total:g}",
        "public_points": f"{shown:g}",
        "public_count": str(len(public)),
        "later_points": f"{total - shown:g}",
        "later_count": str(len(later)),
        "language": rubric.RUBRIC.language,
    }


def render_template(name: str, values: dict[str, str]) -> str:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        left = re.findall(r"\{\{\s*\w*\s*\}\}", text)
        raise ReleaseError(f"template {name}: no value for {left}")
    return text


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
    unlisted = ids(tomllib.loads(RUBRIC.read_text(encoding="utf-8")), public=False)
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
        for path in files(folder):
            if not instructor_only(path):
                dest = out_dir / target / path.relative_to(folder)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
    # The catalogs without the hidden checks' text (its messages name what they test).
    private = tuple(str(p.relative_to(ROOT)) for p in INSTRUCTOR_ONLY)
    i18n.drop_private(out_dir / "grader" / "locale", private)
    # The answer key of the public checks, so that a student's check needs no PyTorch
    # (none when this grader has no key and no PyTorch to build one: still correct).
    key = keybuild.public_key(set(ids(raw, public=True)), out_dir / "grader")
    if key is None:
        print("release: no answer key shipped (run `nox -s grade` once to build it)")
    else:
        _write(out_dir, f"grader/{answer_key.SHIPPED}", key.to_json(with_checks=False))


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
    registry, listed = set(found["registry"]), set(found["rubric"])
    problems = [
        f"grader/: check {c} is registered but not in the rubric" for c in registry - listed
    ]
    problems += [f"grader/: check {c} is in the rubric but has no code" for c in listed - registry]
    wanted = set(ids(load_rubric(), public=True))
    if listed != wanted:
        problems.append(f"grader/rubric.toml: lists {sorted(listed ^ wanted)} wrongly")
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
    count = len(files(out_dir))
    print(f"release written to {out_dir}: {count} files, no leak found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
