"""The check registry and what a check gets to work with.

A check is a small function that asks the student's code to compute something through
the sandbox, compares with what it expects, and raises ``Fail`` with numbers a student
can act on. Checks declare the checks they depend on (``depends``): when a dependency
could not produce a result (the student's code raised or hung there, or it did not
run), the check is reported as "not run because ..." instead of failing noisily with
the same traceback. A dependency that merely computed wrong numbers blocks nothing:
the check runs and fails or passes on its own. ``any_of`` lists checks of which at
least one must pass first (a lab's quality points count once the lab is attempted).

A check also names the classic mistake its failure points to (``diagnoses``): a code
of grader/diagnoses.toml when the failure always means that mistake, or a function of
what the failure recorded and the probes' ``Facts`` (grader/classic.py). A failure
because the student's code raised is diagnosed only when the exception is itself the
symptom (``about_exceptions``); otherwise a crash gets no guessed mistake.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.classic import Facts
from grader.i18n import _
from grader.program import Program, close, fmt, render
from grader.sandbox import Sandbox, StudentFault
from grader.shapes import check_reads

Diagnosis = Callable[[dict[str, Any], Facts], str | None]


class Fail(Exception):
    """The student's code did not do what the check wanted."""

    def __init__(
        self,
        summary: str,
        *,
        expected: str = "",
        got: str = "",
        counterexample: str | None = None,
        observed: dict[str, Any] | None = None,
        partial: float = 0.0,
        blocking: bool = False,
    ) -> None:
        super().__init__(summary)
        self.summary = summary
        self.blocking = blocking  # True: checks that depend on this one cannot run
        self.partial = partial  # share of the points earned all the same
        self.expected = expected
        self.got = got
        self.counterexample = counterexample
        self.observed = observed or {}


class NotRun(Fail):
    """Nothing to judge yet (no tests, the lab not attempted, an op the check needs
    fails its own check): neither pass nor fail. ``blocked_by`` names the check it
    waits for, when there is one."""

    def __init__(self, summary: str, blocked_by: str | None = None) -> None:
        super().__init__(summary, blocking=True)
        self.blocked_by = blocked_by


@dataclass(frozen=True)
class Check:
    id: str
    func: Callable[[Context], None]
    depends: tuple[str, ...]
    any_of: tuple[str, ...] = ()
    diagnoses: Diagnosis | None = None  # the mistake code of a failure, or None
    about_exceptions: bool = False  # the exception raised is itself the symptom
    uses: tuple[str, ...] = ()  # checks run first, whose verdicts it reads (never blocking)
    # checks run first whose failure explains this one's: a failure of this check with
    # no diagnosis of its own is charged (in the headline) to the first that failed
    rests_on: tuple[str, ...] = ()


REGISTRY: dict[str, Check] = {}


def check(
    check_id: str,
    *,
    depends: Sequence[str] = (),
    any_of: Sequence[str] = (),
    diagnoses: str | Diagnosis | None = None,
    about_exceptions: bool = False,
    uses: Sequence[str] = (),
    rests_on: Sequence[str] = (),
) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register ``func`` as the check ``check_id`` (ids must match the rubric), with
    the mistake its failures point to (a code, or a function of observed and facts)."""
    rule = always(diagnoses) if isinstance(diagnoses, str) else diagnoses

    def register(func: Callable[[Context], None]) -> Callable[[Context], None]:
        if check_id in REGISTRY:
            raise ValueError(f"check {check_id!r} registered twice")
        REGISTRY[check_id] = Check(
            check_id,
            func,
            tuple(depends),
            tuple(any_of),
            rule,
            about_exceptions,
            tuple(uses),
            tuple(rests_on),
        )
        return func

    return register


def always(code: str) -> Diagnosis:
    """The diagnosis of a check whose every failure means the mistake ``code``."""

    def rule(obs: dict[str, Any], facts: Facts) -> str | None:
        return code

    return rule


def import_hidden() -> bool:
    """Register the checks shown after the due date (grader/checks/hidden/), when this
    grader has them: the student release ships without them."""
    if importlib.util.find_spec("grader.checks.hidden") is None:
        return False
    importlib.import_module("grader.checks.hidden")
    return True


class Reads(dict[str, Any]):
    """What a program read back. A missing name is the student's code failing the
    protocol (a forged or replaced reply), never the grader's error."""

    def __missing__(self, key: str) -> Any:
        raise StudentFault(_("no value came back for {key}").format(key=repr(key)))


@dataclass
class Run:
    """What one program returned: read values, or the student's exception."""

    program: Program
    reads: dict[str, Any]
    error: dict[str, Any] | None
    parents: str = "_prev"  # where the engine keeps parents (for paste-able examples)

    def python(self) -> str:
        """The program as code the student can paste, walking the engine's own parents."""
        return self.program.python(self.parents)

    def pair(self, name: str) -> tuple[float, float]:
        """(data, grad) of a read Value, type-checked: only real floats come back."""
        item = self.reads.get(name)
        if not isinstance(item, dict):
            raise StudentFault(_("no value came back for {name}").format(name=repr(name)))
        data, grad = item.get("data"), item.get("grad")
        if type(data) not in (float, int) or type(grad) not in (float, int):
            raise StudentFault(
                _("the value read for {name} is not a plain number").format(name=repr(name))
            )
        assert isinstance(data, float | int) and isinstance(grad, float | int)
        return float(data), float(grad)

    def raised(self) -> str | None:
        """The type name of the exception the student's code raised, if any."""
        return None if self.error is None else str(self.error.get("type"))

    def describe_error(self) -> str:
        assert self.error is not None
        step = self.error.get("step")
        if isinstance(step, int) and 0 <= step < len(self.program.steps):
            lines = render(self.program.steps[step])
            if lines:
                code = lines[0].split("  #")[0]
                # i18n: {error} is the exception (type: message); {code} a line of code
                return _("{error} at {code}").format(
                    error=f"{self.error.get('type')}: {self.error.get('message')}",
                    code=f"`{code}`",
                )
        return f"{self.error.get('type')}: {self.error.get('message')}"


@dataclass
class Context:
    """What a check can use: the sandbox, the copied package, shared results."""

    sandbox: Sandbox
    package_dir: Path
    submission: Path = Path()
    cache: dict[str, Any] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)  # check id -> status so far
    last_run: Run | None = None  # the current check's latest program, for its example
    order: str = ""  # "reversed": sets of Values iterate the other way (see child/objects.py)

    def forget_runs(self) -> None:
        """A new check starts: no program of its own has run yet."""
        self.last_run = None

    def run(self, program: Program, timeout: float | None = None) -> Run:
        payload = program.payload()
        if self.order:
            payload["order"] = self.order
        reply = self.sandbox.request(payload, timeout)
        if not reply.get("ok"):
            raise StudentFault(
                _("the request failed in your code: {error}").format(error=reply.get("error"))
            )
        reads = reply.get("reads")
        error = reply.get("error")
        if not isinstance(reads, dict) or not (error is None or isinstance(error, dict)):
            raise StudentFault(_("your code wrote over the grader's reply channel"))
        check_reads(program.steps, reads, error)  # every value in its step's shape
        self.cache.setdefault("blocked_imports", set()).update(reply.get("blocked_imports") or [])
        seen = reply.get("parents")
        if isinstance(seen, list) and seen and all(isinstance(n, str) for n in seen):
            self.cache["parents"] = next((n for n in seen if n != "_prev"), "_prev")
        self.last_run = Run(program, Reads(reads), error, self.cache.get("parents", "_prev"))
        return self.last_run

    def run_ok(self, program: Program, timeout: float | None = None) -> Run:
        """Run and fail the check if the student's code raised."""
        result = self.run(program, timeout)
        if result.error is not None:
            raise raised(result)
        return result

    def run_steps(self, steps: list[list[Any]], timeout: float | None = None) -> Run:
        """Run raw steps (networks, training) that have no Program helper."""
        return self.run_ok(Program(steps), timeout)


def raised(run: Run) -> Fail:
    """The failure of a check whose program the student's code raised in."""
    assert run.error is not None
    return Fail(
        _("your code raised {error}").format(error=run.describe_error()),
        counterexample=run.python(),
        observed={
            "raised": run.raised(),
            "message": str(run.error.get("message", ""))[:300],
            "steps": run.program.steps,
            "step": run.error.get("step"),
        },
        blocking=True,
    )


def mismatch(run: Run, expected: dict[str, tuple[float, float]], **how: Any) -> Fail | None:
    """``compare``'s failure, returned instead of raised (None when every number agrees)."""
    try:
        compare(run, expected, **how)
    except Fail as fail:
        return fail
    return None


def compare(
    run: Run,
    expected: dict[str, tuple[float, float]],
    *,
    what: Sequence[str] = ("data", "grad"),
    tol: float = 1e-9,
    summary: str = "",
    observed: dict[str, Any] | None = None,
) -> None:
    """Fail with every mismatching number when the student's reads differ from expected
    (``summary``: the failure's sentence, by default that they differ from PyTorch)."""
    wrong_expected: list[str] = []
    wrong_got: list[str] = []
    seen: dict[str, list[float]] = {}
    for name, (data, grad) in expected.items():
        got_data, got_grad = run.pair(name)
        seen[name] = [got_data, got_grad]
        for field_name, want, got in (("data", data, got_data), ("grad", grad, got_grad)):
            if field_name in what and not close(want, got, tol):
                wrong_expected.append(f"{name}.{field_name} = {fmt(want)}")
                wrong_got.append(f"{name}.{field_name} = {fmt(got)}")
    if wrong_expected:
        raise Fail(
            summary or _("the numbers differ from PyTorch float64"),
            expected=", ".join(wrong_expected),
            got=", ".join(wrong_got),
            counterexample=run.python(),
            observed={
                "steps": run.program.steps,
                "got": seen,
                "want": {k: list(v) for k, v in expected.items()},
                **(observed or {}),
            },
        )


MAX_GRAPH_STEPS = 200  # bigger programs (the 10,000-node chain) are not drawn
GRAPH_STEPS = {
    "const",
    "op",
    "sum",
    "set_grad",
    "local_backward",
    "walk_backward",
    "backward",
    "read",
}


def graph_nodes(ctx: Context, steps: list[list[Any]]) -> list[dict[str, Any]] | None:
    """Every node of a failed graph program with its expected (PyTorch) and actual grad.

    Re-runs the program reading every node, on the student's engine and in PyTorch,
    for the drawing in the HTML report. None when the program is not a plain graph.
    """
    from grader.expect import evaluate  # torch: imported only when a report needs it

    if not steps or len(steps) > MAX_GRAPH_STEPS or any(s[0] not in GRAPH_STEPS for s in steps):
        return None
    program = Program([s for s in steps if s[0] != "read"])
    names: list[str] = []
    parents: dict[str, list[str]] = {}
    ops: dict[str, str] = {}
    for s in program.steps:
        if s[0] == "const":
            names.append(s[1])
            parents[s[1]], ops[s[1]] = [], ""
        elif s[0] == "op":
            names.append(s[1])
            parents[s[1]] = [a for a in s[3:] if isinstance(a, str)]
            ops[s[1]] = s[2]
        elif s[0] == "sum":
            names.append(s[1])
            parents[s[1]], ops[s[1]] = [*s[2], s[3]], "sum"
    program.read(*names)
    try:
        want = evaluate(program)
        run = ctx.run(program)
    except Exception:  # the drawing is a convenience; the failure is already reported
        return None
    index = {n: i for i, n in enumerate(names)}
    nodes = []
    for name in names:
        try:
            data, grad = run.pair(name)
        except StudentFault:
            data, grad = math.nan, math.nan
        nodes.append(
            {
                "name": name,
                "op": ops[name],
                "data": data,
                "prev": [index[p] for p in parents[name]],
                "expected_grad": want[name][1],
                "got_grad": grad,
            }
        )
    return nodes
