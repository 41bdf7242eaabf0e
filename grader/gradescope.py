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
score line, the most likely mistake and the lab section to reread. Lateness is left to
Gradescope's own due dates (it knows the upload time; there is no commit here).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from grader.cli import grade_one
from grader.discover import Submission

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
        return (
            f"no {ENGINE_FILE} in your upload: upload the files of src/minigrad/ "
            "(scalar.py, nn.py, train.py, viz.py) or your whole repository"
        )
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


def run(root: Path) -> Path:
    """Grade ``root/submission``; write and return ``root/results/results.json``."""
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="minigrad-gs-") as tmp:
        staged = Path(tmp) / NAME
        staged.mkdir()
        problem = stage(root / "submission", staged)
        graded = grade_one(Submission(NAME, staged, problem), Path(tmp) / "reports", None)
        data = json.loads((Path(tmp) / "reports" / NAME / "results.json").read_text())
        report = (Path(tmp) / "reports" / NAME / "report.md").read_text()
    data["output_format"] = "text"
    data["extra_data"] = {**data.get("extra_data", {}), "status": graded.status}
    results.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(report)  # for the instructor: Gradescope keeps stdout (hidden from students)
    return results


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else os.environ.get("MINIGRAD_AUTOGRADER_ROOT", "/autograder"))
    path = run(root)
    data = json.loads(path.read_text())
    print(f"wrote {path}: score {data['score']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
