"""Export: the class record (``<reports>/class.json``) as a gradebook's import file.

    python -m grader.export --format canvas|moodle|csv [--reports DIR] [--file OUT]
                            [--assignment NAME]

- ``canvas``: Canvas's gradebook import CSV: ``Student``, ``ID``, ``SIS User ID``,
  ``SIS Login ID``, ``Section``, then ONE column named after the assignment (every other
  column Canvas does not know becomes a new assignment, so there is no max, status or
  note column). Students are matched by SIS User ID (the roster's student id) and SIS
  Login ID (the roster's email); Canvas's own ID is left empty.
- ``moodle``: for Moodle's "Import grades from CSV": ``Email address``, ``ID number``,
  ``Username``, the assignment, and ``Feedback`` (map it to the assignment's feedback).
- ``csv``: a plain file: login, student id, email, score, out of, late penalty, commit,
  commit time, reason.

A submission that could not be graded (not gradable, or a grader error) gets an EMPTY
score, never a 0, and its reason: in the Feedback/reason column, and for Canvas (which
imports no comments) in ``<file>.reasons.txt`` and on the terminal. Scores are after
the late penalty.
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
from grader.render.grades import grade_rows

FORMATS = ("canvas", "moodle", "csv")
DEFAULT_ASSIGNMENT = "minigrad"


def _text(value: object) -> object:
    """Student-controlled text as a cell no spreadsheet runs as a formula; numbers as is."""
    return cell(value) if isinstance(value, str) else value


def render(fmt: str, record: Mapping[str, Mapping[str, Any]], assignment: str) -> str:
    """The import file's text for ``fmt``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    table = grade_rows(record)
    if fmt == "canvas":
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
        for r in table:
            writer.writerow([cell(r.login), "", cell(r.student_id), cell(r.email), "", r.score])
    elif fmt == "moodle":
        writer.writerow(["Email address", "ID number", "Username", assignment, "Feedback"])
        for r in table:
            feedback = r.reason or (f"late penalty {r.late} points" if r.late else "")
            writer.writerow(
                [cell(r.email), cell(r.student_id), cell(r.login), r.score, cell(feedback)]
            )
    elif fmt == "csv":
        keys = ["login", "student_id", "email", "score", "max", "late", "commit"]
        keys += ["commit_time", "reason"]
        writer.writerow(keys)
        for r in table:
            writer.writerow([_text(getattr(r, k)) for k in keys])
    else:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
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
    if not record:
        print(
            f"export: no class record in {args.reports}/ ({classbook.RECORD}): "
            "grade the class first (nox -s grade -- submissions/ --out ...)",
            file=sys.stderr,
        )
        return 2
    target: Path = args.file or args.reports / f"{args.format}-grades.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(args.format, record, args.assignment), encoding="utf-8")
    blank = [r for r in grade_rows(record) if r.reason]
    if blank and args.format == "canvas":
        notes = target.with_name(target.name + ".reasons.txt")
        notes.write_text("".join(f"{r.login}: {r.reason}\n" for r in blank))
        print(f"reasons for the blank scores: {notes}")
    for r in blank:
        print(f"{r.login}: left blank: {r.reason}")
    print(f"wrote {target}: {len(record)} student(s), {len(blank)} blank")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
