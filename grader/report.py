"""Report: write what a grading run found, for students, CI viewers and gradebooks.

Per submission: ``results.json`` (Gradescope's autograder schema, our own fields in
``extra_data``), ``report.md`` (what a student reads first), ``junit.xml`` (for CI test
viewers). Per batch: ``grades.csv``. Nothing here depends on timing except the
``execution_time`` field, so the same submission gives the same reports.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from grader.escape import csv_cell, fence, md_line
from grader.score import FAILED, GRADER_ERROR, NOT_RUN, PASSED, Graded, Outcome


def _points(x: float) -> str:
    return f"{x:g}"


def write_all(graded: Graded, out_dir: Path) -> Path:
    """Write the per-submission reports into ``out_dir/<name>/``; return that dir."""
    from grader.html_report import write_html  # it builds on this module's helpers

    folder = out_dir / graded.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results_json(graded), indent=2) + "\n")
    (folder / "report.md").write_text(report_md(graded))
    write_html(graded, folder)
    ET.ElementTree(junit(graded)).write(
        folder / "junit.xml", encoding="utf-8", xml_declaration=True
    )
    return folder


def _test_output(o: Outcome) -> str:
    if o.status == PASSED:
        return "passed"
    parts = [o.summary]
    if o.expected:
        parts.append(f"expected: {o.expected}")
    if o.got:
        parts.append(f"got: {o.got}")
    if o.counterexample:
        parts.append("smallest failing example:\n" + o.counterexample)
    if o.hint:
        parts.append(f"hint: {o.hint}")
    if o.reread:
        parts.append(f"reread: labs/{o.reread}")
    return "\n".join(parts)


def results_json(graded: Graded) -> dict[str, Any]:
    """Gradescope's results.json for one submission."""
    tests = []
    for number, o in enumerate(graded.outcomes, start=1):
        tests.append(
            {
                "name": f"{o.lab} {o.id}: {o.name}",
                "number": str(number),
                "score": o.score,
                "max_score": o.max_score,
                "status": "passed" if o.status == PASSED else "failed",
                "output": _test_output(o),
                "tags": [o.lab],
                "visibility": o.visibility,
                "extra_data": {
                    "lab": o.lab,
                    "check_id": o.id,
                    "outcome": o.status,
                    "blocked_by": o.blocked_by,
                    "diagnosis": o.diagnosis,
                    "counterexample": o.counterexample,
                    "expected": o.expected,
                    "got": o.got,
                },
            }
        )
    return {
        "score": graded.score,
        "execution_time": round(graded.seconds, 2),
        "output": _summary_line(graded),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _summary_line(graded: Graded) -> str:
    if graded.status == "invalid":
        return f"Not graded: {graded.problem}"
    if graded.status == "grader_error":
        return f"Grader error (not your fault; your instructor has been told): {graded.problem}"
    return f"Score {_points(graded.score)} / {_points(graded.max_score)}"


def report_md(graded: Graded) -> str:
    lines = [f"# minigrad report: {graded.name}", ""]
    lines.append(f"**{_summary_line(graded)}**")
    lines.append("")
    likely = graded.diagnosis
    if likely:
        lines += [
            f"**Most likely mistake:** {likely['explanation']} (`{likely['code']}`; "
            f"reread [labs/{likely['reread']}](../../labs/{likely['reread']}))",
            "",
        ]
    if graded.status != "graded":
        lines += ["Fix the problem above and grade again.", ""]
    lines += ["| lab | score | checks passed |", "|---|---|---|"]
    for lab, title in graded.labs.items():
        score, top = graded.lab_score(lab)
        mine = [o for o in graded.outcomes if o.lab == lab]
        passed = sum(o.status == PASSED for o in mine)
        lines.append(f"| {title} | {_points(score)} / {_points(top)} | {passed} / {len(mine)} |")
    lines.append("")
    errors = [o for o in graded.outcomes if o.status == GRADER_ERROR]
    if errors and graded.status == "graded":
        lines += ["## Grader errors (not your fault)", ""]
        lines += [f"- `{o.id}`: {md_line(o.summary)}" for o in errors]
        lines.append("")
    if graded.notes:
        lines += ["## Notes", ""] + [f"- {md_line(note)}" for note in graded.notes] + [""]
    failed = [o for o in graded.outcomes if o.status == FAILED]
    if failed:
        lines += ["## Points lost", ""]
        for o in failed:
            lines += _failure_md(o)
    blocked = waiting(graded)
    for o in unclaimed(graded):
        lines += [f"- `{o.id}` ({o.name}): {md_line(o.summary)}", ""]
    if blocked:
        lines += ["## Not run yet", "", "These checks wait for a check above to pass:", ""]
        for o in blocked:
            lines.append(
                f"- `{o.id}` ({_points(o.max_score)} pts) {o.name}: waits for `{o.blocked_by}`"
            )
        lines.append("")
    if graded.output_tail.strip():
        lines += [
            "## What your code printed (last lines)",
            "",
            *fence(graded.output_tail.rstrip()),
            "",
        ]
    if not failed and not blocked and graded.status == "graded" and not errors:
        lines += ["Every check passed.", ""]
    return "\n".join(lines)


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


def _failure_md(o: Outcome) -> list[str]:
    earned = (
        f"+{_points(o.score)} extra credit" if o.max_score == 0 else f"0 / {_points(o.max_score)}"
    )
    lines = [
        f"### {o.lab} `{o.id}`: {o.name} ({earned})",
        "",
        md_line(o.summary) + ".",
        "",
    ]
    if o.diagnosis:
        lines += [f"Likely mistake: {o.diagnosis['explanation']} (`{o.diagnosis['code']}`)", ""]
    if o.expected or o.got:
        lines.append(f"- expected: {md_line(o.expected)}")
        if "\n" in o.got:
            lines += ["- got:", "", *fence(o.got), ""]
        else:
            lines += [f"- got: {md_line(o.got)}", ""]
    if o.counterexample:
        lines += ["Smallest failing example (paste it into Python):", ""]
        lines += [*fence(o.counterexample, "python"), ""]
    if o.hint:
        lines += [f"Hint: {o.hint}", ""]
    if o.reread:
        lines += [f"Reread: [labs/{o.reread}](../../labs/{o.reread})", ""]
    return lines


def junit(graded: Graded) -> ET.Element:
    suites = ET.Element("testsuites", name=f"minigrad {graded.name}")
    for lab in graded.labs:
        mine = [o for o in graded.outcomes if o.lab == lab]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=lab,
            tests=str(len(mine)),
            failures=str(sum(o.status == FAILED for o in mine)),
            errors=str(sum(o.status == GRADER_ERROR for o in mine)),
            skipped=str(sum(o.status == NOT_RUN for o in mine)),
        )
        for o in mine:
            case = ET.SubElement(suite, "testcase", classname=lab, name=f"{o.id}: {o.name}")
            if o.status == FAILED:
                ET.SubElement(case, "failure", message=o.summary).text = _test_output(o)
            elif o.status == GRADER_ERROR:
                ET.SubElement(case, "error", message=o.summary)
            elif o.status == NOT_RUN:
                ET.SubElement(case, "skipped", message=o.summary)
    return suites


def grades_csv(rows: list[Graded], labs: dict[str, str], path: Path) -> None:
    """One row per submission: name, total, max, one column per lab, status."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "total", "max", *labs, "status"])
        for g in sorted(rows, key=lambda g: g.name):
            writer.writerow(
                [csv_cell(g.name), _points(g.score), _points(g.max_score)]
                + [_points(g.lab_score(lab)[0]) for lab in labs]
                + [
                    g.status
                    if not any(o.status == GRADER_ERROR for o in g.outcomes)
                    else "grader_error"
                ]
            )
