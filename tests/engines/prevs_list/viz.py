"""Draw a computation graph with graphviz: one box per Value, one ellipse per op.

``to_dot(root)`` returns the graph as DOT text (no graphviz needed); ``draw(root, path)``
renders it to SVG with graphviz's ``dot`` program. This module is a tool given to you
complete: you do not need to change it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from minigrad.scalar import Value


def _walk(root: Value) -> list[Value]:
    """Every node reachable from ``root``, each once, in a stable order (iterative)."""
    seen: set[int] = set()
    order: list[Value] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(reversed(list(node.prevs)))  # a tuple, a list or a set
    return order


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(root: Value) -> str:
    """The graph under ``root`` as graphviz DOT text, laid out left to right."""
    ids = {id(node): f"v{i}" for i, node in enumerate(_walk(root))}
    lines = ["digraph minigrad {", "  rankdir=LR;"]
    for node in _walk(root):
        name = ids[id(node)]
        label = str(getattr(node, "label", ""))
        text = f"{label + ' | ' if label else ''}data {node.data:.4f} | grad {node.grad:.4f}"
        lines.append(f"  {name} [shape=record, label={_quote('{ ' + text + ' }')}];")
        if node._op:
            lines.append(f"  {name}_op [shape=ellipse, label={_quote(node._op)}];")
            lines.append(f"  {name}_op -> {name};")
            for parent in node.prevs:
                lines.append(f"  {ids[id(parent)]} -> {name}_op;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(root: Value, path: str | Path) -> Path:
    """Write the graph under ``root`` as SVG to ``path`` and return that path.

    Needs graphviz's ``dot`` program. Without it the DOT text is written next to
    ``path`` (same name, ``.dot`` suffix) and a RuntimeError says how to go on.
    """
    target = Path(path)
    dot_text = to_dot(root)
    dot = shutil.which("dot")
    if dot is None:
        fallback = target.with_suffix(".dot")
        fallback.write_text(dot_text, encoding="utf-8")
        raise RuntimeError(
            f"graphviz's 'dot' program is not installed, so no SVG was drawn; the graph "
            f"was saved as DOT text in {fallback}. Install graphviz (for example "
            f"'apt-get install graphviz' or 'brew install graphviz') and run again."
        )
    subprocess.run([dot, "-Tsvg", "-o", str(target)], input=dot_text, text=True, check=True)
    return target
