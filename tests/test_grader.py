"""The grader end to end: the reference scores the maximum, the skeleton 0 with a full
report, the reports follow their schemas and are deterministic, bad input is refused
with one line."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from grader import cli
from grader.checks import REGISTRY
from grader.discover import Submission, UsageError, find
from grader.rubric import RUBRIC
from grader.score import FAILED, NOT_RUN, PASSED, Graded, run_checks

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    # The engine only: reference/tests would count as the submission's own tests
    # (the extra-credit check, tested in test_student_tests.py).
    sub = tmp_path_factory.mktemp("sub") / "reference"
    shutil.copytree(ROOT / "reference" / "src", sub / "src")
    return run_checks(Submission("reference", sub))


@pytest.fixture(scope="module")
def skeleton() -> Graded:
    return run_checks(Submission("skeleton", ROOT / "skeleton"))


def test_rubric_and_checks_agree() -> None:
    assert set(RUBRIC.items) == set(REGISTRY)
    for check in REGISTRY.values():
        assert set(check.depends) <= set(REGISTRY), check.id
    assert RUBRIC.max_score() == 100


def test_reference_scores_the_maximum(reference: Graded) -> None:
    graded = [o for o in reference.outcomes if not RUBRIC.items[o.id].extra_credit]
    not_passed = [(o.id, o.summary) for o in graded if o.status != PASSED]
    assert not_passed == []
    assert reference.score == reference.max_score == 100


def test_skeleton_scores_zero_on_every_check(skeleton: Graded) -> None:
    assert skeleton.score == 0
    assert len(skeleton.outcomes) == len(RUBRIC.items)
    # Only the given-code root check passes, and it is worth nothing.
    assert [o.id for o in skeleton.outcomes if o.status == PASSED] == ["ops.construct"]
    failed = [o for o in skeleton.outcomes if o.status == FAILED]
    assert all("NotImplementedError" in o.summary or "raised" in o.got for o in failed)
    blocked = [
        o for o in skeleton.outcomes if o.status == NOT_RUN and not RUBRIC.items[o.id].extra_credit
    ]
    assert blocked and all(
        o.blocked_by in REGISTRY or o.summary.startswith("not run yet") for o in blocked
    )


def _validate_gradescope(data: dict[str, Any]) -> None:
    """The fields Gradescope's autograder reads, with their types."""
    assert isinstance(data["score"], float | int)
    assert isinstance(data["execution_time"], float | int)
    assert isinstance(data["output"], str)
    assert data["visibility"] in {"visible", "hidden", "after_due_date", "after_published"}
    assert data["stdout_visibility"] in {"visible", "hidden", "after_due_date", "after_published"}
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "tags", "visibility"}
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], float | int) and isinstance(test["max_score"], float | int)
        assert test["score"] >= 0
        assert test["score"] <= test["max_score"] or test["max_score"] == 0  # extra credit
        assert test["status"] in {"passed", "failed"}
        assert test["visibility"] in {"visible", "hidden", "after_due_date", "after_published"}
        assert all(isinstance(tag, str) for tag in test["tags"])
        assert isinstance(test["extra_data"], dict)
        assert {"lab", "check_id", "diagnosis", "counterexample"} <= set(test["extra_data"])
    assert data["score"] == sum(t["score"] for t in data["tests"])


def test_cli_writes_every_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(ROOT / "reference" / "src", tmp_path / "reference" / "src")
    assert cli.main([str(tmp_path / "reference"), str(ROOT / "skeleton"), "--out", str(out)]) == 0
    for name, score in (("reference", 100), ("skeleton", 0)):
        data = json.loads((out / name / "results.json").read_text())
        _validate_gradescope(data)
        assert data["score"] == score
        report = (out / name / "report.md").read_text()
        assert f"Score {score} / 100" in report
        suites = ET.parse(out / name / "junit.xml").getroot()
        assert sum(int(s.get("tests", "0")) for s in suites) == len(RUBRIC.items)
    rows = list(csv.DictReader((out / "grades.csv").open()))
    # the bundled skeleton has its reports, but it is no student: no row in the class
    assert [(r["name"], r["total"], r["lab01"]) for r in rows] == [("reference", "100", "36")]
    skeleton_md = (out / "skeleton" / "report.md").read_text()
    assert "## Points lost" in skeleton_md and "## Not run yet" in skeleton_md


def test_reports_are_deterministic(tmp_path: Path) -> None:
    sub = tmp_path / "student"
    shutil.copytree(ROOT / "reference" / "src", sub / "src")
    scalar = sub / "src" / "minigrad" / "scalar.py"
    scalar.write_text(
        scalar.read_text().replace("other.grad -= out.grad", "other.grad += out.grad")
    )
    first, second = tmp_path / "one", tmp_path / "two"
    cli.main([str(sub), "--out", str(first)])
    cli.main([str(sub), "--out", str(second)])
    assert (first / "student" / "report.md").read_text() == (
        second / "student" / "report.md"
    ).read_text()
    one = json.loads((first / "student" / "results.json").read_text())
    two = json.loads((second / "student" / "results.json").read_text())
    one.pop("execution_time"), two.pop("execution_time")
    assert one == two
    assert one["score"] < 100


def test_lab_filter_grades_only_that_lab(tmp_path: Path) -> None:
    assert cli.main([str(ROOT / "reference"), "--lab", "lab03", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "reference" / "results.json").read_text())
    assert {t["extra_data"]["lab"] for t in data["tests"]} == {"lab03"}
    assert data["score"] == 16


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--lab", "lab09"], "invalid choice"),
    ],
)
def test_bad_flags_get_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_folder_and_wrong_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "empty" / "stuff").mkdir(parents=True)
    assert cli.main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "wrong layout" in err and len(err.strip().splitlines()) == 1


def test_batch_folder_reports_a_misplaced_submission(tmp_path: Path) -> None:
    batch = tmp_path / "subs"
    shutil.copytree(ROOT / "skeleton" / "src", batch / "alice" / "src")
    (batch / "bob" / "minigrad").mkdir(parents=True)  # forgot the src/ level
    subs = find([batch])
    assert [(s.name, bool(s.problem)) for s in subs] == [("alice", False), ("bob", True)]
    out = tmp_path / "out"
    assert cli.main([str(batch), "--out", str(out)]) == 0
    bob = (out / "bob" / "report.md").read_text()
    assert "Not graded" in bob and "src/minigrad" in bob


def test_find_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f.py").write_text("")
    with pytest.raises(UsageError, match="is a file"):
        find([tmp_path / "f.py"])


def test_a_reply_missing_a_read_is_the_students_fault_not_the_graders() -> None:
    # A replaced handle() or a forged reply comes back without the names asked for.
    from grader.checks.base import Reads
    from grader.sandbox import StudentFault

    reads = Reads({"a": 1.0})
    assert reads["a"] == 1.0
    with pytest.raises(StudentFault, match="no value came back for 'out'"):
        reads["out"]


def test_the_seeded_mypy_cache_changes_no_finding(tmp_path: Path) -> None:
    from grader.checks.quality import MYPY, _Tool, mypy_seed

    pkg = tmp_path / "minigrad"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import math\n\n\ndef f(x):\n    return math.exp(x)\n")
    seed = mypy_seed()
    assert seed is not None and any(seed.iterdir())
    found = []
    for tool in (_Tool(MYPY, tmp_path), _Tool(MYPY, tmp_path, seed)):
        found.append(tool.output())
        tool.stop()
    assert "no-untyped-def" in found[0]
    assert found[0] == found[1]


def test_lint_findings_are_remembered_by_source_not_by_submission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies of one engine are linted once; a one-byte change is linted again and
    its own findings reported."""
    from grader.checks import quality

    quality.mypy_seed()  # built once per process: not one of the runs counted here
    started: list[str] = []
    real = quality._Tool

    def counting(args: list[str], cwd: Path, seed: Path | None = None) -> quality._Tool:
        started.append(args[0])
        return real(args, cwd, seed)

    monkeypatch.setattr(quality, "_Tool", counting)
    monkeypatch.setattr(quality, "_FINDINGS", {})
    ref = ROOT / "reference" / "src" / "minigrad"
    subs = []
    for name, extra in (("a", ""), ("b", ""), ("c", "import os\n")):
        pkg = tmp_path / name / "src" / "minigrad"
        shutil.copytree(ref, pkg, ignore=shutil.ignore_patterns("__pycache__"))
        (pkg / "train.py").write_text((pkg / "train.py").read_text() + extra)
        subs.append(run_checks(Submission(name, tmp_path / name), labs={"lab04"}))
    assert sorted(started) == ["mypy", "mypy", "ruff", "ruff"]  # mypy starts in a thread
    quality_of = [next(o for o in g.outcomes if o.id == "lab04.quality") for g in subs]
    assert [o.status for o in quality_of] == [PASSED, PASSED, FAILED]
    assert "F401" in quality_of[2].got and "train.py" in quality_of[2].summary


def test_a_failed_op_check_carries_its_graph_for_the_drawing(tmp_path: Path) -> None:
    from grader.mistakes import VARIANTS, materialize

    variant = next(v for v in VARIANTS if v.id == "bug-mul-wrong-operand")
    sub = materialize(variant, tmp_path / "mul")
    graded = run_checks(Submission("mul", sub), labs={"lab01"})
    mul = next(o for o in graded.outcomes if o.id == "ops.mul")
    nodes = mul.observed.get("graph")
    assert mul.status == FAILED and isinstance(nodes, list) and len(nodes) == 3
    a = next(n for n in nodes if n["name"] == "a")
    assert a["expected_grad"] != a["got_grad"]


def test_a_network_whose_parameters_never_move_fails_training_in_one_chunk(
    tmp_path: Path,
) -> None:
    """backward() that never seeds the output's grad moves no parameter: the training
    checks stop after STILL epochs (not 300, nor 100) and say why, with the verdicts of a
    full run."""
    from grader.checks.train import STILL
    from grader.mistakes import VARIANTS, materialize

    variant = next(v for v in VARIANTS if v.id == "bug-backward-not-seeded")
    sub = materialize(variant, tmp_path / "still")
    graded = run_checks(Submission("still", sub), labs={"lab02", "lab03", "lab04"})
    by_id = {o.id: o for o in graded.outcomes}
    for cid in ("train.fit_tense", "train.fit_toy", "train.engine_sgd"):
        outcome = by_id[cid]
        assert outcome.status == FAILED, cid
        assert outcome.got.count(f"epochs 1 to {STILL} changed no parameter") == 2, outcome.got
    assert by_id["train.fit_tense"].score == 0.0


def test_only_a_trace_that_stands_still_ends_training_early() -> None:
    """The stop rule the child applies and the grader checks again: the last ``epochs``
    epochs left every parameter and the loss as they were."""
    from grader.child.interpreter import stands_still

    flat = [[1.0, 2.0]] * 11
    assert stands_still(flat, [3.0] * 10, 10)
    assert not stands_still(flat, [3.0] * 9 + [2.0], 10)  # the loss moved
    assert not stands_still([[1.0, 2.5], *flat[1:]], [3.0] * 10, 10)  # a parameter moved
    assert stands_still([[0.0, 0.0], *flat], [5.0, *[3.0] * 10], 10)  # earlier: no matter
    assert not stands_still(flat[:5], [3.0] * 4, 10)  # too few epochs yet
    assert not stands_still(flat, [3.0] * 9, 10)  # a trace that does not fit its losses
    nan = float("nan")
    assert not stands_still([[nan]] * 11, [nan] * 10, 10)  # NaN never equals itself


def test_mypy_forked_by_the_server_finds_what_python_m_mypy_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same findings, exit status and crash report from a forked run as from a
    process of its own; the server is used when it runs, and not otherwise."""
    from grader.checks import mypy_fork
    from grader.checks.quality import MYPY, _Tool, mypy_seed

    pkg = tmp_path / "minigrad"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import math\n\n\ndef f(x):\n    return math.exp(x)\n")
    (pkg / "nn.py").write_text(
        "from minigrad import f\n\n\ndef g(y: int) -> str:\n    return f(y)\n"
    )
    seed = mypy_seed()
    found = {}
    for way in ("forked", "own process"):
        if way == "own process":
            monkeypatch.setattr(mypy_fork, "server", lambda: None)
        tool = _Tool(MYPY, tmp_path, seed)
        assert (tool.forked is not None) == (way == "forked")
        found[way] = tool.output()
        tool.stop()
        crashing = _Tool(["mypy", "--no-such-option"], tmp_path)
        with pytest.raises(RuntimeError, match="mypy crashed"):
            crashing.output()
        crashing.stop()
    assert "no-untyped-def" in found["forked"] and "no-any-return" in found["forked"]
    assert found["forked"] == found["own process"]


def test_a_forked_mypy_stopped_early_is_killed_and_collected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader import workspace
    from grader.checks import mypy_fork
    from grader.checks.quality import MYPY, _Tool

    pkg = tmp_path / "minigrad"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("x: int = 1\n")
    tool = _Tool(MYPY, tmp_path)  # no seed: it analyses the standard library, slowly
    assert tool.forked is not None
    pid = tool.forked.pid
    assert Path(f"/proc/{pid}").exists()
    removed: list[Path] = []  # kept until the run is collected: did it write its status?

    def keep(path: Path | str) -> bool:
        removed.append(Path(path))
        return True

    monkeypatch.setattr(workspace, "remove", keep)
    tool.stop()
    monkeypatch.undo()
    server = mypy_fork.server()
    assert server is not None
    # the server collects it before it reads its next request: then it is gone
    after = mypy_fork.Run(server, ["--version"], tmp_path)
    assert not Path(f"/proc/{pid}").exists()
    assert not (tool.forked.folder / "status").exists()  # killed, not waited for
    assert after.finished(60) and after.result()[0] == 0 and "mypy" in after.result()[1]
    after.stop()
    assert sorted(removed) == sorted([tool.forked.folder, tool.cache])
    for path in removed:
        assert workspace.remove(path)


def test_quality_checks_run_last_and_are_reported_in_the_rubrics_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mypy works in the background while every other check runs; the report keeps the
    rubric's order."""
    from grader import score
    from grader.checks import quality

    ran: list[str] = []
    real = score._run_both

    def recording(cid: str, ctx: Any, rubric: Any) -> Any:
        ran.append(cid)
        return real(cid, ctx, rubric)

    monkeypatch.setattr(score, "_run_both", recording)
    labs = {"lab01", "lab02", "lab03"}
    shutil.copytree(ROOT / "reference" / "src", tmp_path / "reference" / "src")
    graded = run_checks(Submission("reference", tmp_path / "reference"), labs=labs)
    first_quality = min(i for i, cid in enumerate(ran) if cid in quality.IDS)
    assert all(cid in quality.IDS for cid in ran[first_quality:])
    assert len([c for c in ran if c in quality.IDS]) == 2
    wanted = score.order(RUBRIC, labs)
    assert [o.id for o in graded.outcomes] == [
        c for c in wanted if c in {o.id for o in graded.outcomes}
    ]
    assert [o.id for o in graded.outcomes] != [
        c for c in ran if c in {o.id for o in graded.outcomes}
    ]
    assert all(o.status == PASSED for o in graded.outcomes if o.id in quality.IDS)


def test_a_tool_whose_start_fails_in_its_thread_says_so_when_read() -> None:
    from grader.checks.quality import _Starting

    def broken() -> Any:
        raise RuntimeError("mypy crashed (exit status 2): no seed")

    tool = _Starting(broken)
    with pytest.raises(RuntimeError, match="no seed"):
        tool.output()
    tool.stop()  # nothing was started: nothing to stop, no error
