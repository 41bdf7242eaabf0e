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

from grader.gradescope import find_engine
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
    assert isinstance(data["tests"], list) and data["tests"]
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


def run_autograder(root: Path, without_userns: bool = False) -> dict[str, Any]:
    """Run the package's run_autograder; ``without_userns``: as in a container that
    refuses user namespaces (Gradescope's), where the grader confines without them."""
    python, prefix = sys.executable, []
    if without_userns:
        from tests.no_userns import LAUNCHER, readable_python

        python, why = readable_python()
        assert python, why
        prefix = [python, LAUNCHER]
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTEST_ADDOPTS"}} | {
        "MINIGRAD_AUTOGRADER_ROOT": str(root),
        "MINIGRAD_PYTHON": python,
    }
    done = subprocess.run(
        [*prefix, str(root / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
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


@pytest.mark.parametrize("host", ["this machine", "no user namespaces"])
def test_files_at_the_top_of_the_upload(tmp_path: Path, package: Path, host: str) -> None:
    root = autograder(tmp_path, package)
    for path in ENGINE.glob("*.py"):
        shutil.copyfile(path, root / "submission" / path.name)
    data = run_autograder(root, without_userns=host == "no user namespaces")
    assert data["score"] == 100  # confined either way: unconfined it would be a grader error
    assert data["output"].startswith("Score 100 / 100")
    assert len(data["tests"]) > 40  # every check, the hidden ones included
    assert {t["visibility"] for t in data["tests"]} > {"visible"}


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
