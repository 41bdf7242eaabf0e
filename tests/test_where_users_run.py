"""The grader where its users run it, following only the README, with the real nox:

- a student's released repository, with the virtualenv nox makes inside it;
- a checkout under /tmp, graded as root (with and without user namespaces; the
  Python is pyenv's under /root, which other users cannot read);
- a normal user, whose Python and checkout are in a home folder others cannot read.

Bytecode is written as on users' machines (this machine sets PYTHONDONTWRITEBYTECODE;
tests/places.py unsets it). The virtualenvs are real; they see this suite's packages
through a .pth file, so no test downloads PyTorch again (see tests/places.py).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest

from grader.child import pyview
from grader.discover import Submission
from grader.rubric import RUBRIC
from grader.score import run_checks
from tests import places
from tests.no_userns import LAUNCHER, as_user
from tools import release

ROOT = places.ROOT
ENGINE = ROOT / "reference" / "src" / "minigrad"
SESSION_SECONDS = 900


def run(argv: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=places.users_env(**extra),
        capture_output=True,
        text=True,
        timeout=SESSION_SECONDS,
    )
    assert done.returncode == 0, f"{argv}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def results(reports: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((reports / name / "results.json").read_text())
    return data


def submission(folder: Path, tests: list[str]) -> Path:
    """The reference engine as a student's folder, with some of the reference's tests."""
    shutil.copytree(ENGINE, folder / "src" / "minigrad")
    (folder / "tests").mkdir()
    for name in tests:
        shutil.copyfile(ROOT / "reference" / "tests" / name, folder / "tests" / name)
    return folder


def test_the_released_repository_grades_itself_with_its_own_venv(tmp_path: Path) -> None:
    """The student's `nox -s check` (the workflow's command) in a release with a correct
    engine pasted in and nox's venv inside the repository: every public point, and
    Classroom's reporter sees no error."""
    repo = tmp_path / "minigrad-student"
    assert release.main([str(repo)]) == 0
    for path in ENGINE.glob("*.py"):
        shutil.copyfile(path, repo / "src" / "minigrad" / path.name)
    venv = repo / ".nox" / "minigrad"
    places.venv(venv, sys.executable, places.SITE_DIRS, places.requirements_stamp(repo))
    assert (venv / "lib64").is_symlink()  # what tripped the submission's link rule
    said = run([places.nox(), "-s", "check", "--", "--out", "reports"], repo)
    assert "Session check was successful" in said.stderr
    graded = results(repo / "reports", "minigrad-student")
    public = sum(t["max_score"] for t in graded["tests"])
    assert public > 90 and graded["score"] == public, graded["output"]
    assert graded["extra_data"].get("status", "graded") != "invalid"
    line = run([str(venv / "bin" / "python"), "-m", "grader.classroom", "reports"], repo).stdout
    classroom = json.loads(base64.b64decode(line.strip().removeprefix("result=")))
    assert classroom["status"] == "pass"
    assert all(t["status"] == "pass" for t in classroom["tests"])
    assert sum(t["score"] for t in classroom["tests"]) == classroom["max_score"] == public
    # The student chooses Spanish in their pyproject.toml: the same points, in Spanish.
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('language = "en"', 'language = "es"'))
    said = run([places.nox(), "-s", "check", "--", "--out", "informes"], repo)
    assert "entrega(s) corregida(s)" in said.stdout + said.stderr
    spanish = results(repo / "informes", "minigrad-student")
    assert spanish["score"] == public and spanish["extra_data"]["language"] == "es"
    assert spanish["output"].startswith("Puntuación")
    report = (repo / "informes" / "minigrad-student" / "report.md").read_text()
    assert report.startswith("# Informe de minigrad")


@pytest.fixture(scope="module")
def clone_under_tmp() -> Any:
    """A checkout under /tmp with its shared environment in .nox/grader, made from
    this machine's Python (pyenv's, under /root)."""
    folder = Path(tempfile.mkdtemp(prefix="minigrad-clone-", dir="/tmp"))
    repo = places.checkout(folder / "minigrad-lab")
    stamp = places.requirements_stamp(repo)
    places.venv(repo / ".nox" / "grader", sys.executable, places.SITE_DIRS, stamp)
    yield repo
    shutil.rmtree(folder, ignore_errors=True)


HOSTS = {"namespaces": [], "no user namespaces": [sys.executable, LAUNCHER]}


@pytest.mark.skipif(os.geteuid() != 0, reason="grades as root (CI's case); the user's is below")
@pytest.mark.parametrize("host", HOSTS)
def test_a_checkout_under_tmp_grades_as_root(clone_under_tmp: Path, host: str) -> None:
    repo, prefix = clone_under_tmp, HOSTS[host]
    assert str(repo).startswith("/tmp/")  # hidden by the confinement's own /tmp
    out = f"reports-{host.replace(' ', '-')}"
    temp = Path(tempfile.mkdtemp(prefix="temp-", dir="/tmp"))  # the grader's TMPDIR,
    temp.chmod(0o755)  # open to every user like /tmp (uid 65534 must reach the sandbox)
    said = run([*prefix, places.nox(), "-s", "grade", "--", "--out", out], repo, TMPDIR=str(temp))
    assert ("Landlock and seccomp only" in said.stdout + said.stderr) is (host != "namespaces")
    skeleton = results(repo / out, "skeleton")
    assert skeleton["score"] == 0 and "Score 0 / 100" in skeleton["output"]
    folder = submission(repo.parent / f"ref-{host.replace(' ', '-')}", ["test_ops.py"])
    grade = [*prefix, places.nox(), "-s", "grade", "--", str(folder), "--out", out]
    run(grade, repo, TMPDIR=str(temp))
    graded = results(repo / out, folder.name)
    assert graded["score"] > 100, graded["output"]  # every point, and the tests' bonus
    assert not list(temp.iterdir())  # nothing left behind, the Python view neither
    temp.rmdir()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make the user")
def test_a_normal_user_grades_from_a_home_others_cannot_read(tmp_path: Path) -> None:
    """A user's own Python (a venv of the system's python3.11) and checkout, in a home
    folder of mode 700: `nox -s grade` grades the skeleton and a correct submission."""
    runas, why = as_user()
    assert runas, why
    user = runas[-2]
    system_python = shutil.which("python3.11", path="/usr/bin:/usr/local/bin")
    assert system_python, "the system's python3.11 (which users can run) is needed"
    home = Path(tempfile.mkdtemp(prefix="minigrad-home-", dir="/var/tmp"))
    try:
        # nox, for that user: where the README's `pip install nox` put it, seen through a
        # view (pyenv's site-packages, under /root, are closed to other users)
        nox_site = places.nox_site()
        view = pyview.build([nox_site], str(home / "tools"))
        own = places.venv(home / "venv", system_python, [*places.SITE_DIRS, view[nox_site]])
        repo = places.checkout(home / "minigrad-lab")
        stamp = places.requirements_stamp(repo)
        places.venv(repo / ".nox" / "grader", system_python, places.SITE_DIRS, stamp)
        submission(home / "mine", ["test_ops.py"])
        places.give(home, user)
        home.chmod(0o700)
        as_them = [*runas, "env", f"HOME={home}", str(own), "-m", "nox", "-s", "grade", "--"]
        run([*as_them, "--out", "reports"], repo)
        assert results(repo / "reports", "skeleton")["score"] == 0
        run([*as_them, str(home / "mine"), "--out", "reports"], repo)
        assert results(repo / "reports", "mine")["score"] > 100
    finally:
        shutil.rmtree(home, ignore_errors=True)


BUSY_LOOPS = 8  # on this 2-core machine: each process gets a fifth of a core
TINY_SUITE = """
from minigrad.scalar import Value


def test_product_and_sum_gradients():
    a, b = Value(2.0), Value(-3.0)
    (a * b + a).backward()
    assert (a.grad, b.grad) == (-2.0, 2.0)


def test_tanh_value_and_gradient():
    x = Value(0.5)
    y = x.tanh()
    y.backward()
    assert abs(y.data - 0.46211715726000974) < 1e-12
    assert abs(x.grad - (1 - y.data**2)) < 1e-12
"""


def _class(folder: Path) -> Path:
    """Correct, buggy, hanging (a loop and a sleep) and tested engines, as a batch."""
    from grader.mistakes import VARIANTS, materialize

    for vid in ("bug-mul-wrong-operand", "bug-backward-late-closure"):
        variant = next(v for v in VARIANTS if v.id == vid)
        materialize(variant, folder / vid)
    submission(folder / "correct-with-tests", [])
    (folder / "correct-with-tests" / "tests" / "test_mine.py").write_text(TINY_SUITE)
    for name, slow in (
        ("loops-in-neg", "while True:\n            pass"),
        ("sleeps-in-exp", "import time\n        time.sleep(3600)"),
    ):
        shutil.copytree(ENGINE, folder / name / "src" / "minigrad")
        scalar = folder / name / "src" / "minigrad" / "scalar.py"
        op = "__neg__" if name == "loops-in-neg" else "exp"
        text = scalar.read_text()
        head = f"    def {op}(self"
        start = text.index(head)
        body = text.index(":\n", start) + 2
        scalar.write_text(text[:body] + f"        {slow}\n" + text[body:])
    return folder


# Hangs cost their request's limit: 2 s here (not the rubric's 10 s) to keep this short.
FAST = dataclasses.replace(RUBRIC, limits=dataclasses.replace(RUBRIC.limits, request_seconds=2.0))
LABS = {"lab01", "lab02", "bonus"}


def _grade(folder: Path) -> list[tuple[str, str, float]]:
    """Every check's status and points, and the total (graded as the grader does)."""
    graded = run_checks(Submission(folder.name, folder), rubric=FAST, labs=LABS)
    return [(o.id, o.status, o.score) for o in graded.outcomes] + [
        ("total", graded.status, graded.final_score)
    ]


def _grade_all(batch: Path) -> dict[str, list[tuple[str, str, float]]]:
    folders = sorted(p for p in batch.iterdir() if p.is_dir())
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("fork")) as pool:
        return dict(zip([f.name for f in folders], pool.map(_grade, folders), strict=True))


def test_the_same_class_gets_the_same_grades_on_a_busy_machine(tmp_path: Path) -> None:
    """Graded quietly, then with BUSY_LOOPS processes spinning on the two cores: the
    same status and points for every check of every submission, to the last point."""
    batch = _class(tmp_path / "class")
    quiet = _grade_all(batch)
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BUSY_LOOPS)
    ]
    try:
        busy = _grade_all(batch)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert quiet == busy
    total = {name: checks[-1][2] for name, checks in quiet.items()}
    assert len(total) == 5 and total["correct-with-tests"] > 68  # every point, and a bonus
    assert 0 < total["loops-in-neg"] < 68 and 0 < total["sleeps-in-exp"] < 68
    assert 0 < total["bug-mul-wrong-operand"] < 68
