"""Gradescope: grade the upload in ``<root>/submission`` and write ``<root>/results/results.json``.

    python -m grader.gradescope [ROOT]      (ROOT: default $MINIGRAD_AUTOGRADER_ROOT or /autograder)

This is what the autograder package's ``run_autograder`` runs (``nox -s gradescope``
builds the package, see tools/gradescope.py). Students upload either the engine's files
at the top (``scalar.py``, ``nn.py``, ...), or their repository (``src/minigrad/...``,
possibly inside one folder, as a GitHub upload or a zipped folder gives). The engine is
the shallowest folder holding ``scalar.py`` (a folder named ``minigrad`` first); its
``*.py`` files, and the ``tests/test_*.py`` of the project around it, are copied (regular
files only, never a link) into the layout the grader reads, then graded with every check.

``results.json`` follows Gradescope's specification; its top-level ``output`` is the
score line, the most likely mistake and the lab section to reread. Where the grader
itself fails (a bug of ours, a machine that cannot confine uploads), ``output`` says so
in the student's words, the details go to stdout (the instructor's), and the exit
status is 1 so that the failure shows. stdout also names the confinement in use. Lateness is left to
Gradescope's own due dates (it knows the upload time; there is no commit here).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from grader import i18n
from grader.discover import Submission
from grader.i18n import N_, _
from grader.integrity import settle
from grader.pipeline import grade_one
from grader.results import effective_status
from grader.rubric import RUBRIC
from grader.sandbox import Unconfined, confinement, without_namespaces

ENGINE_FILE = "scalar.py"
NAME = "submission"
MAX_DEPTH = 6


def _regular_files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.is_symlink())


def find_engine(upload: Path) -> Path | None:
    """The folder of the uploaded engine: the shallowest one holding ``scalar.py``."""
    found: list[tuple[int, int, str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(upload):  # never follows links
        here = Path(dirpath)
        depth = len(here.relative_to(upload).parts)
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith((".", "__")) and depth < MAX_DEPTH
        )
        if (
            ENGINE_FILE in filenames
            and not (here / ENGINE_FILE).is_symlink()
            and "tests" not in here.relative_to(upload).parts
        ):
            found.append((depth, here.name != "minigrad", str(here), here))
    return min(found)[3] if found else None


def stage(upload: Path, target: Path) -> str:
    """Copy the upload's engine (and tests) into ``target/src/minigrad``; '' or the problem."""
    engine = find_engine(upload)
    if engine is None:
        return _(
            "no {file} in your upload: upload the files of src/minigrad/ "
            "(scalar.py, nn.py, train.py, viz.py) or your whole repository"
        ).format(file=ENGINE_FILE)
    package = target / "src" / "minigrad"
    package.mkdir(parents=True)
    for path in _regular_files(engine, "*.py"):
        shutil.copyfile(path, package / path.name)
    project = engine.parent.parent if engine.parent.name == "src" else engine
    tests = project / "tests"
    if not tests.is_dir() and engine == upload:
        tests = upload / "tests"
    if tests.is_dir() and not tests.is_symlink():
        for path in _regular_files(tests, "*.py"):
            (target / "tests").mkdir(exist_ok=True)
            shutil.copyfile(path, target / "tests" / path.name)
    return ""


# What a student reads when the autograder itself failed: not their mistake, not final.
GRADER_FAILED = N_(
    "The autograder could not grade this upload. This is a problem on our side, not a "
    "mistake in your code, and the 0 shown is not your grade: your instructor sees this "
    "failure and will grade your upload again. You do not need to resubmit."
)


def run(root: Path) -> tuple[Path, bool]:
    """Grade ``root/submission``; write ``root/results/results.json``. Returns its path
    and whether the grader itself failed (results.json then says so, in the student's
    words; the details go to stdout, which only the instructor sees)."""
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    with i18n.language(RUBRIC.language):  # the course's: an upload names no language
        try:
            data, report, failed = _grade(root / "submission")
        except Exception:  # a bug of ours or a machine that cannot confine: never a quiet 0
            print(f"grader error:\n{traceback.format_exc()}")
            data, report, failed = {"score": 0, "tests": []}, "", True
        if failed:
            data["output"] = _(GRADER_FAILED)
            data["extra_data"] = {
                **data.get("extra_data", {}),
                "status": "grader_error",
                "language": i18n.current(),
            }
    data["output_format"] = "text"
    results.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(report)  # for the instructor: Gradescope keeps stdout (hidden from students)
    return results, failed


def _grade(upload: Path) -> tuple[dict[str, Any], str, bool]:
    """(results.json data, report.md, whether the grader failed) for one upload."""
    unconfined = confinement()  # raises Unconfined: no trusting uploads here
    if unconfined:
        raise Unconfined(unconfined)
    lacking = without_namespaces()
    print("confinement: " + (f"Landlock and seccomp only ({lacking})" if lacking else "namespaces"))
    with tempfile.TemporaryDirectory(prefix="minigrad-gs-") as tmp:
        staged = Path(tmp) / NAME
        staged.mkdir()
        problem = stage(upload, staged)
        graded = grade_one(Submission(NAME, staged, problem), Path(tmp) / "reports", None)
        data = json.loads((Path(tmp) / "reports" / NAME / "results.json").read_text())
        report = (Path(tmp) / "reports" / NAME / "report.md").read_text()
    data["extra_data"] = {**data.get("extra_data", {}), "status": effective_status(graded)}
    return data, report, effective_status(graded) == "grader_error"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else os.environ.get("MINIGRAD_AUTOGRADER_ROOT", "/autograder"))
    settle()  # a fresh container holds no bytecode: write none while grading
    path, failed = run(root)
    data = json.loads(path.read_text())
    if failed:
        print(f"wrote {path}: THE GRADER FAILED on this upload (see above); regrade it")
        return 1
    print(f"wrote {path}: score {data['score']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
