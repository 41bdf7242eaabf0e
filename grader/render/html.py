"""report.html: the same content as ``report.md`` as one readable page.

Every string on the page is HTML-escaped (``kit.esc``): exception messages and printed
output come from the student's code. A failing check's graph is drawn by ``graph``, a
training check's loss curve by ``curve``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.i18n import _
from grader.render.curve import loss_curve_svg
from grader.render.graph import graph_drawing
from grader.render.kit import badge, code, esc, page, prose, table, total_class
from grader.render.model import (
    Diagnosis,
    ReportModel,
    curve_of,
    diagnosis_of,
    graph_of,
    lab_href,
    lab_path,
    of,
)
from grader.results import PASSED, Graded, Outcome, earned, points


def write_html(report: ReportModel | Graded, folder: Path) -> Path:
    """Write ``folder/report.html`` for one graded submission; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.html"
    path.write_text(report_html(report), encoding="utf-8")
    return path


def report_html(report: ReportModel | Graded) -> str:
    """The report page as a string (what ``write_html`` writes)."""
    m = of(report)
    g = m.graded
    kind = total_class(g.final_score, g.max_score, g.status)
    parts = [
        f"<h1>{esc(m.title)}</h1>\n",
        f'<div class="total {kind}">{esc(m.summary)}</div>\n',
    ]
    if m.late:
        parts.append(f'<p class="late">{esc(m.late)}</p>\n')
    if m.likely:
        parts.append(_mistake(m.likely, _("Most likely mistake"), reread=True))
    if m.not_graded:
        parts.append("<p>" + esc(_("Fix the problem above and grade again.")) + "</p>\n")
    lab, score, passed = _("lab"), _("score"), _("checks passed")
    parts.append(
        table(
            [lab, score, passed],
            ([esc(r.title), esc(r.score), f"{r.passed} / {r.checks}"] for r in m.labs),
            num={score, passed},
        )
    )
    if m.errors:
        parts.append(_list(_("Grader errors (not your fault)"), m.errors))
    if m.notes:
        parts.append("<h2>" + esc(_("Notes")) + "</h2>\n<ul>\n")
        parts += [f"<li>{esc(note)}</li>\n" for note in m.notes]
        parts.append("</ul>\n")
    for title, group in m.groups:
        parts.append(f"<h2>{esc(title)}</h2>\n")
        parts += [_check(o) for o in group]
    parts += [f"<p>{code(o.id)} ({esc(o.name)}): {esc(o.summary)}</p>\n" for o in m.unclaimed]
    if m.waiting:
        parts.append(
            "<h2>"
            + esc(_("Not run yet"))
            + "</h2>\n<p>"
            + esc(_("These checks wait for a check above to pass:"))
            + "</p>\n"
        )
        parts.append("<ul>\n")
        parts += [
            "<li>"
            + esc(_("{check} ({points} pts) {name}: waits for {blocker}")).format(
                check=code(o.id),
                points=esc(points(o.max_score)),
                name=esc(o.name),
                blocker=code(o.blocked_by),
            )
            + "</li>\n"
            for o in m.waiting
        ]
        parts.append("</ul>\n")
    if m.output_tail:
        parts.append("<h2>" + esc(_("What your code printed (last lines)")) + "</h2>\n")
        parts.append(f"<pre>{esc(m.output_tail)}</pre>\n")
    if m.all_passed:
        parts.append("<p><strong>" + esc(_("Every check passed.")) + "</strong></p>\n")
    shown = {o.id for _, group in m.groups for o in group}
    trained = [o for o in m.outcomes if o.id not in shown and curve_of(o) is not None]
    if trained:  # passed training checks: their curves (a failed one has its own above)
        parts.append("<h2>" + esc(_("Training")) + "</h2>\n")
        for o in trained:
            parts.append(f"<h3>{code(o.id)}: {esc(o.name)}</h3>\n")
            parts += _curve(curve_of(o))
    parts.append("<h2>" + esc(_("All checks")) + "</h2>\n")
    columns = [_("status"), _("lab"), _("check"), _("name"), _("points")]
    parts.append(
        table(
            columns,
            (
                [
                    badge(o.status),
                    esc(o.lab),
                    code(o.id),
                    esc(o.name),
                    f"{esc(points(o.score))} / {esc(points(o.max_score))}",
                ]
                for o in m.outcomes
            ),
            num={columns[-1]},
        )
    )
    return page(m.title, "".join(parts))


def _link(reread: str) -> str:
    """A link to a lab section, in the report's language."""
    return f'<a href="{esc(lab_href(reread))}">{esc(lab_path(reread))}</a>'


def _list(title: str, outcomes: list[Outcome]) -> str:
    items = "".join(f"<li>{code(o.id)}: {esc(o.summary)}</li>\n" for o in outcomes)
    return f"<h2>{esc(title)}</h2>\n<ul>\n{items}</ul>\n"


def _mistake(d: Diagnosis, title: str, reread: bool) -> str:
    """'Explanation (`code`; reread labs/...)', as report.md words it."""
    text = code(d["code"])
    if reread and d["reread"]:
        text = esc(_("{code}; reread {link}")).format(code=text, link=_link(d["reread"]))
    if d["explanation"]:
        text = f"{esc(d['explanation'])} ({text})"
    return f'<p class="diagnosis"><strong>{esc(title)}:</strong> {text}</p>\n'


def _check(o: Outcome) -> str:
    parts = [
        '<section class="failure">\n',
        f"<h3>{badge(o.status)} {esc(o.lab)} {code(o.id)}: {esc(o.name)} "
        f'<span class="muted">({esc(earned(o))})</span></h3>\n',
    ]
    curve = curve_of(o)
    if o.status == PASSED:
        return "".join([*parts, *_curve(curve), "</section>\n"])
    parts.append(f"<p>{esc(o.summary)}.</p>\n")
    found = diagnosis_of(o)
    if found:
        parts.append(_mistake(found, _("Likely mistake"), reread=False))
    if o.expected or o.got:
        want, got = esc(_("expected")), esc(_("got"))
        parts.append(
            f'<dl class="eg"><dt>{want}</dt><dd>{esc(o.expected)}</dd>'
            f"<dt>{got}</dt><dd>{esc(o.got)}</dd></dl>\n"
        )
    if o.counterexample:
        smallest = _("Smallest failing example (paste it into Python):")
        parts.append(f"<p>{esc(smallest)}</p>\n")
        parts.append(f'<pre><code class="language-python">{esc(o.counterexample)}</code></pre>\n')
    parts.extend(_curve(curve))
    nodes = graph_of(o)
    if nodes:
        caption = _(
            "The smallest failing graph, with the gradient expected on each node "
            "and the one your code computed:"
        )
        parts.append(f"<p>{esc(caption)}</p>\n")
        parts.append(graph_drawing(nodes))
    if o.hint:
        hint = esc(_("Hint"))
        parts.append(f'<p class="hint"><strong>{hint}:</strong> {esc(o.hint)}</p>\n')
    if o.reread:
        reread = esc(_("Reread"))
        parts.append(f"<p>{reread}: {_link(o.reread)}</p>\n")
    parts.append("</section>\n")
    return "".join(parts)


def _curve(curve: dict[str, Any] | None) -> list[str]:
    """The training loss picture of a check that kept one, with its caption."""
    if curve is None:
        return []
    caption = _(
        "Your fit's loss, epoch by epoch, for seed {seed}, beside the loss a correct SGD "
        "step gives from the same starting weights:"
    )
    return [
        f"<p>{prose(caption).format(seed=esc(str(curve.get('seed', ''))))}</p>\n",
        loss_curve_svg(curve),
        "\n",
    ]
