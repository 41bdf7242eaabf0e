"""Programs: what the grader asks the student's code to compute, as plain data.

A ``Program`` is a list of steps (build a Value, apply an op, set a grad, run
backward, read numbers back). The same program runs in the sandbox on the student's
engine, runs in PyTorch float64 for the expected answer (``grader.expect``), and
renders as Python code a student can paste to reproduce a failure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from grader.i18n import _
from grader.optable import OPS

Operand = str | float


def num(x: float) -> dict[str, float]:
    return {"num": x}


def fmt(x: float) -> str:
    """A number as a student would type it (repr keeps every digit that matters)."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return f"{x:.1f}"
    return repr(x)


@dataclass
class Program:
    """A list of steps with generated names a, b, c, ... for the nodes."""

    steps: list[list[Any]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def _name(self) -> str:
        i = len(self.names)
        letters = "abcdefghijklmnopqrstuvwxyz"
        name = letters[i % 26] + (str(i // 26) if i >= 26 else "")
        self.names.append(name)
        return name

    def const(self, x: float) -> str:
        name = self._name()
        self.steps.append(["const", name, x])
        return name

    def op(self, op: str, *args: Operand) -> str:
        name = self._name()
        self.steps.append(["op", name, op, *[a if isinstance(a, str) else num(a) for a in args]])
        return name

    def sum(self, items: list[str], start: str) -> str:
        name = self._name()
        self.steps.append(["sum", name, items, start])
        return name

    def set_grad(self, name: str, g: float) -> None:
        self.steps.append(["set_grad", name, g])

    def local_backward(self, name: str) -> None:
        self.steps.append(["local_backward", name])

    def walk_backward(self, name: str) -> None:
        """The grader's own backward walk from ``name`` (see ``WALK``), not ``backward()``."""
        self.steps.append(["walk_backward", name])

    def backward(self, name: str) -> None:
        self.steps.append(["backward", name])

    def read(self, *names: str) -> None:
        self.steps.extend(["read", n] for n in names)

    @property
    def reads(self) -> list[str]:
        return [s[1] for s in self.steps if s[0] == "read"]

    def payload(self) -> dict[str, Any]:
        return {"kind": "run", "steps": self.steps}

    def python(self, parents: str = "_prev") -> str:
        """The program as Python a student can paste: it imports all it uses and runs
        every step, the failing one included. ``parents`` names the attribute the
        grader's walk followed (the lab's ``_prev`` unless the engine used another)."""
        body = _body(self.steps)
        names = self.reads
        kinds = {s[0] for s in self.steps}
        if names and kinds & {"new", "call"}:  # a network's output may be a list
            body += [
                f"print([(v.data, v.grad) for v in {n}] if isinstance({n}, list) else "
                f"({n}.data, {n}.grad))"
                for n in names
            ]
        elif names:
            body.append(f"print({', '.join(f'{n}.data, {n}.grad' for n in names)})")
        head = ["from minigrad.scalar import Value"]
        if "seed" in kinds:
            head.insert(0, "import random")
        classes = sorted({s[2] for s in self.steps if s[0] == "new"})
        if classes:
            head.append(f"from minigrad.nn import {', '.join(classes)}")
        functions = sorted(
            {s[2].split(":")[1] for s in self.steps if s[0] == "call" and ":" in s[2]}
        )
        if "fit_until" in kinds:
            functions = sorted({*functions, "fit"})
        if functions:
            head.append(f"from minigrad.train import {', '.join(functions)}")
        if "to_dot" in kinds:
            head.append("from minigrad.viz import to_dot")
        if kinds & {"walk_backward", "read_graph"}:
            head += ["", WALK.replace("._prev", f".{parents}").rstrip(), ""]
        return "\n".join([*head, "", *body])


WALK = """
def nodes(out):
    \"\"\"Every node under out, each once.\"\"\"
    found, seen = [out], {id(out)}
    for node in found:
        for p in node._prev:
            if id(p) not in seen:
                seen.add(id(p))
                found.append(p)
    return found


def walk_backward(out):
    \"\"\"The grader's walk: every node's _backward once, out first, each node only
    after all the nodes that use it (out.grad is kept as it is).\"\"\"
    users = {}
    for node in nodes(out):
        for p in node._prev:
            users[id(p)] = users.get(id(p), 0) + 1
    ready = [out]
    while ready:
        node = ready.pop()
        step = node._backward
        step()
        for p in node._prev:
            users[id(p)] -= 1
            if users[id(p)] == 0:
                ready.append(p)
"""


CHAIN = 5  # this many ops in a row, each on the previous result, print as a loop


def _chained(steps: list[list[Any]], i: int) -> int:
    """How many steps from ``i`` apply one op with one constant to the step before."""
    first = steps[i]
    if first[0] != "op" or len(first) != 5 or not isinstance(first[4], dict):
        return 0
    n = 1
    while i + n < len(steps):
        s = steps[i + n]
        prev = steps[i + n - 1]
        if s[0] != "op" or s[2:3] != first[2:3] or s[3] != prev[1] or s[4:] != first[4:]:
            break
        n += 1
    return n


def _body(steps: list[list[Any]]) -> list[str]:
    """Lines for every step; a long chain of the same op prints as a loop."""
    lines: list[str] = []
    i = 0
    while i < len(steps):
        n = _chained(steps, i)
        if n >= CHAIN:
            start, last = steps[i][3], steps[i + n - 1][1]
            op = render(["op", "node", steps[i][2], "node", steps[i][4]])[0]
            lines += [f"node = {start}", f"for _ in range({n}):", f"    {op}", f"{last} = node"]
            i += n
            continue
        lines += render(steps[i])
        i += 1
    return lines


def render(step: list[Any]) -> list[str]:
    """Python lines for one step (``read`` steps are printed together at the end)."""
    kind, rest = step[0], step[1:]
    shown = [_show(a) for a in rest]
    if kind == "read":
        return []
    if kind == "const":
        return [f"{rest[0]} = Value({fmt(rest[1])})"]
    if kind == "op":
        name, op, *args = shown
        return [f"{name} = {OPS[op].python(*args)}"]
    simple = {
        "sum": "{0} = sum([{1}], {2})",
        "set_grad": "{0}.grad = {1}",
        "set_data": "{0}.data = {1}",
        "local_backward": "{0}._backward()  # " + _("this node's own step only"),
        "walk_backward": "walk_backward({0})",
        "backward": "{0}.backward()",
        "seed": "random.seed({0})",
        "method": "{0} = {1}.{2}()",
        "index": "{0} = {1}[{2}]",
        "unwrap": "{0} = {0}[0] if isinstance({0}, (list, tuple)) and len({0}) == 1 else {0}",
        "first": "{0} = {1}[0] if isinstance({1}, (list, tuple)) else {1}",
        "read_node": "print({0}.data, {0}.grad, getattr({0}, '_prev', 'no _prev'), "
        "getattr({0}, '_op', 'no _op'))",
        "read_graph": "print([(n._op, n.data, n.grad, len(n._prev)) for n in nodes({0})])",
        "identity": "print({2} == {3}, len({{{2}, {3}}}))",
        "read_plain": "print({0})",
        "count_distinct": "print(len({{id(v) for v in {1}}}))",
        "length": "print(len({1}))",
        "params_data": "print([p.data for p in {1}])",
        "params_grad": "print([p.grad for p in {1}])",
        "net": "print([(p.data, p.grad) for p in {1}.parameters()])",
        "to_dot": "print(to_dot({1}))",
    }
    if kind == "sum":
        return [f"{rest[0]} = sum([{', '.join(rest[1])}], {rest[2]})"]
    if kind in simple:
        return [simple[kind].format(*shown)]
    if kind == "new":
        return [f"{rest[0]} = {rest[1]}({', '.join(shown[2:])})"]
    if kind == "call":
        fn = rest[1].split(":")[-1]
        return [f"{rest[0]} = {fn}({', '.join(shown[2:])})"]
    if kind == "fit_until":
        name, model, xs, ys, _chunk, most, lr, goal, *_rest = shown
        return [
            f"{name} = fit({model}, {xs}, {ys}, {most}, {lr})  # "
            + _("the grader stops early once a loss is < {goal}").format(goal=goal),
            f"print({name}[-1])",
        ]
    if kind == "param_effect":
        _name, model, x, delta = shown
        return [
            f"for p in {model}.parameters():  # "
            + _("move each parameter; does the output change?"),
            f"    p.data += {delta}",
            f"    print({model}({x}))",
            f"    p.data -= {delta}",
        ]
    if kind == "sgd":
        _name, model, xs, ys, epochs, lr, *_rest = shown
        return [
            f"params = {model}.parameters()  # " + _("the grader's own training loop"),
            f"for epoch in range({epochs}):",
            "    loss = Value(0.0)",
            f"    for x, y in zip({xs}, {ys}):",
            f"        out = {model}(x)",
            "        outs = out if isinstance(out, list) else [out]",
            "        targets = y if isinstance(y, list) else [y]",
            "        for o, t in zip(outs, targets):",
            "            loss = loss + (o - t) * (o - t)",
            "    for p in params:",
            "        p.grad = 0  # " + _("the grader resets every gradient itself"),
            "    Value.backward(loss)",
            "    for p in params:",
            f"        p.data = p.data - {lr} * p.grad",
            "    print(epoch, loss.data)",
        ]
    return [
        "# " + _("the grader's {kind} step on {args}").format(kind=kind, args=", ".join(shown[:3]))
    ]


def _show(a: Any) -> str:
    if isinstance(a, dict) and "num" in a:
        return fmt(a["num"])
    if isinstance(a, list):
        return "[" + ", ".join(map(_show, a)) + "]"
    return str(a)


def close(expected: float, got: float, tol: float = 1e-9) -> bool:
    """Equal within ``tol`` (relative and absolute); nan equals nan, inf equals inf."""
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if math.isinf(expected) or math.isinf(got):
        return expected == got
    return math.isclose(expected, got, rel_tol=tol, abs_tol=tol)
