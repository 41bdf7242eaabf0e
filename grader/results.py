"""Results: what grading found, as plain data every reporter reads.

A leaf module: it imports nothing heavy (no torch, no hypothesis, no checks), so
writing a report never loads the machinery that computed it. ``Outcome`` is one
check's result, ``Graded`` one submission's; ``effective_status`` and
``Graded.diagnosis`` (the costliest mistake) are computed here once for every report.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from grader.escape import MAX_FIELD, MAX_NOTES, MAX_REPORT, MAX_TAIL, clean
from grader.i18n import _


class Status(StrEnum):
    """What became of one check (a str: it is written to JSON and compared as text)."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not_run"
    GRADER_ERROR = "grader_error"


PASSED, FAILED, NOT_RUN, GRADER_ERROR = Status


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
    blocks: bool = False  # failed in a way that leaves checks depending on it nothing to run
    extra_max: float = 0.0  # for extra credit: the most it can add on top of the maximum
    charged_to: str | None = None  # failed with no diagnosis: the failed check it rests on

    @property
    def lost(self) -> float:
        return max(0.0, self.max_score - self.score)


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
    # The graded commit {"sha", "time", "source"} when known, and the late penalty
    # applied from its time {"deadline", "days", "percent", "points"} (grader.late).
    commit: dict[str, str] | None = None
    late: dict[str, Any] | None = None

    @property
    def score(self) -> float:
        """Points earned by the checks (before any late penalty)."""
        return sum(o.score for o in self.outcomes)

    @property
    def final_score(self) -> float:
        """The score less the late penalty: what the gradebook gets."""
        penalty = float((self.late or {}).get("points", 0.0))
        return round(max(self.score - penalty, 0.0), 2)

    @property
    def max_score(self) -> float:
        return sum(o.max_score for o in self.outcomes)

    @property
    def diagnosis(self) -> dict[str, str] | None:
        """The headline: the mistake, or the plain failure, that costs the most points
        (``headline``). Every report reads this one."""
        return headline(self.outcomes)

    def lab_score(self, lab: str) -> tuple[float, float]:
        mine = [o for o in self.outcomes if o.lab == lab]
        return sum(o.score for o in mine), sum(o.max_score for o in mine)

    def lab_cell(self, lab: str) -> str:
        """A lab's score as a report shows it ('+3 of 5 extra' for extra credit)."""
        score, top = self.lab_score(lab)
        extra = sum(o.extra_max for o in self.outcomes if o.lab == lab)
        if top == 0 and extra:
            return "+" + _("{score} of {extra} extra").format(
                score=f"{score:g}", extra=f"{extra:g}"
            )
        return f"{score:g} / {top:g}"

    @property
    def lost(self) -> list[Outcome]:
        """Failed checks that cost points (not extra credit, not 0-point checks)."""
        return [o for o in self.outcomes if o.status == FAILED and o.max_score > 0]

    @property
    def extra(self) -> list[Outcome]:
        """Extra credit that ran: earned in full, in part, or not at all."""
        return [o for o in self.outcomes if o.extra_max > 0 and o.status in (PASSED, FAILED)]

    @property
    def remarks(self) -> list[Outcome]:
        """Failed checks worth no points (given code): worth reading, cost nothing."""
        return [
            o for o in self.outcomes if o.status == FAILED and o.max_score == 0 and not o.extra_max
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "score": self.score,
            "max_score": self.max_score,
            "final_score": self.final_score,
            "diagnosis": self.diagnosis,
        }


def headline(outcomes: list[Outcome]) -> dict[str, str] | None:
    """The costliest failure, as {"code", "explanation", "reread"} (see ``costliest``)."""
    return costliest(outcomes)[0]


def costliest(outcomes: list[Outcome]) -> tuple[dict[str, str] | None, float]:
    """The headline and the points it explains: the costliest failure, as {"code",
    "explanation", "reread"}, or None when no point is lost (see ``Graded.diagnosis``).

    Every lost point is charged to its cause: the check itself, the check it waited
    for (``blocked_by``), or, for a failure with no diagnosis of its own, the failed
    check it rests on (``charged_to``: a network's op, a training run's network). Causes
    with the same diagnosis add up, and so do crashes with the same exception and
    message; a failure without a diagnosis stands for itself. The costliest cause wins
    (a named mistake first on a tie, then the first in rubric order). A cause is named
    only when a visible check shows it: the headline is shown at once (Gradescope's
    output), the hidden checks' results only after the due date. When no point is
    lost, a 0-point check's named mistake may still head the report.
    """
    by_id = {o.id: o for o in outcomes}

    def cause(o: Outcome) -> Outcome:
        seen: set[str] = set()
        while o.diagnosis is None and o.id not in seen:
            seen.add(o.id)
            then = o.blocked_by or getattr(o, "charged_to", None)
            if then not in by_id:
                break
            o = by_id[then]
        return o

    cost: dict[tuple[str, ...], float] = {}
    named: dict[tuple[str, ...], dict[str, str]] = {}
    shown: set[tuple[str, ...]] = set()
    checks: dict[tuple[str, ...], list[Outcome]] = {}
    for o in outcomes:
        if o.status == PASSED or o.lost <= 0:
            continue
        root = cause(o)
        key = _cause_key(root)
        if key is None:
            continue
        cost[key] = cost.get(key, 0.0) + o.lost
        checks.setdefault(key, []).append(o)
        if root.diagnosis is not None:
            named.setdefault(key, dict(root.diagnosis))
        if root.visibility == "visible":
            shown.add(key)
    candidates = [key for key in cost if key in shown]
    if not candidates:  # nothing costs points: a 0-point check's named mistake, if any
        remark = next(
            (
                o.diagnosis
                for o in outcomes
                if o.status == FAILED and o.diagnosis and o.visibility == "visible"
            ),
            None,
        )
        return (None if remark is None else dict(remark)), 0.0
    best = max(candidates, key=lambda k: (cost[k], k[0] == "diagnosis"))  # first of equals
    if best in named:
        return named[best], cost[best]
    return _plain(checks[best], cost[best]), cost[best]


def _cause_key(o: Outcome) -> tuple[str, ...] | None:
    """What a lost point is charged to: a diagnosis, one crash, or one failed check
    (None: not run for a reason of its own, such as a lab not attempted yet)."""
    if o.diagnosis is not None:
        return ("diagnosis", str(o.diagnosis.get("code")))
    if o.status != FAILED:
        return None
    raised = o.observed.get("raised") if isinstance(o.observed, dict) else None
    if raised:
        return ("raised", str(raised), str(o.observed.get("message", "")))
    return ("check", o.id)


def _plain(lost: list[Outcome], cost: float) -> dict[str, str]:
    """A headline for a failure no diagnosis names: what failed, plainly, with its cost."""
    first = next(o for o in lost if o.status == FAILED)
    ids = list(dict.fromkeys(o.id for o in lost))
    shown = ", ".join(f"`{i}`" for i in ids[:4])
    where = (
        _("{checks} and {count} more").format(checks=shown, count=len(ids) - 4)
        if len(ids) > 4
        else shown
    )
    raised = str(first.observed.get("raised") or "")
    found = UNREADABLE.match(str(first.observed.get("message", "")))
    if raised in ("SyntaxError", "IndentationError", "TabError") and found:
        message, file, line = found.groups()
        what = _("{file}, line {line}: {raised}: {message}. Python cannot read that file").format(
            file=file, line=line, raised=raised, message=message
        )
    elif raised:
        what = first.summary[:1].upper() + first.summary[1:]
    else:
        what = _("{check} fails: {summary}").format(check=first.name, summary=first.summary)
    what = clean(what, MAX_WHAT)  # the student's own exception text: no escapes, capped
    return {
        "code": clean(raised, 100) or first.id,
        "explanation": _("{failure}. This costs {points} points ({checks}).").format(
            failure=what.rstrip("."), points=points(cost), checks=where
        ),
        "reread": first.reread,
    }


MAX_WHAT = 400  # characters of a plain headline's failure


UNREADABLE = re.compile(r"^(.*) \(([^()]+), line (\d+)\)$")  # str() of a SyntaxError


def effective_status(g: Graded) -> str:
    """graded | invalid | grader_error (a graded submission with a grader error counts
    as a grader error: never a silent student score)."""
    if g.status != "graded":
        return g.status
    return GRADER_ERROR if any(o.status == GRADER_ERROR for o in g.outcomes) else "graded"


# ---------------------------------------------------------------- shared wording
# From <out>/<name>/report.* to the copy of the labs that the reports link to (no GitHub
# login starts with "_", so the folder never meets a student's).
LABS = "../_labs/"


def points(x: float) -> str:
    return f"{x:g}"


def summary_line(graded: Graded) -> str:
    if graded.status == "invalid":
        return _("Not graded: {problem}").format(problem=graded.problem)
    if graded.status == "grader_error":
        return _("Grader error (not your fault; your instructor has been told): {problem}").format(
            problem=graded.problem
        )
    score = {"score": points(graded.final_score), "max": points(graded.max_score)}
    if graded.late and graded.late.get("points"):
        return _("Score {score} / {max} ({earned} less {percent}% for {days} day(s) late)").format(
            **score,
            earned=points(graded.score),
            percent=points(graded.late["percent"]),
            days=graded.late["days"],
        )
    return _("Score {score} / {max}").format(**score)


def late_line(graded: Graded) -> str:
    """Which commit was graded and whether it was on time ('' when unknown)."""
    if not graded.commit:
        return ""
    sha, time = graded.commit["sha"][:12], graded.commit.get("time")
    commit = _("{sha} of {time}").format(sha=sha, time=time) if time else sha
    late = graded.late
    if not late:
        return _("Graded commit {commit}.").format(commit=commit)
    if not late["days"]:
        return _("Graded commit {commit}: on time (deadline {deadline}).").format(
            commit=commit, deadline=late["deadline"]
        )
    return _(
        "Graded commit {commit}: {days} day(s) after the deadline {deadline}, "
        "late penalty {percent}% (-{points} points)."
    ).format(
        commit=commit,
        days=late["days"],
        deadline=late["deadline"],
        percent=points(late["percent"]),
        points=points(late["points"]),
    )


def waiting(graded: Graded) -> list[Outcome]:
    """Checks not run because a check they depend on did not pass."""
    if graded.status != "graded":
        return []
    return [o for o in graded.outcomes if o.status == NOT_RUN and o.blocked_by]


def unclaimed(graded: Graded) -> list[Outcome]:
    """Checks not run for a reason of their own (e.g. no tests for the extra credit)."""
    if graded.status != "graded":
        return []
    return [o for o in graded.outcomes if o.status == NOT_RUN and not o.blocked_by]


def sections(graded: Graded) -> list[tuple[str, list[Outcome]]]:
    """The report's sections after "Points lost": extra credit, and 0-point checks."""
    return [(_("Extra credit"), graded.extra), (_("Worth a look (0 points)"), graded.remarks)]


def earned(o: Outcome) -> str:
    """What a check earned, as its heading shows it."""
    if o.extra_max:
        return "+" + _("{score} of {extra} extra credit").format(
            score=points(o.score), extra=points(o.extra_max)
        )
    if o.max_score == 0:
        return _("worth 0 points")
    return f"{points(o.score)} / {points(o.max_score)}"


def cap_graded(graded: Graded) -> Graded:
    """A copy of ``graded`` with every student-controlled field cleaned and capped, and
    the whole capped to MAX_REPORT characters (the rest of the outcomes keep only
    their one-line summary)."""
    budget = MAX_REPORT
    outcomes = []
    for o in graded.outcomes:
        limit = MAX_FIELD if budget > 0 else 200
        summary, expected, got = (clean(t, limit) for t in (o.summary, o.expected, o.got))
        example = None if o.counterexample is None else clean(o.counterexample, limit)
        budget -= len(summary) + len(expected) + len(got) + len(example or "")
        outcomes.append(
            dataclasses.replace(
                o, summary=summary, expected=expected, got=got, counterexample=example
            )
        )
    notes = [clean(n, MAX_FIELD) for n in graded.notes[:MAX_NOTES]]
    if len(graded.notes) > MAX_NOTES:
        notes.append(
            _("... and {count} more notes (cut)").format(count=len(graded.notes) - MAX_NOTES)
        )
    return dataclasses.replace(
        graded,
        problem=clean(graded.problem),
        outcomes=outcomes,
        notes=notes,
        output_tail=clean(graded.output_tail[-MAX_TAIL:], MAX_TAIL),
    )
