"""HTML report: ``report.html``, the same content as ``report.md`` as one readable page.

The page is self-contained (inline CSS, no scripts, no fonts or images from the network,
no external URL at all) and every string in it is HTML-escaped: exception messages and
printed output come from the student's code. A Content-Security-Policy meta tag forbids
scripts and remote loads as a second line of defence.

For a failing check whose ``observed`` carries a ``"graph"`` (a list of nodes
``{"name", "op", "data", "prev": [indices], "expected_grad", "got_grad"}``), the page
draws the graph with expected and actual gradients on each node: as inline SVG when
graphviz's ``dot`` is on PATH, otherwise as an indented text tree.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from grader.program import close
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

DOT_TIMEOUT = 10.0
_LABEL_CHARS = 40  # longest text shown per node field (op names come from student code)

STATUS_LABEL = {
    PASSED: "passed",
    FAILED: "failed",
    NOT_RUN: "not run",
    GRADER_ERROR: "grader error",
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


def page(title: str, body: str, css: str = "") -> str:
    """A complete, self-contained HTML document around ``body`` (already HTML)."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}{css}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def badge(status: str) -> str:
    return f'<span class="badge {esc(status)}">{esc(STATUS_LABEL.get(status, status))}</span>'


def total_class(score: float, top: float, status: str = "graded") -> str:
    """CSS class of the colored total: full marks, at least half, below half, not graded."""
    if status != "graded":
        return "none"
    if top > 0 and score >= top:
        return "full"
    if top > 0 and score >= top / 2:
        return "part"
    return "low"


def write_html(graded: Graded, folder: Path) -> Path:
    """Write ``folder/report.html`` for one graded submission; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.html"
    path.write_text(report_html(graded), encoding="utf-8")
    return path


def report_html(graded: Graded) -> str:
    """The report page as a string (what ``write_html`` writes)."""
    parts = [f"<h1>minigrad report: {esc(graded.name)}</h1>\n"]
    kind = total_class(graded.final_score, graded.max_score, graded.status)
    parts.append(f'<div class="total {kind}">{esc(summary_line(graded))}</div>\n')
    if late_line(graded):
        parts.append(f'<p class="late">{esc(late_line(graded))}</p>\n')
    likely = likely_mistake(graded)
    if likely:
        parts.append(_mistake_html(likely, "Most likely mistake", reread=True))
    if graded.status != "graded":
        parts.append("<p>Fix the problem above and grade again.</p>\n")
    parts.append(_lab_table(graded))
    errors = [o for o in graded.outcomes if o.status == GRADER_ERROR]
    if errors and graded.status == "graded":
        parts.append("<h2>Grader errors (not your fault)</h2>\n<ul>\n")
        parts += [f"<li><code>{esc(o.id)}</code>: {esc(o.summary)}</li>\n" for o in errors]
        parts.append("</ul>\n")
    if graded.notes:
        parts.append("<h2>Notes</h2>\n<ul>\n")
        parts += [f"<li>{esc(note)}</li>\n" for note in graded.notes]
        parts.append("</ul>\n")
    failed = graded.lost
    if failed:
        parts.append("<h2>Points lost</h2>\n")
        parts += [_failure_html(o) for o in failed]
    for title, group in sections(graded):
        if group:
            parts.append(f"<h2>{esc(title)}</h2>\n")
            parts += [_failure_html(o) for o in group]
    blocked = waiting(graded)
    parts += [
        f"<p><code>{esc(o.id)}</code> ({esc(o.name)}): {esc(o.summary)}</p>\n"
        for o in unclaimed(graded)
    ]
    if blocked:
        parts.append("<h2>Not run yet</h2>\n<p>These checks wait for a check above to pass:</p>\n")
        parts.append("<ul>\n")
        for o in blocked:
            parts.append(
                f"<li><code>{esc(o.id)}</code> ({esc(points(o.max_score))} pts) {esc(o.name)}: "
                f"waits for <code>{esc(o.blocked_by)}</code></li>\n"
            )
        parts.append("</ul>\n")
    if graded.output_tail.strip():
        parts.append("<h2>What your code printed (last lines)</h2>\n")
        parts.append(f"<pre>{esc(graded.output_tail.rstrip())}</pre>\n")
    if not failed and not blocked and graded.status == "graded" and not errors:
        parts.append("<p><strong>Every check passed.</strong></p>\n")
    parts.append(_all_checks(graded))
    return page(f"minigrad report: {graded.name}", "".join(parts))


def _lab_table(graded: Graded) -> str:
    rows = [
        '<table>\n<thead><tr><th>lab</th><th class="num">score</th>'
        '<th class="num">checks passed</th></tr></thead>\n<tbody>\n'
    ]
    for lab, title in graded.labs.items():
        mine = [o for o in graded.outcomes if o.lab == lab]
        passed = sum(o.status == PASSED for o in mine)
        rows.append(
            f"<tr><td>{esc(title)}</td>"
            f'<td class="num">{esc(graded.lab_cell(lab))}</td>'
            f'<td class="num">{passed} / {len(mine)}</td></tr>\n'
        )
    rows.append("</tbody>\n</table>\n")
    return "".join(rows)


def diagnosis_of(o: Outcome) -> dict[str, str] | None:
    """The likely classic mistake an outcome names, as {"code", "explanation", "reread"}.

    Read with ``getattr``: outcomes from before diagnoses existed have no such field.
    """
    diagnosis = getattr(o, "diagnosis", None)
    if not isinstance(diagnosis, Mapping) or not diagnosis.get("code"):
        return None
    return {key: str(diagnosis.get(key) or "") for key in ("code", "explanation", "reread")}


def likely_mistake(graded: Graded) -> dict[str, str] | None:
    """The headline mistake of the submission: the one that costs the most points."""
    found = graded.diagnosis
    if not found:
        return None
    return {key: str(found.get(key) or "") for key in ("code", "explanation", "reread")}


def _mistake_html(d: dict[str, str], title: str, reread: bool) -> str:
    """'Explanation (`code`; reread labs/...)', as report.md words it."""
    code = f"<code>{esc(d['code'])}</code>"
    if reread and d["reread"]:
        link = esc(d["reread"])
        code += f'; reread <a href="{LABS}{link}">labs/{link}</a>'
    text = f"{esc(d['explanation'])} ({code})" if d["explanation"] else code
    return f'<p class="diagnosis"><strong>{esc(title)}:</strong> {text}</p>\n'


def _failure_html(o: Outcome) -> str:
    parts = [
        '<section class="failure">\n',
        f"<h3>{badge(o.status)} {esc(o.lab)} <code>{esc(o.id)}</code>: {esc(o.name)} "
        f'<span class="muted">({esc(earned(o))})</span></h3>\n',
    ]
    if o.status == PASSED:
        return "".join([*parts, "</section>\n"])
    parts.append(f"<p>{esc(o.summary)}.</p>\n")
    found = diagnosis_of(o)
    if found:
        parts.append(_mistake_html(found, "Likely mistake", reread=False))
    if o.expected or o.got:
        parts.append(
            f'<dl class="eg"><dt>expected</dt><dd>{esc(o.expected)}</dd>'
            f"<dt>got</dt><dd>{esc(o.got)}</dd></dl>\n"
        )
    if o.counterexample:
        parts.append("<p>Smallest failing example (paste it into Python):</p>\n")
        parts.append(f'<pre><code class="language-python">{esc(o.counterexample)}</code></pre>\n')
    nodes = o.observed.get("graph") if isinstance(o.observed, Mapping) else None
    if isinstance(nodes, list) and nodes:
        parts.append(
            "<p>The smallest failing graph, with the gradient expected on each node "
            "and the one your code computed:</p>\n"
        )
        parts.append(graph_drawing(nodes))
    if o.hint:
        parts.append(f'<p class="hint"><strong>Hint:</strong> {esc(o.hint)}</p>\n')
    if o.reread:
        parts.append(f'<p>Reread: <a href="{LABS}{esc(o.reread)}">labs/{esc(o.reread)}</a></p>\n')
    parts.append("</section>\n")
    return "".join(parts)


def _all_checks(graded: Graded) -> str:
    rows = [
        "<h2>All checks</h2>\n<table>\n<thead><tr><th>status</th><th>lab</th><th>check</th>"
        '<th>name</th><th class="num">points</th></tr></thead>\n<tbody>\n'
    ]
    for o in graded.outcomes:
        rows.append(
            f"<tr><td>{badge(o.status)}</td><td>{esc(o.lab)}</td><td><code>{esc(o.id)}</code>"
            f"</td><td>{esc(o.name)}</td>"
            f'<td class="num">{esc(points(o.score))} / {esc(points(o.max_score))}</td></tr>\n'
        )
    rows.append("</tbody>\n</table>\n")
    return "".join(rows)


# ------------------------------------------------------------------ graph drawing


def _short(value: object) -> str:
    """A node field as short one-line text: numbers with 6 significant digits."""
    if value is None:
        return "?"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return f"{value:.6g}"
    text = " ".join(str(value).split())
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def _differs(node: Mapping[str, Any]) -> bool:
    want, got = node.get("expected_grad"), node.get("got_grad")
    if _is_number(want) and _is_number(got):
        return not close(float(want), float(got))
    return bool(want != got)


def _is_number(x: object) -> TypeGuard[int | float]:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _parents(node: Mapping[str, Any], count: int) -> list[int]:
    """The valid indices in a node's ``prev`` (anything malformed is dropped)."""
    prev = node.get("prev")
    if not isinstance(prev, list | tuple):
        return []
    return [i for i in prev if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count]


def _clean(nodes: Sequence[Any]) -> list[Mapping[str, Any]]:
    return [n if isinstance(n, Mapping) else {} for n in nodes]


def _node_name(node: Mapping[str, Any], index: int) -> str:
    name = node.get("name")
    return _short(name) if name not in (None, "") else f"#{index}"


def _node_line(node: Mapping[str, Any], index: int) -> str:
    op = node.get("op")
    where = f"{_node_name(node, index)}" + (f" = {_short(op)}(…)" if op else " (leaf)")
    grads = f"grad expected {_short(node.get('expected_grad'))}, got {_short(node.get('got_grad'))}"
    mark = "   <-- WRONG" if _differs(node) else "   ok"
    return f"{where}   data={_short(node.get('data'))}   {grads}{mark}"


def graph_text(nodes: Sequence[Mapping[str, Any]]) -> str:
    """The graph as an indented text tree (plain text, not escaped), outputs at the top."""
    nodes = _clean(nodes)
    count = len(nodes)
    used = {i for n in nodes for i in _parents(n, count)}
    roots = [i for i in range(count) if i not in used] or ([count - 1] if count else [])
    lines: list[str] = []
    shown: set[int] = set()

    def visit(i: int, depth: int, path: frozenset[int]) -> None:
        prefix = "    " * depth + ("└── " if depth else "")
        if i in shown:
            again = "(cycle)" if i in path else "(shown above)"
            lines.append(f"{prefix}{_node_name(nodes[i], i)} {again}")
            return
        shown.add(i)
        lines.append(prefix + _node_line(nodes[i], i))
        for child in _parents(nodes[i], count):
            visit(child, depth + 1, path | {i})

    for root in roots:
        visit(root, 0, frozenset())
    for i in range(count):  # nodes only reachable through a cycle
        if i not in shown:
            visit(i, 0, frozenset())
    return "\n".join(lines)


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_dot(nodes: Sequence[Mapping[str, Any]]) -> str:
    """The graph in graphviz's DOT language: inputs on the left, output on the right."""
    nodes = _clean(nodes)
    count = len(nodes)
    out = [
        "digraph minigrad {",
        '  rankdir=LR; bgcolor="transparent";',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [color="#6e7781"];',
    ]
    for i, node in enumerate(nodes):
        op = node.get("op")
        label = "\n".join(
            [
                _node_name(node, i) + (f" = {_short(op)}" if op else ""),
                f"data {_short(node.get('data'))}",
                f"grad expected {_short(node.get('expected_grad'))}",
                f"grad got {_short(node.get('got_grad'))}",
            ]
        )
        wrong = _differs(node)
        fill, line = ("#ffebe9", "#cf222e") if wrong else ("#dafbe1", "#1a7f37")
        width = 2 if wrong else 1
        out.append(
            f"  n{i} [label={_dot_string(label)}, fillcolor={_dot_string(fill)}, "
            f"color={_dot_string(line)}, penwidth={width}];"
        )
    for i, node in enumerate(nodes):
        out += [f"  n{j} -> n{i};" for j in _parents(node, count)]
    out.append("}")
    return "\n".join(out) + "\n"


_XML_PROLOGUE = re.compile(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->", re.DOTALL)
_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_UNSAFE = re.compile(
    r"<\s*(script|foreignobject|iframe|object|embed)|\son\w+\s*=|javascript:", re.I
)


def dot_svg(dot_source: str) -> str | None:
    """Inline-ready ``<svg>`` for DOT source, or None when ``dot`` is missing or fails.

    The XML prologue, doctype, comments and namespace URLs are dropped (inline SVG in
    HTML needs none of them), so the page holds no external URL.
    """
    exe = shutil.which("dot")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "-Tsvg"],
            input=dot_source,
            capture_output=True,
            text=True,
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    start = done.stdout.find("<svg")
    if done.returncode != 0 or start < 0:
        return None
    svg = _XMLNS.sub("", _XML_PROLOGUE.sub("", done.stdout[start:])).strip()
    if _UNSAFE.search(svg) or "http://" in svg or "https://" in svg:
        return None  # graphviz escapes labels; refuse anything odd rather than trust it
    return svg


MAX_DRAWN = 80  # larger graphs are not drawn: the counterexample code shows them


def graph_drawing(nodes: Sequence[Mapping[str, Any]]) -> str:
    """An HTML fragment drawing the graph: inline SVG if ``dot`` works, else a text tree."""
    if len(nodes) > MAX_DRAWN:
        return f'<p class="muted">The graph has {len(nodes)} nodes: too many to draw.</p>\n'
    svg = dot_svg(graph_dot(nodes))
    if svg is not None:
        legend = (
            '<p class="muted">Red nodes: the gradient your code computed differs from the '
            "expected one. Arrows go from inputs to the values computed from them.</p>\n"
        )
        return f'<figure class="graph">\n{svg}\n</figure>\n{legend}'
    return (
        '<figure class="graph">\n'
        f'<pre class="graph-text">{esc(graph_text(nodes))}</pre>\n'
        "</figure>\n"
        '<p class="muted">Each value is listed above the values it was computed from; '
        "&lt;-- WRONG marks a node whose gradient differs from the expected one.</p>\n"
    )
