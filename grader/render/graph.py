"""Drawing a failing graph: each node with the gradient expected and the one computed.

A check's ``observed["graph"]`` is a list of nodes ``{"name", "op", "data", "prev":
[indices], "expected_grad", "got_grad"}``, all of it from the student's engine: it is
drawn as inline SVG when graphviz's ``dot`` is on PATH, otherwise as an indented text
tree, and anything malformed in it is drawn as best it can be, never trusted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from grader.i18n import _
from grader.program import close
from grader.render.kit import esc

DOT_TIMEOUT = 10.0
_LABEL_CHARS = 40  # longest text shown per node field (op names come from student code)


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
    leaf = " " + _("(leaf)")
    where = f"{_node_name(node, index)}" + (f" = {_short(op)}(…)" if op else leaf)
    grads = _("grad expected {expected}, got {got}").format(
        expected=_short(node.get("expected_grad")), got=_short(node.get("got_grad"))
    )
    mark = "   " + (_("<-- WRONG") if _differs(node) else _("ok"))
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
            again = _("(cycle)") if i in path else _("(shown above)")
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
                _("data {value}").format(value=_short(node.get("data"))),
                _("grad expected {value}").format(value=_short(node.get("expected_grad"))),
                _("grad got {value}").format(value=_short(node.get("got_grad"))),
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
        many = _("The graph has {count} nodes: too many to draw.").format(count=len(nodes))
        return f'<p class="muted">{esc(many)}</p>\n'
    svg = dot_svg(graph_dot(nodes))
    if svg is not None:
        legend = _(
            "Red nodes: the gradient your code computed differs from the expected one. "
            "Arrows go from inputs to the values computed from them."
        )
        legend = f'<p class="muted">{esc(legend)}</p>\n'
        return f'<figure class="graph">\n{svg}\n</figure>\n{legend}'
    tree = _(
        "Each value is listed above the values it was computed from; "
        "<-- WRONG marks a node whose gradient differs from the expected one."
    )
    return (
        '<figure class="graph">\n'
        f'<pre class="graph-text">{esc(graph_text(nodes))}</pre>\n'
        "</figure>\n"
        f'<p class="muted">{esc(tree)}</p>\n'
    )
