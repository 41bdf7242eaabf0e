"""The report model: what one submission's reports say, computed once from ``Graded``.

Every renderer (Markdown, HTML, JUnit, Gradescope) reads a ``ReportModel``: which
sections a report has and in what order, which checks each lists, the headline mistake
and each failing check's diagnosis and graph. The renderers only choose the words'
markup; no condition on the graded data is written twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grader import i18n
from grader.i18n import _
from grader.results import (
    GRADER_ERROR,
    LABS,
    PASSED,
    Graded,
    Outcome,
    late_line,
    sections,
    summary_line,
    unclaimed,
    waiting,
)

Diagnosis = dict[str, str]  # {"code", "explanation", "reread"}


@dataclass(frozen=True)
class LabRow:
    title: str
    score: str  # as Graded.lab_cell words it
    passed: int
    checks: int


@dataclass(frozen=True)
class ReportModel:
    """One submission's report, in the order every report shows it."""

    graded: Graded
    title: str
    summary: str  # the score line, or why there is no score
    late: str  # the graded commit and its lateness ('' when unknown)
    likely: Diagnosis | None  # the headline mistake
    labs: list[LabRow]
    errors: list[Outcome]  # grader errors in a graded submission
    groups: list[tuple[str, list[Outcome]]]  # points lost, extra credit, 0-point checks
    unclaimed: list[Outcome]  # not run for a reason of their own
    waiting: list[Outcome]  # not run until a check they depend on passes
    output_tail: str  # what the code printed last ('' when nothing)

    @property
    def name(self) -> str:
        return self.graded.name

    @property
    def notes(self) -> list[str]:
        return self.graded.notes

    @property
    def outcomes(self) -> list[Outcome]:
        return self.graded.outcomes

    @property
    def not_graded(self) -> bool:
        return self.graded.status != "graded"

    @property
    def all_passed(self) -> bool:
        """Nothing lost, nothing waiting, nothing the grader failed on."""
        return not self.graded.lost and not self.waiting and not self.not_graded and not self.errors


def build(graded: Graded) -> ReportModel:
    """The report model of ``graded`` (its text already cleaned by results.cap_graded)."""
    labs = []
    for lab, title in graded.labs.items():
        mine = [o for o in graded.outcomes if o.lab == lab]
        passed = sum(o.status == PASSED for o in mine)
        labs.append(LabRow(_(title), graded.lab_cell(lab), passed, len(mine)))
    errors = [o for o in graded.outcomes if o.status == GRADER_ERROR]
    groups = [(_("Points lost"), graded.lost), *sections(graded)]
    return ReportModel(
        graded=graded,
        title=_("minigrad report: {name}").format(name=graded.name),
        summary=summary_line(graded),
        late=late_line(graded),
        likely=_normal(graded.diagnosis),
        labs=labs,
        errors=errors if graded.status == "graded" else [],
        groups=[(_(title), group) for title, group in groups if group],
        unclaimed=unclaimed(graded),
        waiting=waiting(graded),
        output_tail=graded.output_tail.rstrip() if graded.output_tail.strip() else "",
    )


def of(report: ReportModel | Graded) -> ReportModel:
    """A renderer's argument as a model (built here when given a ``Graded``)."""
    return report if isinstance(report, ReportModel) else build(report)


def _normal(found: object) -> Diagnosis | None:
    if not isinstance(found, Mapping) or not found.get("code"):
        return None
    return {key: str(found.get(key) or "") for key in ("code", "explanation", "reread")}


def diagnosis_of(o: Outcome) -> Diagnosis | None:
    """The likely classic mistake an outcome names, as {"code", "explanation", "reread"}.

    Read with ``getattr``: outcomes from before diagnoses existed have no such field.
    """
    return _normal(getattr(o, "diagnosis", None))


def graph_of(o: Outcome) -> list[Any] | None:
    """The failing graph a check observed (a list of nodes), if any."""
    nodes = o.observed.get("graph") if isinstance(o.observed, Mapping) else None
    return nodes if isinstance(nodes, list) and nodes else None


def curve_of(o: Outcome) -> dict[str, Any] | None:
    """The training curve a check kept (``losses``, ``correct``, ``goal``, ``seed``)."""
    curve = o.observed.get("curve") if isinstance(o.observed, Mapping) else None
    if not isinstance(curve, Mapping) or not isinstance(curve.get("losses"), list):
        return None
    return dict(curve)


def lab_path(reread: str) -> str:
    """The lab statement a reread names, as the student's repository holds it, in the
    language being written: ``labs/lab01-ops.md#add``, or ``labs/es/lab01-ops.md#add``
    in Spanish (``labs/<lang>/`` has the same files and anchors)."""
    lang = i18n.current()
    return f"labs/{reread}" if lang == i18n.ENGLISH else f"labs/{lang}/{reread}"


def lab_href(reread: str) -> str:
    """The link from a report to the copy of that statement next to the reports
    (``report.write_labs`` copies ``labs/`` with its translations)."""
    return LABS + lab_path(reread).removeprefix("labs/")


def check_output(o: Outcome) -> str:
    """A check's result as plain text, for the tools' own viewers (JUnit, Gradescope)."""
    if o.status == PASSED:
        return _("passed")
    parts = [o.summary]
    if o.expected:
        parts.append(_("expected: {expected}").format(expected=o.expected))
    if o.got:
        parts.append(_("got: {got}").format(got=o.got))
    if o.counterexample:
        parts.append(_("smallest failing example:") + "\n" + o.counterexample)
    if o.hint:
        parts.append(_("hint: {hint}").format(hint=o.hint))
    if o.reread:
        parts.append(_("reread: {path}").format(path=lab_path(o.reread)))
    return "\n".join(parts)
