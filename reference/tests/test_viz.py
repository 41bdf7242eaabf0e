"""to_dot and draw on the one-neuron example of the labs (lab05-visualize.md)."""

from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path

import pytest
from minigrad import Value
from minigrad.viz import draw, to_dot


def neuron() -> Value:
    """o = tanh(x1*w1 + x2*w2 + b): 10 Values (x1, w1, x2, w2, b, x1*w1, x2*w2, their sum,
    n = sum + b, o) made by 5 ops (*, *, +, +, tanh)."""
    x1, x2 = Value(2.0), Value(0.0)
    w1, w2 = Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    return o


def reachable(root: Value) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            stack.extend(node._prev)
    return len(seen)


def lines_with(dot: str, marker: str) -> list[str]:
    return [line for line in dot.splitlines() if marker in line]


def test_to_dot_has_one_record_per_value_and_one_ellipse_per_op() -> None:
    o = neuron()
    dot = to_dot(o)
    assert reachable(o) == 10
    assert len(lines_with(dot, "shape=record")) == 10
    ellipses = lines_with(dot, "shape=ellipse")
    assert len(ellipses) == 5
    assert sum('label="*"' in line for line in ellipses) == 2
    assert sum('label="+"' in line for line in ellipses) == 2
    assert sum('label="tanh"' in line for line in ellipses) == 1
    # edges: op -> its output (5) and each operand -> op (2 + 2 + 2 + 2 + 1 = 9)
    assert len(lines_with(dot, "->")) == 14


def test_to_dot_shows_data_and_grad() -> None:
    dot = to_dot(neuron())
    assert "data 0.7071 | grad 1.0000" in dot  # o
    assert "data 2.0000 | grad -1.5000" in dot  # x1
    assert "data -3.0000 | grad 1.0000" in dot  # w1
    assert "data 0.0000 | grad 0.5000" in dot  # x2
    assert "data 1.0000 | grad 0.0000" in dot  # w2


def test_to_dot_is_a_well_formed_digraph() -> None:
    dot = to_dot(neuron())
    assert dot.startswith("digraph")
    assert dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    assert dot.count('"') % 2 == 0


def test_to_dot_shows_a_label_and_escapes_quotes() -> None:
    a = Value(1.0)
    a.label = 'say "hi"'  # type: ignore[attr-defined]
    dot = to_dot(a * 2.0)
    assert 'say \\"hi\\" | data 1.0000' in dot


def test_to_dot_walks_a_deep_chain() -> None:
    x = Value(0.0)
    for _ in range(5000):
        x = x + 1.0
    assert len(lines_with(to_dot(x), "shape=record")) == 10001


def test_draw_without_graphviz_writes_dot_and_explains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("minigrad.viz.shutil.which", lambda name: None)
    o = neuron()
    with pytest.raises(RuntimeError, match="graphviz"):
        draw(o, tmp_path / "graph.svg")
    fallback = tmp_path / "graph.dot"
    assert fallback.read_text(encoding="utf-8") == to_dot(o)
    assert not (tmp_path / "graph.svg").exists()


def test_draw_feeds_the_dot_text_to_the_dot_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in ``dot`` (a Python script) records its arguments and stdin."""
    fake = tmp_path / "fake_dot"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        "args = sys.argv[1:]\n"
        "out = pathlib.Path(args[args.index('-o') + 1])\n"
        "out.write_text(' '.join(args[:1]) + '\\n' + sys.stdin.read())\n",
        encoding="utf-8",
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr("minigrad.viz.shutil.which", lambda name: str(fake))
    o = neuron()
    target = tmp_path / "graph.svg"
    assert draw(o, target) == target
    assert target.read_text(encoding="utf-8") == "-Tsvg\n" + to_dot(o)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is optional")
def test_draw_with_graphviz_writes_svg(tmp_path: Path) -> None:
    target = tmp_path / "graph.svg"
    assert draw(neuron(), str(target)) == target
    svg = target.read_text(encoding="utf-8")
    assert "<svg" in svg
    assert "tanh" in svg
