"""Grade rows: one row per student of the class record, and the CSV files made of them.

``grade_rows`` reads the class record (grader/classbook.py) once into ``GradeRow``s: a
submission that could not be graded has an EMPTY score and its reason, never a 0;
scores are after the late penalty. With the class's roster, every student on it has a
row too: one with no graded submission is blank with the reason (no login in the
roster, or no folder of theirs graded). ``grades_csv`` writes the instructor's
``grades.csv`` from them; grader/export.py writes the gradebooks' import files.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.classbook import blank_reason, graded_of
from grader.escape import csv_cell
from grader.i18n import _
from grader.results import points
from grader.roster import Roster, Student, no_login


@dataclass(frozen=True)
class GradeRow:
    login: str
    student_id: str
    email: str
    score: str  # after the late penalty; '' when there is no grade
    max: str
    labs: list[str]  # each lab's score in the order asked for ('' when no grade)
    late: str  # '-1.5' (points taken off), '' when none
    commit: str
    commit_time: str
    reason: str  # why there is no grade ('' when there is one)
    student: Student | None = None  # the roster's row for this student, if on the roster
    graded: bool = True  # False: on the roster, but no submission of theirs was graded


def grade_rows(
    record: Mapping[str, Mapping[str, Any]],
    labs: Mapping[str, str] | None = None,
    roster: Roster | None = None,
) -> list[GradeRow]:
    """One row per entry of ``record`` (with the score of each of ``labs``), then one per
    student of ``roster`` who has no entry, in the roster's order."""
    rows = []
    for name, data in record.items():
        g = graded_of(data)
        reason = blank_reason(g)
        late = g.late or {}
        student = roster.find(name) if roster else None  # the roster says who they are
        rows.append(
            GradeRow(
                login=name,
                student_id=(student and student.student_id) or str(data.get("student_id", "")),
                email=(student and student.email) or str(data.get("email", "")),
                score="" if reason else points(g.final_score),
                max=points(g.max_score),
                labs=["" if reason else points(g.lab_score(lab)[0]) for lab in labs or {}],
                late=f"-{points(float(late['points']))}" if late.get("points") else "",
                commit=(g.commit or {}).get("sha", ""),
                commit_time=(g.commit or {}).get("time", ""),
                reason=reason,
                student=student,
            )
        )
    for student, reason in ungraded(record, roster):
        rows.append(
            GradeRow(
                login=student.login,
                student_id=student.student_id,
                email=student.email,
                score="",
                max="",
                labs=["" for _ in labs or {}],
                late="",
                commit="",
                commit_time="",
                reason=reason,
                student=student,
                graded=False,
            )
        )
    return rows


def ungraded(
    record: Mapping[str, Mapping[str, Any]], roster: Roster | None
) -> list[tuple[Student, str]]:
    """The roster's students with no entry in ``record``, each with the reason."""
    if roster is None:
        return []
    folded = {name.casefold() for name in record}
    missing = []
    for student in roster.students:
        if not student.login:
            missing.append((student, _("not graded: {problem}").format(problem=no_login(roster))))
        elif student.login.casefold() not in folded:
            why = _("not graded: no submission folder {login} was graded")
            missing.append((student, why.format(login=repr(student.login))))
    return missing


def grades_csv(
    record: Mapping[str, Mapping[str, Any]],
    labs: dict[str, str],
    path: Path,
    roster: Roster | None = None,
) -> None:
    """The class grades: one row per submission, then per student of the roster with
    none, for the instructor (the import files for gradebooks come from ``nox -s
    export``). A student without a grade has empty scores and the reason in ``note``,
    never a 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["name", "student_id", "email", "total", *labs, "late_penalty", "commit", "note"]
        )
        for r in grade_rows(record, labs, roster):
            writer.writerow(
                [
                    csv_cell(r.login),  # student-controlled text: no formula survives
                    csv_cell(r.student_id),
                    csv_cell(r.email),
                    r.score,
                    *r.labs,
                    r.late,
                    r.commit,
                    csv_cell(r.reason),
                ]
            )
