"""Export: the class record (``<reports>/class.json``) as a gradebook's import file.

    python -m grader.export --format canvas|moodle|csv [--reports DIR] [--file OUT]
                            [--assignment NAME]

- ``canvas``: Canvas's gradebook import CSV: ``Student``, ``ID``, ``SIS User ID``,
  ``SIS Login ID``, ``Section``, then ONE column named after the assignment (every other
  column Canvas does not know becomes a new assignment, so there is no max, status or
  note column). Canvas matches rows on ID, SIS User ID and SIS Login ID: with a Canvas
  roster those five columns are the roster's own cells, written back verbatim; with
  another roster, the student's name, the student id and the email stand in (Canvas's
  own ID left empty).
- ``moodle``: for Moodle's "Import grades from CSV": the roster's ``First name`` and
  ``Surname`` when it has them, ``Email address``, ``ID number``, ``Username`` (the
  roster's own cells when it has those columns, a Canvas roster's ``SIS Login ID`` as
  the username; else its email, student id and login),
  the assignment, and ``Feedback`` (map it to the assignment's feedback). Map one
  identifier column to the matching Moodle user field.
- ``csv``: a plain file: login, student id, email, score, out of, late penalty, commit,
  commit time, reason.

With a roster (stored in the class record by ``grade --roster``, or by collect), the
Canvas and Moodle files hold exactly the roster's students, in its order: a student
with no graded submission is left blank with the reason, and a graded folder that is
not on the roster is left out and named in a warning (the plain CSV keeps it).

A student who could not be graded (not gradable, a grader error, no submission) gets
an EMPTY score, never a 0, and the reason: in the Feedback/reason column, and for
Canvas (which imports no comments) in ``<file>.reasons.txt`` and on the terminal.
Scores are after the late penalty.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from grader import classbook
from grader.escape import csv_cell as cell
from grader.render.grades import GradeRow, grade_rows
from grader.roster import FIRST_NAME, LAST_NAME, SECTION, Roster, key

FORMATS = ("canvas", "moodle", "csv")
DEFAULT_ASSIGNMENT = "minigrad"
CANVAS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def _text(value: object) -> object:
    """Student-controlled text as a cell no spreadsheet runs as a formula; numbers as is."""
    return cell(value) if isinstance(value, str) else value


def _canvas(r: GradeRow, roster: Roster | None) -> list[str]:
    """The five identity cells of a Canvas row: the roster's own where it has them."""
    s = r.student
    derived = {
        "Student": (s.name if s else "") or r.login,
        "ID": "",
        "SIS User ID": r.student_id,
        "SIS Login ID": r.email,
        "Section": (s.get(*SECTION) if s else None) or "",
    }
    canvas = roster is not None and roster.kind == "canvas"
    cells = []
    for column in CANVAS:
        # "ID" is Canvas's own number: taken from a Canvas roster only, never from a
        # column of another roster that happens to be called "id"
        own = s.get(column) if s and (canvas or column != "ID") else None
        cells.append(cell(derived[column] if own is None else own))
    return cells


def _moodle_names(roster: Roster | None) -> list[tuple[str, tuple[str, ...]]]:
    """The roster's own name columns Moodle shows: (header as read, its synonyms)."""
    if roster is None:
        return []
    found: list[tuple[str, tuple[str, ...]]] = []
    for synonyms in (FIRST_NAME, LAST_NAME):
        header = next((c for c in roster.columns if key(c) in synonyms), None)
        if header is not None:
            found.append((header.strip(), synonyms))
    return found


def _moodle(r: GradeRow, names: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    s = r.student

    def own(*columns: str) -> str | None:
        return s.get(*columns) if s else None

    first = [own(*synonyms) or "" for _, synonyms in names]
    email = own("Email address", "Email")
    number = own("ID number")
    # Moodle's username is the institution's login: a Canvas roster's SIS Login ID
    username = own("Username", "SIS Login ID")
    feedback = r.reason or (f"late penalty {r.late} points" if r.late else "")
    return [
        *(cell(x) for x in first),
        cell(r.email if email is None else email),
        cell(r.student_id if number is None else number),
        cell(r.login if username is None else username),
        r.score,
        cell(feedback),
    ]


def rows_for(
    fmt: str, record: Mapping[str, Mapping[str, Any]], roster: Roster | None
) -> tuple[list[GradeRow], list[str]]:
    """The rows the ``fmt`` file holds, and the graded folders left out of it (for
    Canvas and Moodle with a roster: those not on it)."""
    rows = grade_rows(record, roster=roster)
    if roster is None or fmt == "csv":
        return rows, []
    order = {id(s): i for i, s in enumerate(roster.students)}
    kept = sorted(
        (r for r in rows if r.student is not None), key=lambda r: order.get(id(r.student), 0)
    )
    return kept, [r.login for r in rows if r.student is None]


def render(
    fmt: str,
    record: Mapping[str, Mapping[str, Any]],
    assignment: str,
    roster: Roster | None = None,
) -> str:
    """The import file's text for ``fmt``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    table, _ = rows_for(fmt, record, roster)
    if fmt == "canvas":
        writer.writerow([*CANVAS, assignment])
        for r in table:
            writer.writerow([*_canvas(r, roster), r.score])
    elif fmt == "moodle":
        names = _moodle_names(roster)
        header = [h for h, _ in names] + ["Email address", "ID number", "Username"]
        writer.writerow([*header, assignment, "Feedback"])
        for r in table:
            writer.writerow(_moodle(r, names))
    else:
        keys = ["login", "student_id", "email", "score", "max", "late", "commit"]
        keys += ["commit_time", "reason"]
        writer.writerow(keys)
        for r in table:
            writer.writerow([_text(getattr(r, k)) for k in keys])
    return buffer.getvalue()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"export: {message}. Run `python -m grader.export --help`.\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m grader.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument(
        "--reports", type=Path, default=Path("reports"), help="graded class (default: reports/)"
    )
    parser.add_argument("--file", type=Path, help="default: <reports>/<format>-grades.csv")
    parser.add_argument(
        "--assignment",
        default=DEFAULT_ASSIGNMENT,
        help=f"the gradebook column's name (default: {DEFAULT_ASSIGNMENT}); for Canvas, an "
        'existing assignment as "Name (id)" from a Canvas export',
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    record = classbook.load(args.reports)
    roster = classbook.load_roster(args.reports)
    if not record and roster is None:
        print(
            f"export: no class record in {args.reports}/ ({classbook.RECORD}): "
            "grade the class first (nox -s grade -- submissions/ --out ...)",
            file=sys.stderr,
        )
        return 2
    target: Path = args.file or args.reports / f"{args.format}-grades.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(args.format, record, args.assignment, roster), encoding="utf-8")
    rows, strangers = rows_for(args.format, record, roster)
    blank = [r for r in rows if r.reason]
    if blank and args.format == "canvas":
        notes = target.with_name(target.name + ".reasons.txt")
        notes.write_text("".join(f"{_who(r)}: {r.reason}\n" for r in blank), encoding="utf-8")
        print(f"reasons for the blank scores: {notes}")
    for r in blank:
        print(f"{_who(r)}: left blank: {r.reason}")
    if strangers:
        print(
            f"export: WARNING: graded but not on the roster {roster.source if roster else ''}, "
            f"so not in {target.name}: {', '.join(strangers)}",
            file=sys.stderr,
        )
    print(f"wrote {target}: {len(rows)} student(s), {len(blank)} blank")
    return 0


def _who(r: GradeRow) -> str:
    return r.student.who if r.student is not None and not r.login else r.login


if __name__ == "__main__":
    raise SystemExit(main())
