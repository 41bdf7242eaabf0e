"""Results: what grading found, as plain data every reporter reads.

A leaf module: it imports nothing heavy (no torch, no hypothesis, no checks), so
writing a report never loads the machinery that computed it. ``Outcome`` is one
check's result, ``Graded`` one submission's; ``effective_status`` and
``Graded.diagnosis`` (the costliest mistake) are computed here once for every report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


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
        """The mistake that costs the most points: the points lost by the checks it
        explains, and by the checks they kept from running (first in rubric order on
        a tie)."""
        return headline(self.outcomes)

    def lab_score(self, lab: str) -> tuple[float, float]:
        mine = [o for o in self.outcomes if o.lab == lab]
        return sum(o.score for o in mine), sum(o.max_score for o in mine)

    def lab_cell(self, lab: str) -> str:
        """A lab's score as a report shows it ('+3 of 5 extra' for extra credit)."""
        score, top = self.lab_score(lab)
        extra = sum(o.extra_max for o in self.outcomes if o.lab == lab)
        if top == 0 and extra:
            return f"+{score:g} of {extra:g} extra"
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
    """The diagnosis that explains the most lost points (see ``Graded.diagnosis``)."""
    by_id = {o.id: o for o in outcomes}

    def cause(o: Outcome) -> dict[str, str] | None:
        seen: set[str] = set()
        while o.diagnosis is None and o.blocked_by in by_id and o.id not in seen:
            seen.add(o.id)
            o = by_id[o.blocked_by]
        return o.diagnosis

    cost: dict[str, float] = {}
    found: dict[str, dict[str, str]] = {}
    for o in outcomes:
        diagnosis = cause(o) if o.status != PASSED else None
        if diagnosis is not None:
            found.setdefault(diagnosis["code"], diagnosis)
            cost[diagnosis["code"]] = cost.get(diagnosis["code"], 0.0) + o.lost
    if not found:
        return None
    best = max(found, key=lambda code: cost[code])  # max keeps the first of equals
    return found[best]


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
        return f"Not graded: {graded.problem}"
    if graded.status == "grader_error":
        return f"Grader error (not your fault; your instructor has been told): {graded.problem}"
    line = f"Score {points(graded.final_score)} / {points(graded.max_score)}"
    if graded.late and graded.late.get("points"):
        line += (
            f" ({points(graded.score)} less {points(graded.late['percent'])}% "
            f"for {graded.late['days']} day(s) late)"
        )
    return line


def late_line(graded: Graded) -> str:
    """Which commit was graded and whether it was on time ('' when unknown)."""
    if not graded.commit:
        return ""
    line = f"Graded commit {graded.commit['sha'][:12]}"
    if graded.commit.get("time"):
        line += f" of {graded.commit['time']}"
    late = graded.late
    if late:
        if late["days"]:
            line += (
                f": {late['days']} day(s) after the deadline {late['deadline']}, "
                f"late penalty {points(late['percent'])}% "
                f"(-{points(late['points'])} points)"
            )
        else:
            line += f": on time (deadline {late['deadline']})"
    return line + "."


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
    return [("Extra credit", graded.extra), ("Worth a look (0 points)", graded.remarks)]


def earned(o: Outcome) -> str:
    """What a check earned, as its heading shows it."""
    if o.extra_max:
        return f"+{points(o.score)} of {points(o.extra_max)} extra credit"
    if o.max_score == 0:
        return "worth 0 points"
    return f"{points(o.score)} / {points(o.max_score)}"
