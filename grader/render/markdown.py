"""report.md: the report a student reads first, as Markdown.

Student text goes through grader.escape: one-line fields with ``md_line``, printed
output and counterexamples in a ``fence`` they cannot close.
"""

from __future__ import annotations

from grader.escape import fence, md_line
from grader.render.model import ReportModel, diagnosis_of, of
from grader.results import LABS, PASSED, Graded, Outcome, earned, points


def report_md(report: ReportModel | Graded) -> str:
    m = of(report)
    lines = [f"# {m.title}", "", f"**{m.summary}**", ""]
    if m.late:
        lines += [m.late, ""]
    if m.likely:
        d = m.likely
        lines += [
            f"**Most likely mistake:** {md_line(d['explanation'])} (`{md_line(d['code'])}`; "
            f"reread [labs/{d['reread']}]({LABS}{d['reread']}))",
            "",
        ]
    if m.not_graded:
        lines += ["Fix the problem above and grade again.", ""]
    lines += ["| lab | score | checks passed |", "|---|---|---|"]
    lines += [f"| {r.title} | {r.score} | {r.passed} / {r.checks} |" for r in m.labs]
    lines.append("")
    if m.errors:
        lines += ["## Grader errors (not your fault)", ""]
        lines += [f"- `{o.id}`: {md_line(o.summary)}" for o in m.errors]
        lines.append("")
    if m.notes:
        lines += ["## Notes", ""] + [f"- {md_line(note)}" for note in m.notes] + [""]
    for title, group in m.groups:
        lines += [f"## {title}", ""]
        for o in group:
            lines += _check(o)
    for o in m.unclaimed:
        lines += [f"- `{o.id}` ({o.name}): {md_line(o.summary)}", ""]
    if m.waiting:
        lines += ["## Not run yet", "", "These checks wait for a check above to pass:", ""]
        lines += [
            f"- `{o.id}` ({points(o.max_score)} pts) {o.name}: waits for `{o.blocked_by}`"
            for o in m.waiting
        ]
        lines.append("")
    if m.output_tail:
        lines += ["## What your code printed (last lines)", "", *fence(m.output_tail), ""]
    if m.all_passed:
        lines += ["Every check passed.", ""]
    return "\n".join(lines)


def _check(o: Outcome) -> list[str]:
    lines = [f"### {o.lab} `{o.id}`: {o.name} ({earned(o)})", ""]
    if o.status == PASSED:
        return lines
    lines += [md_line(o.summary) + ".", ""]
    found = diagnosis_of(o)
    if found:
        lines += [f"Likely mistake: {found['explanation']} (`{found['code']}`)", ""]
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
