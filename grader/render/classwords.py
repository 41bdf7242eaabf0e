"""The class pages' words: what ``index.html`` and ``summary.md`` (grader/classview.py)
say about a submission (its headline, lateness and status), the tables' column names,
and the sentences over the numbers, in the language being written (grader.i18n).
Column names and notes are module constants marked with ``N_``, translated where shown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from grader.classic import MISTAKES
from grader.i18n import N_, _
from grader.results import (
    FAILED,
    GRADER_ERROR,
    NOT_RUN,
    Graded,
    Outcome,
    effective_status,
    points,
)
from grader.rubric import RUBRIC
from grader.similarity import Report


class ClassStats(Protocol):
    """The numbers the sentences word (read only: grader.classview.ClassStats)."""

    @property
    def count(self) -> int: ...

    @property
    def counted(self) -> int: ...

    @property
    def invalid(self) -> int: ...

    @property
    def grader_errors(self) -> int: ...

    @property
    def missing(self) -> int: ...

    @property
    def mean(self) -> float: ...

    @property
    def median(self) -> float: ...

    @property
    def max_score(self) -> float: ...

    @property
    def untouched(self) -> Collection[str]: ...

    @property
    def not_graded(self) -> int: ...


# Each report is in its student's language; the class page says a check's title and a
# mistake's explanation in its own, from the rubric's and the diagnoses' English text.
def check_title(o: Outcome) -> str:
    """The rubric's (English) title of ``o``'s check: translate it where shown."""
    item = RUBRIC.items.get(o.id)
    return item.name if item else o.name


def mistake_text(found: Mapping[str, object]) -> str:
    """The (English) explanation of a diagnosis: translate it where shown."""
    known = MISTAKES.get(str(found.get("code", "")))
    return known.explain if known else str(found.get("explanation", ""))


def headline(g: Graded) -> str:
    """What a TA reads first about a submission: its likely mistake, or why it has none."""
    if g.status == "invalid":
        return g.problem or _("not gradable")
    if effective_status(g) == GRADER_ERROR:
        return _("grader error, regrade: {problem}").format(
            problem=g.problem or _("see the report")
        )
    likely = g.diagnosis
    if likely and likely.get("explanation"):
        return _(mistake_text(likely))
    lost = [o for o in g.outcomes if o.status in (FAILED, GRADER_ERROR) and o.max_score > 0]
    if lost:
        first = lost[0]
        name = _(check_title(first))
        if len(lost) > 1:
            return _("fails {check}: {name} (and {more} more)").format(
                check=first.id, name=name, more=len(lost) - 1
            )
        return _("fails {check}: {name}").format(check=first.id, name=name)
    if any(o.status == NOT_RUN and o.max_score > 0 for o in g.outcomes):
        return _("checks not run")
    return _("every check passed")


UNTOUCHED = N_("attempted no lab: every TODO stub of the skeleton is still there")


def headline_of(g: Graded, stats: ClassStats) -> str:
    return _(UNTOUCHED) if g.name in stats.untouched else headline(g)


def lateness(g: Graded) -> str:
    """'on time', '2 d late, -20%', or '' when no commit time is known."""
    late = g.late
    if not late:
        return ""
    if not late.get("days"):
        return _("on time")
    return _("{days} d late, -{percent}%").format(
        days=late["days"], percent=points(float(late["percent"]))
    )


def number(x: float) -> str:
    return f"{x:.1f}" if x != int(x) else f"{x:g}"


STATUS_WORDS = {"graded": N_("graded"), "invalid": N_("invalid"), GRADER_ERROR: N_("grader error")}
STATUS_CODES = {"graded": N_("graded"), "invalid": N_("invalid"), GRADER_ERROR: N_("grader_error")}


NO_SUBMISSION = N_("no submission")
CHECK_COLUMNS = [
    N_("check"),
    N_("lab"),
    N_("name"),
    N_("pass rate"),
    N_("attempted"),
    N_("failed"),
    N_("not run"),
]
STATS_COLUMNS = [
    N_("graded"),
    N_("mean"),
    N_("median"),
    N_("min"),
    N_("max"),
    N_("out of"),
    N_("not graded"),
]


def status_text(status: str) -> str:
    """A submission's status in text tables (summary.md, the console): the code itself
    in English (``grader_error``), its words in another language."""
    return _(STATUS_CODES.get(status, status))


def column_names(names: Sequence[str]) -> list[str]:
    return [_(name) for name in names]


def count_line(stats: ClassStats) -> str:
    """'5 submission(s): 3 graded, 2 not graded (1 not gradable, 1 with a grader error).'"""
    line = _("{count} submission(s): {graded} graded").format(
        count=stats.count, graded=stats.counted
    )
    if stats.not_graded:
        why = []
        if stats.invalid:
            why.append(_("{count} not gradable").format(count=stats.invalid))
        if stats.grader_errors:
            why.append(_("{count} with a grader error").format(count=stats.grader_errors))
        line += ", " + _("{count} not graded ({why})").format(
            count=stats.not_graded, why=", ".join(why)
        )
    if stats.missing:
        line += "; " + _("{count} student(s) on the roster without a submission").format(
            count=stats.missing
        )
    return line + "."


def mean_line(stats: ClassStats) -> str:
    if not stats.counted:
        return _("Nothing was graded, so there is no mean.")
    line = _("Mean {mean}, median {median} of {top}, over the {count} graded submission(s)").format(
        mean=number(stats.mean),
        median=number(stats.median),
        top=number(stats.max_score),
        count=stats.counted,
    )
    if stats.not_graded or stats.missing:
        line += "; " + _("those not graded are left out, never counted as 0")
    return line + "."


def stats_note(stats: ClassStats) -> str:
    note = _(
        "Mean, median, min, max and the bars count the {count} graded submission(s), each "
        "after any late penalty. Not graded (not gradable or a grader error, left out): "
        "{not_graded}"
    ).format(count=stats.counted, not_graded=stats.not_graded)
    if stats.missing:
        note += "; " + _("on the roster without a submission: {count}").format(count=stats.missing)
    return note + "."


CHECKS_NOTE = N_(
    "A check's pass rate is the share that passed it among the graded submissions that "
    "attempted its lab (attempted: left fewer of the lab's TODO stubs than the skeleton "
    "has; for a lab without stubs, ran one of its checks). Submissions not graded are "
    "not counted."
)
DIAGNOSES_NOTE = N_(
    "Times: the failed checks that name the mistake; students: the graded submissions that made it."
)


def similar_text(similar: Report) -> str:
    if similar.problem:
        return _("Not checked: {problem}.").format(problem=similar.problem)
    counts = {
        "engines": len(similar.compared),
        "entries": len(similar.archive),
        "pairs": len(similar.flagged),
    }
    if similar.archive and similar.flagged:
        text = _(
            "{engines} engine(s) compared with each other and with {entries} archive "
            "entr(ies); {pairs} pair(s) unusually alike (the skeleton's code not counted)."
        )
    elif similar.archive:
        text = _(
            "{engines} engine(s) compared with each other and with {entries} archive "
            "entr(ies); none unusually alike."
        )
    elif similar.flagged:
        text = _(
            "{engines} engine(s) compared with each other; {pairs} pair(s) unusually alike "
            "(the skeleton's code not counted)."
        )
    else:
        text = _("{engines} engine(s) compared with each other; none unusually alike.")
    return text.format(**counts)


SIMILAR_COLUMNS = [
    N_("submission"),
    N_("alike"),
    N_("its code matched"),
    N_("other matched"),
    N_("side by side"),
]
DIAGNOSIS_COLUMNS = [
    N_("diagnosis"),
    N_("times"),
    N_("students"),
    N_("in checks"),
    N_("explanation"),
]
STUDENT_COLUMNS = [
    N_("name"),
    N_("score"),
    N_("late"),
    N_("headline mistake"),
    N_("status"),
    N_("report"),
]
