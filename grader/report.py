"""Report: write what a grading run found, for students, CI viewers and gradebooks.

Per submission: ``results.json`` (Gradescope's autograder schema, our own fields in
``extra_data``), ``report.md`` (what a student reads first), ``junit.xml`` (for CI test
viewers). The class files are grader/classbook.py's and grader/classview.py's. Links to
the lab statements are relative (``LABS``): ``write_labs`` copies the statements next to
the reports, so the links work wherever the reports are written. Nothing here depends
on timing except the ``execution_time`` field, so the same submission gives the same reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from grader.escape import fence, md_line
from grader.html_report import write_html
from grader.results import (
    FAILED,
    GRADER_ERROR,
    LABS,
    NOT_RUN,
    PASSED,
    Graded,
    Outcome,
    earned,
    late_line,
    points,
    sections,
    summary_line,
    unclaimed,
    waiting,
)

ROOT = Path(__file__).resolve().parent.parent


def write_labs(out_dir: Path, source: Path = ROOT / "labs") -> None:
    """Copy the lab statements to ``out_dir/_labs/`` (the reports' reread links)."""
    if not source.is_dir():
        return
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.is_symlink():
            target = out_dir / "_labs" / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())


def write_all(graded: Graded, out_dir: Path) -> Path:
    """Write the per-submission reports into ``out_dir/<name>/``; return that dir."""
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
    output = [summary_line(graded)]
    # Gradescope shows this line at once: only a visible check's diagnosis may be in it
    shown = next(
        (o.diagnosis for o in graded.outcomes if o.diagnosis and o.visibility == "visible"),
        None,
    )
    if shown:
        output.append(f"Most likely mistake: {shown['explanation']}")
        if shown.get("reread"):
            output.append(f"Reread labs/{shown['reread']}")
    if late_line(graded):
        output.append(late_line(graded))
    return {
        "score": graded.final_score,
        "execution_time": round(graded.seconds, 2),
        "output": "\n".join(output),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"commit": graded.commit, "late": graded.late},
        "tests": tests,
    }


def report_md(graded: Graded) -> str:
    lines = [f"# minigrad report: {graded.name}", ""]
    lines.append(f"**{summary_line(graded)}**")
    lines.append("")
    if late_line(graded):
        lines += [late_line(graded), ""]
    likely = graded.diagnosis
    if likely:
        lines += [
            f"**Most likely mistake:** {likely['explanation']} (`{likely['code']}`; "
            f"reread [labs/{likely['reread']}]({LABS}{likely['reread']}))",
            "",
        ]
    if graded.status != "graded":
        lines += ["Fix the problem above and grade again.", ""]
    lines += ["| lab | score | checks passed |", "|---|---|---|"]
    for lab, title in graded.labs.items():
        mine = [o for o in graded.outcomes if o.lab == lab]
        passed = sum(o.status == PASSED for o in mine)
        lines.append(f"| {title} | {graded.lab_cell(lab)} | {passed} / {len(mine)} |")
    lines.append("")
    errors = [o for o in graded.outcomes if o.status == GRADER_ERROR]
    if errors and graded.status == "graded":
        lines += ["## Grader errors (not your fault)", ""]
        lines += [f"- `{o.id}`: {md_line(o.summary)}" for o in errors]
        lines.append("")
    if graded.notes:
        lines += ["## Notes", ""] + [f"- {md_line(note)}" for note in graded.notes] + [""]
    failed = graded.lost
    if failed:
        lines += ["## Points lost", ""]
        for o in failed:
            lines += _failure_md(o)
    for title, group in sections(graded):
        if group:
            lines += [f"## {title}", ""]
            for o in group:
                lines += _failure_md(o)
    blocked = waiting(graded)
    for o in unclaimed(graded):
        lines += [f"- `{o.id}` ({o.name}): {md_line(o.summary)}", ""]
    if blocked:
        lines += ["## Not run yet", "", "These checks wait for a check above to pass:", ""]
        for o in blocked:
            lines.append(
                f"- `{o.id}` ({points(o.max_score)} pts) {o.name}: waits for `{o.blocked_by}`"
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


def _failure_md(o: Outcome) -> list[str]:
    lines = [f"### {o.lab} `{o.id}`: {o.name} ({earned(o)})", ""]
    if o.status == PASSED:
        return lines
    lines += [md_line(o.summary) + ".", ""]
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
        lines += [f"Reread: [labs/{o.reread}]({LABS}{o.reread})", ""]
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
