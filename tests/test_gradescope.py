"""The Gradescope autograder package, run as Gradescope runs it: ``run_autograder`` in a
folder laid out like ``/autograder`` (source/, submission/, results/), for both upload
layouts, its results.json checked against Gradescope's specification."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from grader.gradescope import GRADER_FAILED, find_engine
from tools import gradescope

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "reference" / "src" / "minigrad"
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
TOP_KEYS = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
}
TEST_KEYS = {
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def validate(data: dict[str, Any]) -> None:
    """Gradescope's autograder results format (its "Autograder Specifications" page):
    only its keys, with its types and enumerations."""
    assert set(data) <= TOP_KEYS, set(data) - TOP_KEYS
    assert isinstance(data["score"], int | float)  # required here: tests don't sum to it
    assert isinstance(data.get("execution_time", 0), int | float)
    assert isinstance(data["output"], str)
    assert data.get("output_format", "text") in FORMATS
    assert data.get("visibility", "visible") in VISIBILITY
    assert data.get("stdout_visibility", "hidden") in VISIBILITY
    assert isinstance(data.get("extra_data", {}), dict)
    assert isinstance(data["tests"], list)
    assert data["tests"] or data["extra_data"]["status"] == "grader_error"
    for test in data["tests"]:
        assert set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], int | float)
        assert isinstance(test["max_score"], int | float)
        assert test["status"] in {"passed", "failed"}
        assert test["visibility"] in VISIBILITY
        assert isinstance(test.get("number", ""), str)
        assert all(isinstance(t, str) for t in test.get("tags", []))
    json.dumps(data, allow_nan=False)  # plain JSON: no NaN or infinity


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("gs") / "autograder.zip"
    assert gradescope.main([str(target)]) == 0
    return target


def autograder(tmp: Path, package: Path) -> Path:
    """A folder laid out as Gradescope lays out /autograder before run_autograder."""
    root = tmp / "autograder"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(root / "source")
    shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    return root


def run_autograder(
    root: Path, without_userns: bool = False, status: int = 0, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run the package's run_autograder as a fresh Gradescope container does: the zip
    just unpacked (no bytecode) and ``PYTHONDONTWRITEBYTECODE`` unset, as on the
    container (this machine sets it). ``without_userns``: as in a container that refuses
    user namespaces (Gradescope's), where the grader confines without them."""
    python, prefix = sys.executable, []
    if without_userns:
        from tests.no_userns import LAUNCHER, readable_python

        python, why = readable_python()
        assert python, why
        prefix = [python, LAUNCHER]
    drop = {"PYTHONPATH", "PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in drop} | {
        "MINIGRAD_AUTOGRADER_ROOT": str(root),
        "MINIGRAD_PYTHON": python,
        **(env or {}),
    }
    assert not list((root / "source").rglob("__pycache__"))  # as unpacked
    done = subprocess.run(
        [*prefix, str(root / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == status, done.stdout[-2000:] + done.stderr[-2000:]
    assert "confinement: " in done.stdout or status  # the instructor sees which one
    data: dict[str, Any] = json.loads((root / "results" / "results.json").read_text())
    validate(data)
    return data


def test_the_package_holds_the_scripts_and_the_whole_grader(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "grader/rubric.toml", "grader/checks/ops.py"} <= names
    assert "grader/mistakes/catalog.toml" in names and "reference/src/minigrad/scalar.py" in names
    assert "requirements/grade.txt" in names and not [n for n in names if "__pycache__" in n]
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert "requirements/grade.txt" in setup and "download.pytorch.org/whl/cpu" in setup
    assert "torch==2.13.0" in (ROOT / "requirements" / "grade.txt").read_text()


HOSTS = ["this machine", "no user namespaces"]


@pytest.mark.parametrize("host", HOSTS)
def test_files_at_the_top_of_the_upload(tmp_path: Path, package: Path, host: str) -> None:
    root = autograder(tmp_path, package)
    for path in ENGINE.glob("*.py"):
        shutil.copyfile(path, root / "submission" / path.name)
    data = run_autograder(root, without_userns=host == "no user namespaces")
    assert data["score"] == 100  # confined either way: unconfined it would be a grader error
    assert data["output"].startswith("Score 100 / 100")
    assert len(data["tests"]) > 40  # every check, the hidden ones included
    assert {t["visibility"] for t in data["tests"]} > {"visible"}


@pytest.mark.parametrize("host", HOSTS)
def test_the_skeleton_scores_zero(tmp_path: Path, package: Path, host: str) -> None:
    root = autograder(tmp_path, package)
    for path in (ROOT / "skeleton" / "src" / "minigrad").glob("*.py"):
        shutil.copyfile(path, root / "submission" / path.name)
    data = run_autograder(root, without_userns=host == "no user namespaces")
    assert data["score"] == 0 and data["extra_data"]["status"] == "graded"
    assert data["output"].startswith("Score 0 / 100")


def test_a_repository_with_the_reference_tests_earns_the_extra_credit(
    tmp_path: Path, package: Path
) -> None:
    """A GitHub upload (one folder) of a correct engine with the reference's own tests:
    every point, and at least 4 of the 5 extra points within the default budgets. As in
    Gradescope's container (Docker refuses user namespaces); the same suite runs with
    namespaces in tests/test_student_tests.py."""
    root = autograder(tmp_path, package)
    repo = root / "submission" / "minigrad-bob-main"
    shutil.copytree(ENGINE, repo / "src" / "minigrad")
    shutil.copytree(ROOT / "reference" / "tests", repo / "tests")
    data = run_autograder(root, without_userns=True)
    bonus = next(t for t in data["tests"] if "tests.catch_mistakes" in t["name"])
    assert data["score"] >= 104, bonus["output"]
    assert bonus["score"] >= 4


def test_a_grader_failure_is_not_a_quiet_zero(tmp_path: Path, package: Path) -> None:
    """Where the grader fails (here: it cannot confine uploads), results.json says so in
    the student's words, with none of the grader's internals, and the exit status is 1."""
    root = autograder(tmp_path, package)
    for path in ENGINE.glob("*.py"):
        shutil.copyfile(path, root / "submission" / path.name)
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    # A sitecustomize that makes the confinement probe fail, as on a kernel without it.
    (blocker / "sitecustomize.py").write_text(
        "import grader.child.confine as c\n"
        "c.available = lambda: ('', 'the kernel offers no Landlock (test)')\n"
    )
    data = run_autograder(root, status=1, env={"PYTHONPATH": f"{root / 'source'}:{blocker}"})
    assert data["output"] == GRADER_FAILED and data["extra_data"]["status"] == "grader_error"
    assert "trust" not in data["output"] and "grader." not in data["output"]


def test_a_repository_upload_with_a_mistake(tmp_path: Path, package: Path) -> None:
    root = autograder(tmp_path, package)
    repo = root / "submission" / "minigrad-alice-main"  # a zipped folder / GitHub upload
    shutil.copytree(ENGINE, repo / "src" / "minigrad")
    (repo / "README.md").write_text("mine\n")
    scalar = repo / "src" / "minigrad" / "scalar.py"
    scalar.write_text(
        scalar.read_text().replace("other.grad -= out.grad", "other.grad += out.grad")
    )
    data = run_autograder(root)
    assert 0 < data["score"] < 100
    first, *rest = data["output"].splitlines()
    assert first == f"Score {data['score']:g} / 100"
    assert rest and rest[0].startswith("Most likely mistake: ")
    failed = [t for t in data["tests"] if t["status"] == "failed"]
    assert failed and all(t["score"] < t["max_score"] or not t["max_score"] for t in failed)


def test_an_upload_without_an_engine_is_not_graded_with_a_reason(
    tmp_path: Path, package: Path
) -> None:
    root = autograder(tmp_path, package)
    (root / "submission" / "notes.txt").write_text("oops\n")
    data = run_autograder(root)
    assert data["output"].startswith("Not graded: no scalar.py in your upload")
    assert data["extra_data"]["status"] == "invalid"


def test_find_engine_prefers_the_shallowest_minigrad_and_skips_tests(tmp_path: Path) -> None:
    for rel in ("a/src/minigrad", "a/tests/minigrad", "b/c/d/minigrad", "z"):
        (tmp_path / rel).mkdir(parents=True)
        (tmp_path / rel / "scalar.py").write_text("")
    assert find_engine(tmp_path) == tmp_path / "z"
    (tmp_path / "z" / "scalar.py").unlink()
    assert find_engine(tmp_path) == tmp_path / "a" / "src" / "minigrad"
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert find_engine(tmp_path / "nothing-here") is None


def test_the_headline_never_names_a_hidden_checks_mistake() -> None:
    from grader.render.gradescope import results_json
    from grader.score import FAILED, Graded, Outcome

    def failed(cid: str, visibility: str, code: str) -> Outcome:
        o = Outcome(cid, "lab02", cid, FAILED, 0, 2, visibility)
        o.diagnosis = {"code": code, "explanation": f"{code} happened", "reread": "x.md"}
        return o

    hidden = failed("graph.hidden", "after_due_date", "secret")
    graded = Graded("s", "/s", "graded", "", [hidden], {"lab02": "Lab 2"}, 0.1)
    assert "Most likely mistake" not in results_json(graded)["output"]
    graded.outcomes.append(failed("graph.shown", "visible", "public"))
    output = results_json(graded)["output"].splitlines()
    assert output[1:] == ["Most likely mistake: public happened", "Reread labs/x.md"]
    validate(results_json(graded))


STUB_PYTHON = """#!/usr/bin/env bash
# python3.11 of a test image: a release candidate until the PPA's was installed
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin"
  printf '#!/usr/bin/env bash\\necho "venv-python $*" >> "%s"\\n' "$LOG" > "$3/bin/python"
  printf 'case "$*" in *download.pytorch.org*) exit 1;; esac\\n' >> "$3/bin/python"
  chmod +x "$3/bin/python"
  exit 0
fi
[ -f "$STATE/final" ] && exec "$REAL" "$@"
[ "$1" = "-c" ] && exit 1
exec "$REAL" "$@"
"""
STUB_APT = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$LOG"
case "$(basename "$0") $*" in
  add-apt-repository*) touch "$STATE/ppa";;
  *install*python3.11*) [ -f "$STATE/ppa" ] && touch "$STATE/final";;
esac
exit 0
"""


@pytest.mark.parametrize("image", ["a release candidate", "a released 3.11"])
def test_setup_takes_a_released_python_and_does_not_wait_on_an_unreachable_index(
    tmp_path: Path, image: str
) -> None:
    """setup.sh on an image whose python3.11 is 3.11.0rc1 (Ubuntu 22.04) installs the
    PPA's released one; on a good image it installs no Python. Either way torch comes
    from the CPU index, or (unreachable) from PyPI, without stopping the set-up."""
    stubs, state, log = tmp_path / "stubs", tmp_path / "state", tmp_path / "log"
    stubs.mkdir()
    state.mkdir()
    for name, text in [("python3.11", STUB_PYTHON), ("apt-get", STUB_APT)]:
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    (stubs / "add-apt-repository").symlink_to(stubs / "apt-get")
    if image == "a released 3.11":
        (state / "final").touch()
    root = tmp_path / "autograder"
    (root / "source" / "requirements").mkdir(parents=True)
    shutil.copyfile(ROOT / "requirements" / "grade.txt", root / "source/requirements/grade.txt")
    (root / "setup.sh").write_text(gradescope.SETUP_SH)
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "LOG": str(log),
        "STATE": str(state),
        "REAL": sys.executable,
        "MINIGRAD_AUTOGRADER_ROOT": str(root),
    }
    done = subprocess.run(
        ["bash", str(root / "setup.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    if image == "a release candidate":
        assert "add-apt-repository -y ppa:deadsnakes/ppa" in calls
    else:
        assert not [c for c in calls if c.startswith(("apt-get", "add-apt"))]
    pip = [c for c in calls if c.startswith("venv-python -m pip")]
    assert "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0" in pip[0]
    assert pip[1].endswith(f"-r {root}/source/requirements/grade.txt")
    assert "installing torch==2.13.0 from PyPI" in done.stderr
    assert any("compileall" in c and "source/grader" in c for c in calls)
