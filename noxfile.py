"""Sessions of the minigrad-lab repository. Each is thin: the logic lives in modules.

nox -s grade      grade the bundled skeleton, or submissions given after --
nox -s tests      the project's own tests (reference, skeleton, grader)
nox -s lint       ruff check and ruff format --check
nox -s typecheck  mypy --strict on reference/, skeleton/, grader/ and tools/
nox -s skeleton   regenerate skeleton/ from the reference's solution markers
nox -s collect    clone a class's repositories at the deadline commit
nox -s export     the class grades as a Canvas, Moodle or plain CSV import file
nox -s gradescope build the Gradescope autograder zip
"""

from __future__ import annotations

import sys

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests", "lint", "typecheck"]

PYTHON = "3.11"


@nox.session(python=PYTHON)
def grade(session: nox.Session) -> None:
    """Grade submissions: `nox -s grade -- [SUBMISSION ...] [--out DIR] [--jobs N] [--lab LAB]`."""
    session.install("-r", "requirements/grade.txt")
    session.run("python", "-m", "grader", *session.posargs)


@nox.session(python=PYTHON)
def check(session: nox.Session) -> None:
    """Fast feedback: only the public checks, on the skeleton or a given submission."""
    session.install("-r", "requirements/grade.txt")
    session.run("python", "-m", "grader", "--public", *session.posargs)


@nox.session(python=PYTHON)
def release(session: nox.Session) -> None:
    """Write the student repository: `nox -s release -- OUT_DIR` (fails on any leak)."""
    if not session.posargs:
        session.error("give the folder to write: nox -s release -- OUT_DIR")
    session.install("-r", "requirements/grade.txt")
    session.run("python", "-m", "tools.release", *session.posargs)


@nox.session(python=PYTHON)
def collect(session: nox.Session) -> None:
    """Collect: `nox -s collect -- ROSTER.csv --deadline ISO-TIME [--out submissions/]`."""
    session.install("-r", "requirements/grade.txt")
    session.run("python", "-m", "grader.collect", *session.posargs)


@nox.session(python=PYTHON)
def export(session: nox.Session) -> None:
    """Gradebook file: `nox -s export -- --format canvas|moodle|csv [--reports DIR]`."""
    session.install("-r", "requirements/grade.txt")
    session.run("python", "-m", "grader.export", *session.posargs)


@nox.session(python=PYTHON)
def gradescope(session: nox.Session) -> None:
    """The Gradescope autograder package: `nox -s gradescope -- OUT.zip`."""
    if not session.posargs:
        session.error("give the zip to write: nox -s gradescope -- autograder.zip")
    session.install("-r", "requirements/grade.txt")
    session.run("python", "-m", "tools.gradescope", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the project's own tests (pass pytest options after --)."""
    session.install("-r", "requirements/tests.txt")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install("-r", "requirements/tools.txt")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict, once per import root (reference and skeleton both hold `minigrad`)."""
    session.install("-r", "requirements/tests.txt")
    reference = {"MYPYPATH": "reference/src:reference/tests"}
    session.run("mypy", "reference/src/minigrad", "reference/tests", env=reference)
    session.run("mypy", "skeleton/src/minigrad", env={"MYPYPATH": "skeleton/src"})
    session.run("mypy", "grader", "tools", "tests", env={"MYPYPATH": "reference/src"})


@nox.session(python=PYTHON)
def mutants(session: nox.Session) -> None:
    """Grade every planted-bug variant of the catalog and print the kill matrix."""
    session.install("-r", "requirements/grade.txt")
    session.run("python", "-m", "grader.mistakes.matrix", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks that print numbers: engine speed, grading time, batch throughput."""
    session.install("-r", "requirements/tests.txt")
    session.run("python", "bench/engine_speed.py")
    session.run("python", "bench/grade_speed.py")


@nox.session(venv_backend="none")
def skeleton(session: nox.Session) -> None:
    """Regenerate skeleton/ from the reference, then check it is complete and leak-free."""
    session.run(sys.executable, "-m", "tools.skeleton", "write")
    session.run(sys.executable, "-m", "tools.skeleton", "check")
