"""Run: every check of the rubric on one submission, in dependency order, and score it.

Outcomes are plain data (``Outcome``), ready for the reports. Three kinds of trouble
are kept apart: the student's code failed a check (``failed``), a check could not run
because a check it depends on failed (``not_run``), and the grader itself broke
(``grader_error``, never counted against the student's score in the summary).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

from grader.checks import REGISTRY, Context, Fail, quality
from grader.checks.base import graph_nodes
from grader.checks.student import NoTests
from grader.diagnose import diagnose_check, explain, probe
from grader.discover import Submission
from grader.rubric import RUBRIC, Rubric
from grader.sandbox import NotRun, Sandbox, StudentFault

PASSED, FAILED, NOT_RUN, GRADER_ERROR = "passed", "failed", "not_run", "grader_error"


@dataclass
class Outcome:
    id: str
    lab: str
    name: str
    status: str
    score: float
    max_score: float
    visibility: str
    summary: str = ""
    expected: str = ""
    got: str = ""
    counterexample: str | None = None
    hint: str = ""
    reread: str = ""
    blocked_by: str | None = None
    seconds: float = 0.0
    observed: dict[str, Any] = field(default_factory=dict)
    diagnosis: dict[str, str] | None = None  # code, explanation, reread


@dataclass
class Graded:
    """Everything the reports need about one graded submission."""

    name: str
    path: str
    status: str  # graded | invalid | grader_error
    problem: str  # for invalid / grader_error: what went wrong, one line
    outcomes: list[Outcome]
    labs: dict[str, str]
    seconds: float
    notes: list[str] = field(default_factory=list)
    output_tail: str = ""

    @property
    def score(self) -> float:
        return sum(o.score for o in self.outcomes)

    @property
    def max_score(self) -> float:
        return sum(o.max_score for o in self.outcomes)

    @property
    def diagnosis(self) -> dict[str, str] | None:
        """The most likely mistake: that of the first failed check that has one."""
        return next((o.diagnosis for o in self.outcomes if o.diagnosis), None)

    def lab_score(self, lab: str) -> tuple[float, float]:
        mine = [o for o in self.outcomes if o.lab == lab]
        return sum(o.score for o in mine), sum(o.max_score for o in mine)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "score": self.score,
            "max_score": self.max_score,
            "diagnosis": self.diagnosis,
        }


def selected(rubric: Rubric, labs: set[str] | None, public: bool) -> list[str]:
    """Rubric ids in the chosen labs (and only the visible ones when ``public``)."""
    return [
        cid
        for cid, item in rubric.items.items()
        if (labs is None or item.lab in labs) and (not public or item.visibility == "visible")
    ]


def depends(cid: str, rubric: Rubric, public: bool = False) -> list[str]:
    """Dependencies of a check that this run grades (others count as satisfied).

    A public run never runs or names a hidden check, even as a dependency.
    """
    return [
        d
        for d in REGISTRY[cid].depends
        if d in rubric.items
        and d in REGISTRY
        and (not public or rubric.items[d].visibility == "visible")
    ]


def order(rubric: Rubric, labs: set[str] | None, public: bool = False) -> list[str]:
    """Check ids to run: the selected checks and what they depend on, deps first."""
    wanted = [cid for cid in selected(rubric, labs, public) if cid in REGISTRY]
    result: list[str] = []
    seen: set[str] = set()

    def visit(cid: str) -> None:
        if cid in seen:
            return
        seen.add(cid)
        for dep in depends(cid, rubric, public):
            visit(dep)
        result.append(cid)

    for cid in wanted:
        visit(cid)
    return result


def _outcome(cid: str, rubric: Rubric, status: str, partial: float = 0.0, **extra: Any) -> Outcome:
    item = rubric.items[cid]
    share = 1.0 if status == PASSED else partial
    return Outcome(
        id=cid,
        lab=item.lab,
        name=item.name,
        status=status,
        score=round(item.points * share, 2),
        max_score=0.0 if item.extra_credit else item.points,
        visibility=item.visibility,
        hint="" if status == PASSED else item.message,
        reread=item.reread,
        **extra,
    )


def run_checks(
    submission: Submission,
    rubric: Rubric = RUBRIC,
    labs: set[str] | None = None,
    public: bool = False,
) -> Graded:
    """Grade one submission: never raises for anything the student's code does."""
    start = time.monotonic()
    ids = order(rubric, labs, public)
    shown = set(selected(rubric, labs, public))
    outcomes: dict[str, Outcome] = {}
    with Sandbox(submission.path, rubric.limits) as sandbox:
        ctx = Context(sandbox, sandbox.package_dir, submission.path)
        if quality.IDS & set(ids):
            quality.start(ctx)  # ruff and mypy read the copy while the checks run
        notes = list(sandbox.notes)
        notes.extend(_import_notes(sandbox))
        for cid in ids:
            failed_dep = next(
                (d for d in depends(cid, rubric, public) if outcomes[d].status != PASSED), None
            )
            if failed_dep is not None:
                dep = outcomes[failed_dep]
                reason = (
                    "the grader failed on it" if dep.status == GRADER_ERROR else "it did not pass"
                )
                outcomes[cid] = _outcome(
                    cid,
                    rubric,
                    NOT_RUN,
                    summary=f"not run because '{dep.name}' ({failed_dep}) {reason}",
                    blocked_by=failed_dep,
                )
                continue
            outcomes[cid] = _run_one(cid, ctx, rubric)
        failed = [o for o in outcomes.values() if o.status == FAILED]
        if failed:
            facts = probe(ctx)
            for o in failed:
                code = diagnose_check(o.id, o.observed, facts)
                o.diagnosis = explain(code) if code else None
                if "got" in o.observed and "steps" in o.observed:
                    nodes = graph_nodes(ctx, o.observed["steps"])
                    if nodes:
                        o.observed["graph"] = nodes
        quality.stop(ctx)
        tail = sandbox.output_tail()
        notes.extend(f"your code {event}" for event in dict.fromkeys(sandbox.events))
    return Graded(
        name=submission.name,
        path=str(submission.path),
        status="graded",
        problem="",
        outcomes=[outcomes[cid] for cid in ids if cid in shown],
        labs={lab: title for lab, title in rubric.labs.items() if labs is None or lab in labs},
        seconds=time.monotonic() - start,
        notes=notes,
        output_tail=tail,
    )


def _run_one(cid: str, ctx: Context, rubric: Rubric) -> Outcome:
    t0 = time.monotonic()
    try:
        REGISTRY[cid].func(ctx)
    except NoTests as none:
        return _outcome(cid, rubric, NOT_RUN, summary=none.summary, seconds=time.monotonic() - t0)
    except Fail as fail:
        return _outcome(
            cid,
            rubric,
            FAILED,
            partial=fail.partial,
            summary=fail.summary,
            expected=fail.expected,
            got=fail.got,
            counterexample=fail.counterexample,
            observed=fail.observed,
            seconds=time.monotonic() - t0,
        )
    except NotRun as skipped:  # needs a step the student's code already hung in
        return _outcome(cid, rubric, NOT_RUN, summary=str(skipped), seconds=time.monotonic() - t0)
    except StudentFault as fault:  # a hang, a crash, the time budget used up, ...
        return _outcome(cid, rubric, FAILED, summary=str(fault), seconds=time.monotonic() - t0)
    except Exception:
        return _outcome(
            cid,
            rubric,
            GRADER_ERROR,
            summary="the grader itself failed on this check (not your fault): "
            + traceback.format_exc(limit=3).strip().splitlines()[-1],
            observed={"traceback": traceback.format_exc(limit=6)},
            seconds=time.monotonic() - t0,
        )
    return _outcome(cid, rubric, PASSED, seconds=time.monotonic() - t0)


def _import_notes(sandbox: Sandbox) -> list[str]:
    """One line per module of the submission that does not import."""
    try:
        reply = sandbox.request({"kind": "hello"})
    except StudentFault as fault:
        return [f"importing your package failed: {fault}"]
    notes = []
    if not reply.get("hidden"):
        notes.append("(grader) your code could see the file system: no mount namespace here")
    if reply.get("network_isolated") is False:
        notes.append(
            "(grader) your code ran with network access: this machine refused a network namespace"
        )
    modules = reply.get("modules")
    if isinstance(modules, dict):
        for name, error in modules.items():
            if isinstance(error, dict):
                what = f"{error.get('type')}: {error.get('message')}"
                notes.append(f"minigrad/{name}.py does not import: {what}")
    return notes


def invalid(
    submission: Submission,
    problem: str,
    rubric: Rubric = RUBRIC,
    labs: set[str] | None = None,
    status: str = "invalid",
    public: bool = False,
) -> Graded:
    """A report for a submission that could not be graded at all (score 0 or error)."""
    ids = selected(rubric, labs, public)
    outcomes = [
        _outcome(cid, rubric, NOT_RUN if status == "invalid" else GRADER_ERROR, summary=problem)
        for cid in ids
    ]
    return Graded(
        name=submission.name,
        path=str(submission.path),
        status=status,
        problem=problem,
        outcomes=outcomes,
        labs={lab: t for lab, t in rubric.labs.items() if labs is None or lab in labs},
        seconds=0.0,
    )
