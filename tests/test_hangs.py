"""Hangs cost one timeout, not one per check: the pathological submissions of issue 11.

Each is a copy of the reference with one patch: an import that hangs (also ignoring
SIGTERM), a slow import, a stack overflow that kills the interpreter, a ``backward()``
that never returns. The grader waits out the first timeout only: later checks that
need the same step are "not run", with a summary naming the step and the limit, and
the first failure names where the code hung. Graded with a 2-second request limit so
that the file stays fast (timings are printed by bench/grade_speed.py, not asserted).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from grader import hangs
from grader.discover import Submission
from grader.program import Program
from grader.rubric import RUBRIC
from grader.sandbox import Limits, Sandbox
from grader.score import FAILED, NOT_RUN, PASSED, Graded, run_checks

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PKG = ROOT / "reference" / "src" / "minigrad"
FAST = dataclasses.replace(RUBRIC, limits=Limits(request_seconds=2.0, submission_seconds=30))
AFTER_IMPORTS = 'Operand = Union["Value", int, float]\n'
BACKWARD = "    def backward(self) -> None:\n"


def patched(tmp_path: Path, name: str, old: str, new: str, file: str = "scalar.py") -> Submission:
    folder = tmp_path / name
    shutil.copytree(
        REFERENCE_PKG, folder / "src" / "minigrad", ignore=shutil.ignore_patterns("__pycache__")
    )
    path = folder / "src" / "minigrad" / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return Submission(name, folder)


def at_import(tmp_path: Path, name: str, code: str, file: str = "scalar.py") -> Submission:
    anchor = AFTER_IMPORTS if file == "scalar.py" else "from minigrad.scalar import Value\n"
    return patched(tmp_path, name, anchor, anchor + code + "\n", file)


def by_id(graded: Graded) -> dict[str, tuple[str, str]]:
    return {o.id: (o.status, o.summary) for o in graded.outcomes}


def not_run_for(graded: Graded, what: str) -> list[str]:
    return [
        o.id
        for o in graded.outcomes
        if o.status == NOT_RUN and o.summary == f"not run: your code did not finish {what}"
    ]


def test_an_import_that_hangs_is_waited_for_once(tmp_path: Path) -> None:
    graded = run_checks(at_import(tmp_path, "hang", "while True:\n    pass"), rubric=FAST)
    assert graded.score == 0
    assert any(
        "did not answer within 2 s: it was still importing minigrad/scalar.py" in n
        for n in graded.notes
    ), graded.notes
    skipped = not_run_for(graded, "importing minigrad/scalar.py within 2 s")
    assert "ops.construct" in skipped  # and every check that depends on it is not run
    assert all("time budget" not in o.summary for o in graded.outcomes)


def test_an_import_that_ignores_sigterm_and_hangs_is_killed(tmp_path: Path) -> None:
    code = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass"
    graded = run_checks(at_import(tmp_path, "sigterm", code), rubric=FAST)
    assert graded.score == 0
    assert not_run_for(graded, "importing minigrad/scalar.py within 2 s")


def test_a_slow_import_of_nn_only_costs_the_checks_that_need_nn(tmp_path: Path) -> None:
    sub = at_import(tmp_path, "slow", "import time\ntime.sleep(5)", file="nn.py")
    graded = run_checks(sub, rubric=FAST)
    outcomes = by_id(graded)
    assert outcomes["ops.mul"][0] == PASSED and outcomes["graph.diamond"][0] == PASSED
    skipped = not_run_for(graded, "importing minigrad/nn.py within 2 s")
    assert "nn.mlp_forward" in skipped or any(cid.startswith("nn.") for cid in skipped), outcomes
    assert all(not cid.startswith(("ops.", "graph.")) for cid in skipped)


def test_a_stack_overflow_at_import_is_not_retried(tmp_path: Path) -> None:
    code = (  # repr() of a deep list recurses in C: the interpreter dies (SIGSEGV)
        "import sys\nsys.setrecursionlimit(10**7)\n"
        "_deep: list[object] = []\nfor _ in range(2 * 10**5):\n    _deep = [_deep]\nrepr(_deep)"
    )
    # A crash is never waited for: a longer answer time only keeps a loaded machine from
    # turning the crash (0.6 s of work) into a timeout.
    patient = dataclasses.replace(FAST, limits=Limits(request_seconds=10.0, submission_seconds=30))
    graded = run_checks(at_import(tmp_path, "overflow", code), rubric=patient)
    assert graded.score == 0
    assert any("while importing minigrad/scalar.py" in n for n in graded.notes), graded.notes
    crashed = [
        o.id
        for o in graded.outcomes
        if o.summary == "not run: your code crashed while importing minigrad/scalar.py"
    ]
    assert "ops.construct" in crashed


def test_a_backward_that_never_returns_is_waited_for_once(tmp_path: Path) -> None:
    loop = "        while True:\n            pass\n"
    sub = patched(tmp_path, "backward", BACKWARD, BACKWARD + loop)
    graded = run_checks(sub, rubric=FAST)
    outcomes = by_id(graded)
    first = [o for o in graded.outcomes if "did not answer" in o.summary]
    assert len(first) == 1, [o.summary for o in first]  # one timeout in the whole run
    assert "it was still running `c.backward()`" in first[0].summary
    for cid in ("ops.add", "ops.mul", "ops.tanh"):  # lab 1 never calls backward()
        assert outcomes[cid][0] == PASSED, cid
    assert 0 < graded.score < graded.max_score


def test_an_endless_loop_in_one_op_blocks_only_that_op(tmp_path: Path) -> None:
    line = 'out = Value(self.data * other.data, (self, other), "*")'
    sub = patched(tmp_path, "mul", line, "while True:\n            pass\n        " + line)
    graded = run_checks(sub, rubric=FAST)
    outcomes = by_id(graded)
    assert outcomes["ops.mul"][0] == FAILED
    assert "it was still running `c = a * b`" in outcomes["ops.mul"][1]
    assert outcomes["ops.add"][0] == PASSED and outcomes["ops.sub"][0] == PASSED
    assert not_run_for(graded, "a * b within 2 s")
    timeouts = [o.id for o in graded.outcomes if "did not answer" in o.summary]
    assert timeouts == ["ops.mul", "nn.build"]  # the first forward pass hangs too, once


def test_the_kinds_of_steps_a_request_needs() -> None:
    steps = [
        ["seed", 1],
        ["new", "m", "MLP", 3, [4, 1]],
        ["call", "out", "m", [{"num": 1.0}]],
        ["sgd", "loss", "m", [], [], 3, 0.1],
        ["to_dot", "dot", "out"],
    ]
    needed = hangs.needs({"kind": "run", "steps": steps})
    assert set(needed) == {
        "import:scalar",
        "import:nn",
        "import:viz",
        "new:MLP",
        "forward",
        "sgd",
        "backward",
        "local_backward:mul",  # a forward pass multiplies and adds: so does backward()
        "local_backward:add",
        "to_dot",
    }
    assert needed["forward"] == "a forward pass (calling a Neuron, Layer or MLP)"
    assert hangs.where({"steps": steps}, "7 step 2", 7) == (
        "forward",
        "a forward pass (calling a Neuron, Layer or MLP)",
        "out = m([1.0])",
    )
    assert hangs.where({"steps": steps}, "6 step 2", 7) is None  # another request's record
    assert hangs.where({"kind": "hello"}, "7 import nn", 7) == (
        "import:nn",
        "importing minigrad/nn.py",
        "",
    )


def test_backward_needs_the_local_step_of_every_op_before_it(tmp_path: Path) -> None:
    mul = "other.grad += self.data * out.grad"
    sub = patched(tmp_path, "loops", mul, "while True:\n                pass\n            " + mul)
    graded = run_checks(sub, rubric=FAST)
    outcomes = by_id(graded)
    assert "it was still running `walk_backward(c)`" in outcomes["ops.mul"][1]
    timeouts = [o.id for o in graded.outcomes if "did not answer" in o.summary]
    assert timeouts == ["ops.mul"]
    skipped = not_run_for(graded, "the _backward() of a * b within 2 s")
    assert "graph.worked_example" not in skipped  # blocked by ops.mul already
    assert outcomes["graph.seed"][0] == PASSED  # a + b only: its backward() is fine
    steps = [["const", "a", 1.0], ["op", "b", "mul", "a", "a"], ["backward", "b"]]
    assert "local_backward:mul" in hangs.needs({"kind": "run", "steps": steps})


def test_a_request_needing_a_stuck_step_is_not_sent(tmp_path: Path) -> None:
    sub = at_import(tmp_path, "ok", "")
    with Sandbox(sub.path, FAST.limits) as sandbox:
        sandbox.stuck["backward"] = "your code did not finish backward() within 2 s"
        steps = [["const", "a", 1.0], ["backward", "a"], ["read", "a"]]
        try:
            sandbox.request({"kind": "run", "steps": steps})
        except Exception as exc:
            assert str(exc) == "not run: your code did not finish backward() within 2 s"
        else:
            raise AssertionError("the request was sent")
        assert sandbox.process is None  # no child was even started
        reply = sandbox.request({"kind": "run", "steps": [["const", "a", 1.0], ["read", "a"]]})
        assert reply["reads"]["a"]["data"] == 1.0


def test_what_a_long_program_needs_is_worked_out_once_and_again_when_it_grows() -> None:
    p = Program()
    node = p.const(0.5)
    for _ in range(hangs.LONG):
        node = p.op("add", node, 1.0)
    first = hangs.needs(p.payload())
    assert "op:add" in first and "backward" not in first
    assert hangs.needs(p.payload()) == first  # the same list: remembered
    p.backward(node)
    assert "backward" in hangs.needs(p.payload())  # grown: worked out again
    copy = Program()
    copy.steps = [list(s) for s in p.steps]
    assert hangs.needs(copy.payload()) == hangs.needs(p.payload())
