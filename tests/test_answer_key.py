"""The answer key changes nothing but speed: same scores and reports, byte for byte.

A few engines (the reference, the skeleton, planted-bug variants that fail the op
checks, the graph checks and the random graphs) are graded with the key and with every
value computed afresh (``MINIGRAD_ANSWER_KEY=off``): their reports must be identical
but for the run time. Grading the reference with the key imports neither torch nor
hypothesis.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader import answer_key, keybuild
from grader.discover import Submission
from grader.mistakes import VARIANTS, materialize
from grader.program import Program
from grader.report import write_all
from grader.score import run_checks

ROOT = Path(__file__).resolve().parent.parent
VARIANT_IDS = ["bug-add-without-upstream", "bug-mul-assign-not-accumulate", "bug-tanh-via-exp"]


def engine(tmp_path: Path, name: str) -> Path:
    if name in ("reference", "skeleton"):
        source = ROOT / name / "src" / "minigrad"
        shutil.copytree(source, tmp_path / name / "src" / "minigrad")
        return tmp_path / name
    variant = next(v for v in VARIANTS if v.id == name)
    return materialize(variant, tmp_path / name)


def _timeless(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _timeless(v) for k, v in data.items() if k not in ("execution_time", "seconds")}
    if isinstance(data, list):
        return [_timeless(v) for v in data]
    return data


def reports(folder: Path, out: Path) -> dict[str, Any]:
    graded = run_checks(Submission(folder.name, folder))
    write_all(graded, out)
    results = json.loads((out / folder.name / "results.json").read_text(encoding="utf-8"))
    return {
        "results.json": _timeless(results),
        "report.md": (out / folder.name / "report.md").read_text(encoding="utf-8"),
    }


@pytest.fixture(scope="module")
def key() -> answer_key.Key:
    built = keybuild.ensure(quiet=True)
    assert built is not None and built.dags is not None
    return built


@pytest.mark.parametrize("name", ["reference", "skeleton", *VARIANT_IDS])
def test_reports_are_the_same_with_and_without_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: answer_key.Key, name: str
) -> None:
    folder = engine(tmp_path, name)
    answer_key.use(key)
    with_key = reports(folder, tmp_path / "with")
    monkeypatch.setenv(answer_key.ENV, "off")
    assert answer_key.current() is None
    without = reports(folder, tmp_path / "without")
    assert with_key["results.json"] == without["results.json"]
    report_lines = [
        [line for line in r["report.md"].splitlines() if " s" not in line and "time" not in line]
        for r in (with_key, without)
    ]
    assert report_lines[0] == report_lines[1]
    if name != "reference":
        assert with_key["results.json"]["score"] < 100


def test_the_key_holds_the_random_graphs_and_the_op_checks(key: answer_key.Key) -> None:
    assert key.hash == answer_key.grader_hash()
    assert key.dags is not None and len(key.dags) >= 150
    programs = {h for h, ids in key.checks.items() if "ops.mul" in ids}
    assert programs and all(h in key.values for h in programs)
    # a recorded value is what PyTorch computes
    from grader.expect import compute

    steps = key.dags[0]
    assert key.values[answer_key.steps_hash(steps)] == compute(Program(steps))


def test_a_key_for_another_grader_version_is_ignored(tmp_path: Path) -> None:
    stale = answer_key.Key("0" * 20, {"x": {"a": (1.0, 2.0)}})
    path = tmp_path / "key.json"
    path.write_text(stale.to_json(), encoding="utf-8")
    assert answer_key.read_key(path, answer_key.grader_hash()) is None
    assert answer_key.read_key(path, "0" * 20) == stale


def test_grading_a_correct_engine_imports_neither_torch_nor_hypothesis(
    tmp_path: Path, key: answer_key.Key
) -> None:
    folder = engine(tmp_path, "reference")
    code = (
        "import sys\n"
        "from grader import cli\n"
        f"assert cli.main([{str(folder)!r}, '--out', {str(tmp_path / 'out')!r}]) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'hypothesis'}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != answer_key.ENV}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    results = json.loads((tmp_path / "out" / "reference" / "results.json").read_text())
    assert results["score"] == 100


def test_without_torch_there_is_no_key_and_grading_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(answer_key, "find", lambda wanted=None: None)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    assert keybuild.ensure(quiet=True) is None
    assert "no answer key (ImportError: PyTorch is not installed" in capsys.readouterr().err
    assert keybuild.public_key({"ops.add"}, answer_key.GRADER) is None  # release: none


def test_a_reference_that_fails_its_checks_builds_no_key() -> None:
    skeleton = Path(__file__).resolve().parent.parent / "skeleton" / "src" / "minigrad"
    with pytest.raises(RuntimeError, match="no answer key was built"):
        keybuild.build(skeleton)


def test_without_a_key_the_random_graphs_are_searched_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The graphs a search went through serve the next engine too, every op included."""
    from grader.checks.hidden import graph

    monkeypatch.setenv(answer_key.ENV, "off")
    monkeypatch.setattr(graph, "_SEARCHED", {})
    searched: list[frozenset[str]] = []
    real = graph._search

    def search(ctx: Any, ops: frozenset[str], reflected: bool) -> None:
        searched.append(ops)
        real(ctx, ops, reflected)

    monkeypatch.setattr(graph, "_search", search)
    statuses = []
    for name in ("first", "second"):
        folder = tmp_path / name
        shutil.copytree(ROOT / "reference" / "src" / "minigrad", folder / "src" / "minigrad")
        graded = run_checks(Submission(name, folder), labs={"lab01", "lab02"})
        statuses.append(next(o.status for o in graded.outcomes if o.id == "graph.random_dags"))
    assert statuses == ["passed", "passed"]
    assert searched == [graph.ALL]
