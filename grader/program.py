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

BINARY = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "pow": "**"}
UNARY = ("neg", "exp", "log", "relu", "tanh")
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

    def backward(self, name: str) -> None:
        self.steps.append(["backward", name])

    def read(self, *names: str) -> None:
        self.steps.extend(["read", n] for n in names)

    @property
    def reads(self) -> list[str]:
        return [s[1] for s in self.steps if s[0] == "read"]

    def payload(self) -> dict[str, Any]:
        return {"kind": "run", "steps": self.steps}

    def python(self) -> str:
        """The program as Python code using the public API."""
        lines = ["from minigrad.scalar import Value", ""]
        for step in self.steps:
            kind, rest = step[0], step[1:]
            if kind == "const":
                lines.append(f"{rest[0]} = Value({fmt(rest[1])})")
            elif kind == "op":
                name, op, *args = rest
                shown = [a if isinstance(a, str) else fmt(a["num"]) for a in args]
                if op in BINARY:
                    lines.append(f"{name} = {shown[0]} {BINARY[op]} {shown[1]}")
                elif op == "neg":
                    lines.append(f"{name} = -{shown[0]}")
                else:
                    lines.append(f"{name} = {shown[0]}.{op}()")
            elif kind == "sum":
                lines.append(f"{rest[0]} = sum([{', '.join(rest[1])}], {rest[2]})")
            elif kind == "set_grad":
                lines.append(f"{rest[0]}.grad = {fmt(rest[1])}")
            elif kind == "local_backward":
                lines.append(f"{rest[0]}._backward()  # one op's local step only")
            elif kind == "backward":
                lines.append(f"{rest[0]}.backward()")
            elif kind == "seed":
                lines.append(f"random.seed({rest[0]})")
            elif kind == "new":
                lines.append(f"{rest[0]} = {rest[1]}({', '.join(map(_show, rest[2:]))})")
            elif kind == "call":
                fn = rest[1].split(":")[-1]
                lines.append(f"{rest[0]} = {fn}({', '.join(map(_show, rest[2:]))})")
            elif kind == "method":
                lines.append(f"{rest[0]} = {rest[1]}.{rest[2]}()")
            elif kind == "index":
                lines.append(f"{rest[0]} = {rest[1]}[{rest[2]}]")
            elif kind not in ("read", "read_node", "read_graph", "read_plain"):
                lines.append(f"# the grader's {kind} step on {', '.join(map(_show, rest[1:3]))}")
        names = self.reads
        if names:
            lines.append(f"print({', '.join(f'{n}.data, {n}.grad' for n in names)})")
        return "\n".join(lines)


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
