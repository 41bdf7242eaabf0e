"""report.md: the report a student reads first, as Markdown.

Student text goes through grader.escape: one-line fields with ``md_line``, printed
output and counterexamples in a ``fence`` they cannot close.
"""

from __future__ import annotations

from grader.escape import fence, md_line
from grader.i18n import _
from grader.render.model import ReportModel, diagnosis_of, lab_href, lab_path, of
from grader.results import PASSED, Graded, Outcome, earned, points


def _link(reread: str) -> str:
    """A Markdown link to a lab section, in the report's language."""
    return f"[{lab_path(reread)}]({lab_href(reread)})"


def report_md(report: ReportModel | Graded) -> str:
    m = of(report)
    lines = [f"# {m.title}", "", f"**{m.summary}**", ""]
    if m.late:
        lines += [m.late, ""]
    if m.likely:
        d = m.likely
        where = _("{code}; reread {link}").format(
            code=f"`{md_line(d['code'])}`", link=_link(d["reread"])
        )
        lines += [
            "**" + _("Most likely mistake") + f":** {md_line(d['explanation'])} ({where})",
            "",
        ]
    if m.not_graded:
        lines += [_("Fix the problem above and grade again."), ""]
    head = [_("lab"), _("score"), _("checks passed")]
    lines += ["| " + " | ".join(head) + " |", "|---|---|---|"]
    lines += [f"| {r.title} | {r.score} | {r.passed} / {r.checks} |" for r in m.labs]
    lines.append("")
    if m.errors:
        lines += ["## " + _("Grader errors (not your fault)"), ""]
        lines += [f"- `{o.id}`: {md_line(o.summary)}" for o in m.errors]
        lines.append("")
    if m.notes:
        lines += ["## " + _("Notes"), ""] + [f"- {md_line(note)}" for note in m.notes] + [""]
    for title, group in m.groups:
        lines += [f"## {title}", ""]
        for o in group:
            lines += _check(o)
    for o in m.unclaimed:
        lines += [f"- `{o.id}` ({o.name}): {md_line(o.summary)}", ""]
    if m.waiting:
        lines += [
            "## " + _("Not run yet"),
            "",
            _("These checks wait for a check above to pass:"),
            "",
        ]
        lines += [
            "- "
            + _("{check} ({points} pts) {name}: waits for {blocker}").format(
                check=f"`{o.id}`",
                points=points(o.max_score),
                name=o.name,
                blocker=f"`{o.blocked_by}`",
            )
            for o in m.waiting
        ]
        lines.append("")
    if m.output_tail:
        lines += ["## " + _("What your code printed (last lines)"), "", *fence(m.output_tail), ""]
    if m.all_passed:
        lines += [_("Every check passed."), ""]
    return "\n".join(lines)


def _check(o: Outcome) -> list[str]:
    lines = [f"### {o.lab} `{o.id}`: {o.name} ({earned(o)})", ""]
    if o.status == PASSED:
        return lines
    lines += [md_line(o.summary) + ".", ""]
    found = diagnosis_of(o)
    if found:
        likely = _("Likely mistake")
        lines += [f"{likely}: {found['explanation']} (`{found['code']}`)", ""]
    if o.expected or o.got:
        want, got = _("expected"), _("got")
        lines.append(f"- {want}: {md_line(o.expected)}")
        if "\n" in o.got:
            lines += [f"- {got}:", "", *fence(o.got), ""]
        else:
            lines += [f"- {got}: {md_line(o.got)}", ""]
    if o.counterexample:
        lines += [_("Smallest failing example (paste it into Python):"), ""]
        lines += [*fence(o.counterexample, "python"), ""]
    if o.hint:
        lines += [_("Hint") + f": {o.hint}", ""]
    if o.reread:
        lines += [_("Reread") + f": {_link(o.reread)}", ""]
    return lines
