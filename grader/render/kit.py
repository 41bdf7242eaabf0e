"""The HTML kit: escaping, the page shell and tables, for every page the grader writes.

Every page is self-contained (inline CSS, no scripts, no fonts or images from the
network, no external URL at all) and a Content-Security-Policy meta tag forbids scripts
and remote loads as a second line of defence. ``esc`` is the one escape for anything a
student controls; the table builder takes cells that are already HTML, so each caller
escapes its text where it makes the cell.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Iterable, Sequence

from grader import i18n
from grader.i18n import N_, _
from grader.results import FAILED, GRADER_ERROR, NOT_RUN, PASSED

STATUS_LABEL: dict[str, str] = {
    PASSED: N_("passed"),
    FAILED: N_("failed"),
    NOT_RUN: N_("not run"),
    GRADER_ERROR: N_("grader error"),
}

CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --mute: #6e7781;
  --line: #d0d7de; --soft: #f6f8fa; --ink: #1f2328; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 58rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; padding-bottom: .25rem;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
a { color: #0969da; }
code, pre { font: .9em/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: .7rem .9rem; overflow-x: auto; white-space: pre; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.total { display: inline-block; font-size: 1.35rem; font-weight: 700; padding: .35rem .9rem;
  border-radius: 8px; color: #fff; margin: .3rem 0 .8rem; }
.total.full { background: var(--ok); }
.total.part { background: var(--warn); }
.total.low { background: var(--bad); }
.total.none { background: var(--mute); }
.badge { display: inline-block; font-size: .78rem; font-weight: 600; line-height: 1.2;
  padding: .15rem .5rem; border-radius: 999px; color: #fff; white-space: nowrap; }
.badge.passed { background: var(--ok); }
.badge.failed { background: var(--bad); }
.badge.not_run { background: var(--mute); }
.badge.grader_error { background: var(--warn); }
.failure { border: 1px solid var(--line); border-left: 4px solid var(--bad);
  border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
.failure p { margin: .4rem 0; }
dl.eg { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .8rem;
  margin: .5rem 0; }
dl.eg dt { font-weight: 600; color: var(--mute); }
dl.eg dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .9em; overflow-wrap: anywhere; }
.hint { background: #fff8c5; border-radius: 6px; padding: .4rem .7rem; }
.diagnosis { background: #ffebe9; border-radius: 6px; padding: .4rem .7rem; }
.graph { margin: .6rem 0; }
.graph svg { max-width: 100%; height: auto; }
.muted { color: var(--mute); }
ul { padding-left: 1.4rem; }
"""


def esc(text: object) -> str:
    """HTML-escape anything (quotes too, so the result is safe inside attributes)."""
    return html.escape(str(text), quote=True)


def prose(text: str) -> str:
    """Our own (translated) prose as HTML text: ``<``, ``>`` and ``&`` escaped, quotes
    kept as written (a text node, never an attribute)."""
    return html.escape(text, quote=False)


def page(title: str, body: str, css: str = "") -> str:
    """A complete, self-contained HTML document around ``body`` (already HTML)."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{esc(i18n.current())}">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}{css}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    num: Collection[str] = (),
    css_class: str = "",
) -> str:
    """A table with a header row of ``columns`` (plain text) and one row per ``rows``
    entry, whose cells are HTML already; the columns named in ``num`` align right."""

    def attr(column: str) -> str:
        return ' class="num"' if column in num else ""

    head = "".join(f"<th{attr(c)}>{esc(c)}</th>" for c in columns)
    parts = [f'<table class="{esc(css_class)}">' if css_class else "<table>"]
    parts.append(f"\n<thead><tr>{head}</tr></thead>\n<tbody>\n")
    for row in rows:
        cells = "".join(f"<td{attr(c)}>{cell}</td>" for c, cell in zip(columns, row, strict=True))
        parts.append(f"<tr>{cells}</tr>\n")
    parts.append("</tbody>\n</table>\n")
    return "".join(parts)


def code(text: object) -> str:
    """Escaped text in ``<code>``: a check id, a diagnosis code."""
    return f"<code>{esc(text)}</code>"


def badge(status: str) -> str:
    """A check's status as a colored pill."""
    label = _(STATUS_LABEL.get(status, status))
    return f'<span class="badge {esc(status)}">{esc(label)}</span>'


def total_class(score: float, top: float, status: str = "graded") -> str:
    """CSS class of the colored total: full marks, at least half, below half, not graded."""
    if status != "graded":
        return "none"
    if top > 0 and score >= top:
        return "full"
    if top > 0 and score >= top / 2:
        return "part"
    return "low"
