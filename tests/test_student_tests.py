"""Grading a student's own tests against the reference and the planted-bug variants."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from grader.discover import Submission
from grader.mistakes import VARIANTS, behavioural, materialize
from grader.rubric import RUBRIC
from grader.score import FAILED, NOT_RUN, PASSED, Outcome, run_checks

ROOT = Path(__file__).resolve().parent.parent
BONUS = RUBRIC.items["tests.catch_mistakes"]


# These tests give the students' tests more time than the rubric does, so that what
# they check (caught, wrong, refused) never depends on the budget; the budget itself is
# tested below and in test_hostile.py.
ROOMY = dataclasses.replace(RUBRIC, limits=dataclasses.replace(RUBRIC.limits, tests_seconds=1200.0))


def bonus(sub: Path) -> Outcome:
    graded = run_checks(Submission(sub.name, sub), rubric=ROOMY, labs={"bonus"})
    (outcome,) = graded.outcomes
    assert graded.max_score == 0  # extra credit never raises the maximum
    return outcome


def with_tests(tmp_path: Path, name: str, tests: dict[str, str]) -> Path:
    sub = tmp_path / name
    shutil.copytree(ROOT / "reference" / "src", sub / "src")
    (sub / "tests").mkdir()
    for file, text in tests.items():
        (sub / "tests" / file).write_text(text)
    return sub


def test_the_reference_suite_catches_every_behavioural_variant(tmp_path: Path) -> None:
    sub = tmp_path / "thorough"
    shutil.copytree(ROOT / "reference" / "src", sub / "src")
    shutil.copytree(ROOT / "reference" / "tests", sub / "tests")
    outcome = bonus(sub)
    # Students' tests run confined: they cannot start a program, so the one reference
    # test that runs a stand-in `dot` is stopped there; it is not counted, not called
    # wrong, and every variant is caught: the bonus is earned in full.
    assert outcome.status == PASSED, (outcome.summary, outcome.got)
    assert len(behavioural(VARIANTS)) >= 20


ALWAYS_FAILS = """
from minigrad.scalar import Value


def test_product_gradient() -> None:
    a, b = Value(2.0), Value(3.0)
    (a * b + a).backward()
    assert a.grad == 4.0 and b.grad == 2.0


def test_always_fails() -> None:
    assert Value(1.0).data == 2.0


def test_starts_a_program() -> None:
    import subprocess

    subprocess.run(["true"], check=True)
"""


def test_a_test_that_fails_on_a_correct_engine_is_called_wrong(tmp_path: Path) -> None:
    outcome = bonus(with_tests(tmp_path, "sloppy", {"test_mine.py": ALWAYS_FAILS}))
    assert outcome.status == FAILED
    assert "test_always_fails fails on a correct engine: the test is wrong" in outcome.got
    # The sandbox, not the test, stops a program from starting: not counted, not wrong.
    assert outcome.observed["wrong"] == ["test_mine.py::test_always_fails"]
    assert outcome.observed["refused"] == ["test_mine.py::test_starts_a_program"]
    assert "test_starts_a_program was not counted" in outcome.got
    assert "not caught:" in outcome.got  # and it lists the mistakes it would miss
    caught = outcome.observed["caught"]
    assert 0 < caught < len(behavioural(VARIANTS))
    assert outcome.score == pytest.approx(BONUS.points * caught / len(behavioural(VARIANTS)), 0.01)


PEEKS = """
import inspect

import minigrad.scalar


def test_prints_the_engine() -> None:
    print("SECRET-START", inspect.getsource(minigrad.scalar), "SECRET-END")
    raise AssertionError(inspect.getsource(minigrad.scalar))
"""


def test_student_tests_cannot_read_the_reference_back(tmp_path: Path) -> None:
    sub = with_tests(tmp_path, "peeking", {"test_peek.py": PEEKS})
    graded = run_checks(Submission("peeking", sub), labs={"bonus"})
    text = repr(graded.to_dict())
    assert "SECRET-START" not in text
    assert "other.grad += self.data * out.grad" not in text  # a reference solution line
    (outcome,) = graded.outcomes
    assert "test_prints_the_engine fails on a correct engine" in outcome.got


def test_no_tests_means_no_bonus_and_no_penalty(tmp_path: Path) -> None:
    sub = tmp_path / "plain"
    shutil.copytree(ROOT / "reference" / "src", sub / "src")
    outcome = bonus(sub)
    assert outcome.status == NOT_RUN and outcome.score == 0
    assert "no tests/test_*.py" in outcome.summary


def test_libraries_the_tests_import_are_loaded_once_per_runner() -> None:
    from grader.student_tests import preloads

    assert preloads({"test_a.py": b"import math\nimport torch\n"}) == ["torch"]
    assert preloads({"test_a.py": b"import os\n", "test_b.py": b"    from torch import nn\n"}) == [
        "torch"
    ]
    assert preloads({"test_a.py": b"x = 1  # import torch\nimport torchvision\n"}) == []


def test_the_runner_rewrites_the_tests_asserts_once_for_every_run(tmp_path: Path) -> None:
    """The rewritten code goes into pytest's own cache, which a run then loads (pytest
    reports "found cached rewritten pyc"); a file that does not parse is left to the run."""
    import subprocess
    import sys

    from _pytest.assertion.rewrite import PYC_TAIL

    from grader.child import runner

    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_good.py").write_text("def test_sum():\n    x = 2\n    assert x + 1 == 4\n")
    (tests / "test_broken.py").write_text("def test_(:\n")
    (tests / "helper.py").write_text("X = 1\n")
    runner._rewrite_ahead(str(tests))
    cached = sorted(p.name for p in (tests / "__pycache__").iterdir())
    assert cached == ["test_good" + PYC_TAIL]
    debug = tmp_path / "debug.log"
    command = [sys.executable, "-B", "-m", "pytest", str(tests / "test_good.py")]
    done = subprocess.run(
        [*command, "-p", "no:cacheprovider", f"--debug={debug}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "assert (2 + 1) == 4" in done.stdout  # the rewritten assert, explained
    assert "found cached rewritten pyc" in debug.read_text()


ONLY_THE_STUDENTS_CODE = """
import ast
import sys

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.internal.scrutineer import ModuleLocation

from minigrad.scalar import Value


@given(st.floats(-3, 3))
def test_negation(x: float) -> None:
    assert (-Value(x)).data == -x


def test_hypothesis_mines_only_the_students_code() -> None:
    where = ModuleLocation.from_path
    assert where(ast.__file__) is ModuleLocation.STDLIB
    assert where(sys.modules["__main__"].__file__) is not ModuleLocation.LOCAL  # the runner
    assert where(sys.modules["minigrad.scalar"].__file__) is ModuleLocation.LOCAL
"""


def test_hypothesis_takes_only_the_engine_for_the_students_code(tmp_path: Path) -> None:
    """Inside a run, hypothesis tells the standard library (read through the grader's
    view of it) and the runner's own code from the engine, as outside: it mines only
    the engine's constants at each collection (it parsed the whole standard library
    again for every engine before, most of a run's time)."""
    from grader.sandbox import Limits
    from grader.student_tests import grade_tests

    sub = with_tests(tmp_path, "mined", {"test_mined.py": ONLY_THE_STUDENTS_CODE})
    verdict = grade_tests(sub, Limits(tests_seconds=600.0), [])
    assert verdict.tests == [
        "test_mined.py::test_hypothesis_mines_only_the_students_code",
        "test_mined.py::test_negation",
    ]
    assert verdict.wrong == [] and verdict.refused == []


ORDER_DEPENDENT = """
import time

from minigrad.scalar import Value

RAN = []


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_runs_before_the_cheap_one() -> None:  # first in the file, not once cheapest first
    burn(0.05)
    assert not RAN


def test_sum() -> None:
    RAN.append(1)
    assert (Value(2.0) + Value(3.0)).data == 5.0


def test_product_gradient() -> None:
    burn(0.2)
    a, b = Value(2.0), Value(3.0)
    (a * b + a).backward()
    assert a.grad == 4.0 and b.grad == 2.0
"""


def test_a_test_that_passes_only_in_the_files_order_changes_no_other_verdict(
    tmp_path: Path,
) -> None:
    """The reference runs first in the files' order (to time each test), then cheapest
    first, like every variant; a test that passes only in the first is wrong, and the
    variants it stopped early (it passed in the first run) run again: the same engines
    are caught as without it."""
    from grader.sandbox import Limits
    from grader.student_tests import grade_tests

    planted = [(v.id, lambda dest, v=v: materialize(v, dest)) for v in behavioural(VARIANTS)]
    limits = Limits(tests_seconds=1200.0)
    with_it = with_tests(tmp_path, "with", {"test_order.py": ORDER_DEPENDENT})
    honest = ORDER_DEPENDENT.replace("    assert not RAN\n", "")
    without = with_tests(tmp_path, "without", {"test_order.py": honest})
    one, two = grade_tests(with_it, limits, planted), grade_tests(without, limits, planted)
    assert one.wrong == ["test_order.py::test_runs_before_the_cheap_one"] and two.wrong == []
    assert one.caught == two.caught and one.missed == two.missed
    assert "bug-mul-wrong-operand" in one.caught  # only the product's gradient catches it


def test_a_variant_stopped_by_a_test_that_turned_out_wrong_runs_again() -> None:
    """While the reference runs a second time, variants stop at the first failing test
    that passed in the first (timing) run; one stopped by a test the second run finds
    wrong, and caught by no valid test, runs again with the valid tests only."""
    from grader.student_tests import _Engine, _Plan

    tests = {"test_t.py": b"def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\n"}
    a, b, c = (f"test_t.py::test_{x}" for x in "abc")

    def engine(*reports: tuple[str, bool]) -> _Engine:
        return _Engine(reports=list(reports), end={"end": True}, cpu={t: 0.1 for t, _ in reports})

    plan = _Plan(tests, [("reference", Path()), ("v1", Path()), ("v2", Path())], 100.0)
    plan.calibrated_by(engine((a, True), (b, True), (c, True)))
    first, second = plan.next_variant(), plan.next_variant()
    assert first == ("v1", {a, b, c}, False) and second is not None
    stopped_by_a = engine((b, True), (a, False))
    stopped_by_a.stopped_by = a
    plan.found("v1", stopped_by_a, final=False)
    caught_by_b = engine((b, False))
    caught_by_b.stopped_by = b
    plan.found("v2", caught_by_b, final=False)
    plan.referenced_by(engine((b, True), (a, False), (c, True)))

    ran: list[tuple[str, set[str]]] = []

    class Runner:
        def run(self, name: str, stops: set[str], _plan: object) -> _Engine:
            ran.append((name, stops))
            return engine((b, True), (a, False), (c, False))

    plan.finish(Runner())  # type: ignore[arg-type]
    assert ran == [("v1", {b, c})]  # v2 was caught by b, valid: not run again
    verdict = plan.verdict(["v1", "v2"])
    assert verdict.caught == ["v1", "v2"] and verdict.wrong == [a]


def test_a_runner_that_raises_never_leaves_the_other_waiting() -> None:
    """The grading stops (the machine too busy, a bug of ours) whichever runner's run
    raises: the other runner starts nothing more and returns."""
    import threading
    import time

    from grader.clock import MachineBusy
    from grader.student_tests import _drive, _Engine, _Plan

    tests = {"test_t.py": b"def test_a(): pass\n"}
    every = [("reference", Path()), *((f"v{n}", Path()) for n in range(20))]

    class Watch:
        def used(self) -> float:
            return 0.0

    class Runner:
        def __init__(self, raises: str) -> None:
            self.raises, self.ran = raises, list[str]()

        def send_order(self, order: list[str]) -> None:
            pass

        def run(self, name: str, stops: set[str], plan: object, calibrate: bool = False) -> _Engine:
            self.ran.append(name)
            what = "timing" if calibrate else "reference" if name == "reference" else "variant"
            if what == self.raises:
                raise MachineBusy("too busy")
            time.sleep(0.05 if what == "variant" else 0)
            return _Engine(reports=[("test_t.py::test_a", True)], end={"end": True}, cpu={})

    for raises in ("timing", "reference"):
        plan = _Plan(tests, every, 100.0)
        plan.watches = [Watch(), Watch()]  # type: ignore[list-item]
        runners = [Runner(raises), Runner(raises)]
        raised: list[BaseException] = []

        def drive(
            number: int,
            plan: _Plan = plan,
            runners: list[Runner] = runners,
            raised: list[BaseException] = raised,
        ) -> None:
            try:
                _drive(plan, runners[number], number)  # type: ignore[arg-type]
            except MachineBusy as busy:
                raised.append(busy)

        threads = [threading.Thread(target=drive, args=(n,)) for n in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert not any(thread.is_alive() for thread in threads), raises
        assert len(raised) == 1, raises
        assert sum(len(runner.ran) for runner in runners) < 5, (raises, runners[0].ran)
