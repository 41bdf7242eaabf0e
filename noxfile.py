"""Sessions of the minigrad-lab repository. Each is thin: the logic lives in modules.

nox -s grade      grade the bundled skeleton, or submissions given after --
nox -s check      the public checks only (what a student runs), fast feedback
nox -s tests      the project's own tests (reference, skeleton, grader)
nox -s lint       ruff check and ruff format --check
nox -s typecheck  mypy --strict on reference/, skeleton/, grader/ and tools/
nox -s skeleton   regenerate skeleton/ from the reference's solution markers
nox -s collect    clone a class's repositories at the deadline commit
nox -s export     the class grades as a Canvas, Moodle or plain CSV import file
nox -s gradescope build the Gradescope autograder zip
nox -s gradescope_image  build its image as Gradescope does (Docker) and grade uploads in it
nox -s release    write the student repository (public checks only), leak-checked
nox -s mutants    grade every planted-bug variant and print the kill matrix
nox -s bench      benchmarks that print numbers (engine, one grade, batches, hangs)

The sessions that run the grader (grade, check, tests, typecheck, mutants, bench) share
ONE virtualenv, ``.nox/grader`` (``requirements/tests.txt``: PyTorch is downloaded and
installed once, whatever sessions follow). nox gives each session its own virtualenv,
so those sessions run without one of nox's (``venv_backend="none"``) and ``grader_env``
keeps the shared one, reinstalling only when a requirements file changed. ``release``
needs no PyTorch: it runs in the shared environment when there is one, else in a plain
Python 3.11, installing nothing.

Exit status: nox reports any failing command as 1, so the sessions that run the grader's
commands (grade, check, collect, export) end nox with the command's own status when it
is 2 (a usage error: a bad option, roster, date or rubric), as ``python -m grader``
documents it; 0 and 1 pass through as they are.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests", "lint", "typecheck"]

PYTHON = "3.11"
HERE = Path(__file__).resolve().parent
SHARED = HERE / ".nox" / "grader"  # the one environment of every session that grades
REQUIREMENTS = "requirements/tests.txt"  # the grader's requirements, pytest, ruff, mypy
USAGE = 2  # the grader's exit status for a usage error


def _bin(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def _base_python(session: nox.Session) -> str:
    """A Python 3.11 to create the shared environment with."""
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which(f"python{PYTHON}")
    if found is None and sys.version_info >= (3, 11):
        session.warn(f"no python{PYTHON} found: using {sys.executable} (tested with {PYTHON})")
        return sys.executable
    if found is None:
        session.error(f"Python {PYTHON} is needed (install it, or run nox with it)")
    return found


def _stamp() -> str:
    digest = hashlib.sha256()
    for path in sorted((HERE / "requirements").glob("*.txt")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def grader_env(session: nox.Session) -> str:
    """Create or update the shared environment; return its Python.

    (nox looks programs up on its own PATH, not the session's: hence the full path.)
    """
    python = _bin(SHARED) / "python"
    stamp = SHARED / ".requirements-sha256"
    if not python.exists():
        session.run(_base_python(session), "-m", "venv", str(SHARED))
    want = _stamp()
    if not stamp.is_file() or stamp.read_text() != want:
        session.run(str(python), "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS)
        stamp.write_text(want)
    return str(python)


def run_command(session: nox.Session, *args: str) -> None:
    """Run one of the grader's commands; a usage error (status 2) ends nox with 2 too,
    where nox alone would turn every failure into 1."""
    try:
        session.run(*args)
    except Exception as exc:  # nox.command.CommandFailed, which carries the status
        if getattr(exc, "return_code", None) == USAGE:
            raise SystemExit(USAGE) from None
        raise


@nox.session(venv_backend="none")
def grade(session: nox.Session) -> None:
    """Grade submissions: `nox -s grade -- [SUBMISSION ...] [--out DIR] [--jobs N] [--lab LAB]`."""
    run_command(session, grader_env(session), "-m", "grader", *session.posargs)


@nox.session(venv_backend="none")
def check(session: nox.Session) -> None:
    """Fast feedback: only the public checks, on the skeleton or a given submission."""
    run_command(session, grader_env(session), "-m", "grader", "--public", *session.posargs)


@nox.session(venv_backend="none")
def release(session: nox.Session) -> None:
    """Write the student repository: `nox -s release -- OUT_DIR` (fails on any leak)."""
    if not session.posargs:
        session.error("give the folder to write: nox -s release -- OUT_DIR")
    shared = _bin(SHARED) / "python"  # has the answer key's PyTorch, if it was ever built
    python = str(shared) if shared.exists() else _base_python(session)
    session.run(python, "-m", "tools.release", *session.posargs)


@nox.session(venv_backend="none")
def collect(session: nox.Session) -> None:
    """Collect: `nox -s collect -- ROSTER.csv --deadline "2026-12-01 23:59" [--out DIR]`."""
    run_command(session, grader_env(session), "-m", "grader.collect", *session.posargs)


@nox.session(venv_backend="none")
def export(session: nox.Session) -> None:
    """Gradebook file: `nox -s export -- --format canvas|moodle|csv [--reports DIR]`."""
    run_command(session, grader_env(session), "-m", "grader.export", *session.posargs)


@nox.session(venv_backend="none")
def gradescope(session: nox.Session) -> None:
    """The Gradescope autograder package: `nox -s gradescope -- OUT.zip`."""
    if not session.posargs:
        session.error("give the zip to write: nox -s gradescope -- autograder.zip")
    session.run(grader_env(session), "-m", "tools.gradescope", *session.posargs)


@nox.session(venv_backend="none")
def gradescope_image(session: nox.Session) -> None:
    """Build the autograder image as Gradescope does and grade five uploads in it, each in a
    fresh container with Docker's default settings (tools/gradescope_image.py).

    Needs a Docker engine (not part of `nox -s tests`): without one it says why in one
    line and fails. The image build takes this machine's torch wheel (PIP_FIND_LINKS), a
    local stand-in for download.pytorch.org; the rest comes from PyPI.
    """
    python = grader_env(session)
    module = [python, "-m", "tools.gradescope_image"]
    why = session.run(*module, "--check", silent=True, success_codes=[0, 3])
    if why:
        session.error(str(why).strip())
    session.run(*module, *session.posargs)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Run the project's own tests (pass pytest options after --)."""
    session.run(grader_env(session), "-m", "pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install("-r", "requirements/tools.txt")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def typecheck(session: nox.Session) -> None:
    """mypy --strict, once per import root (reference and skeleton both hold `minigrad`)."""
    mypy = [grader_env(session), "-m", "mypy"]
    reference = {"MYPYPATH": "reference/src:reference/tests"}
    session.run(*mypy, "reference/src/minigrad", "reference/tests", env=reference)
    session.run(*mypy, "skeleton/src/minigrad", env={"MYPYPATH": "skeleton/src"})
    session.run(*mypy, "grader", "tools", "tests", env={"MYPYPATH": "reference/src"})


@nox.session(venv_backend="none")
def i18n(session: nox.Session) -> None:
    """Message catalogs: extract every message, update each language's .po, compile."""
    python = grader_env(session)
    session.run(python, "-m", "tools.i18n", *(session.posargs or ["update"]))


@nox.session(venv_backend="none")
def mutants(session: nox.Session) -> None:
    """Grade every planted-bug variant of the catalog and print the kill matrix."""
    session.run(grader_env(session), "-m", "grader.mistakes.matrix", *session.posargs)


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Benchmarks that print numbers: engine speed, grading time, batch throughput, and a
    class of distinct (mostly buggy) submissions."""
    python = grader_env(session)
    session.run(python, "bench/engine_speed.py")
    session.run(python, "bench/grade_speed.py")
    session.run(python, "bench/class_speed.py")


@nox.session(venv_backend="none")
def skeleton(session: nox.Session) -> None:
    """Regenerate skeleton/ from the reference, then check it is complete and leak-free."""
    session.run(sys.executable, "-m", "tools.skeleton", "write")
    session.run(sys.executable, "-m", "tools.skeleton", "check")
