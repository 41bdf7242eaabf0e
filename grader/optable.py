"""The op table: every op of ``Value`` the grader knows, described once.

The program builder and its paste-able rendering (``grader.program``), the child that
runs programs (``grader.child.interpreter``), the expected values (``grader.expect``, PyTorch),
the diagnosis models (``grader.diagnose``), the random graphs (``checks/hidden/graph.py``)
and the per-op checks (``checks/ops.py``) all read this table. Adding an op is: its
method in the reference, a row here, its entry in the rubric, its section in a lab.

Standard library only: the confined child imports it too.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Op:
    """One op: how it is written, computed and differentiated, and how it is checked."""

    name: str  # the program's name for it, and the Value method for method ops
    check: str  # the rubric id of its check
    label: str  # how a student reads it
    arity: int
    forward: Callable[..., float]  # on plain floats
    local: Callable[..., list[float]]  # d out / d each argument, on plain floats
    infix: str = ""  # the operator for infix ops (a + b); "" for methods
    cases: tuple[tuple[float, ...], ...] = ()  # inputs its check tries
    core: bool = True  # one of the course's ten ops (random graphs use only these)
    constants: tuple[int, ...] = ()  # argument positions given as plain numbers (n in a**n)
    # Classic mistakes in this op's _backward, as the local derivatives they compute:
    # (mistake code, d out / d each argument); missing-upstream and sign-error hold for
    # every op and need no row here.
    wrong: tuple[tuple[str, Callable[..., list[float]]], ...] = ()

    def apply(self, *args: Any) -> Any:
        """The op on Values, floats or tensors, written as a student's code writes it."""
        if self.name == "neg":
            return -args[0]
        if self.infix:
            return INFIX[self.infix](*args)
        return getattr(args[0], self.name)()

    def python(self, *args: str) -> str:
        """The op as source code on the given operand expressions."""
        if self.name == "neg":
            return f"-{args[0]}"
        if self.infix:
            return f"{args[0]} {self.infix} {args[1]}"
        return f"{args[0]}.{self.name}()"


INFIX: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
}


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _pow_local(a: float, n: float) -> list[float]:
    return [n * a ** (n - 1) if n != 0 else 0.0]


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op(
            "add", "ops.add", "a + b", 2, operator.add, lambda a, b: [1.0, 1.0], "+",
            ((2.0, -3.0), (-1.25, -4.5), (0.5, 7.0)),
        ),
        Op(
            "sub", "ops.sub", "a - b", 2, operator.sub, lambda a, b: [1.0, -1.0], "-",
            ((2.0, -3.0), (-1.25, -4.5), (7.0, 0.5)),
        ),
        Op(
            "mul", "ops.mul", "a * b", 2, operator.mul, lambda a, b: [b, a], "*",
            ((2.0, -3.0), (-1.25, -4.5), (0.5, 7.0)),
            wrong=(
                ("wrong-operand", lambda a, b: [a, a]),
                ("wrong-operand", lambda a, b: [b, b]),
                ("wrong-operand", lambda a, b: [a, b]),
            ),
        ),
        Op(
            "truediv", "ops.div", "a / b", 2, operator.truediv,
            lambda a, b: [1 / b, -a / b**2], "/",
            ((6.0, -3.0), (-1.5, 0.25), (2.0, 5.0)),
            wrong=(("wrong-operand", lambda a, b: [1 / a, -a / b**2]),),
        ),
        Op(
            "pow", "ops.pow", "a ** n", 2, operator.pow, _pow_local, "**",
            ((2.0, 3), (-1.5, 2), (-2.0, 3), (2.5, 0.5), (3.0, -1), (1.7, -2.5)),
            constants=(1,),
        ),
        Op("neg", "ops.neg", "-a", 1, operator.neg, lambda a: [-1.0], cases=((-2.0,), (3.5,))),
        Op(
            "exp", "ops.exp", "a.exp()", 1, math.exp, lambda a: [math.exp(a)],
            cases=((-2.0,), (0.5,), (3.0,)), wrong=(("exp-from-input", lambda a: [a]),),
        ),
        Op(
            "log", "ops.log", "a.log()", 1, math.log, lambda a: [1 / a],
            cases=((0.5,), (2.0,), (7.3,)),
        ),
        Op(
            "relu", "ops.relu", "a.relu()", 1, lambda a: max(0.0, a),
            lambda a: [1.0 if a > 0 else 0.0], cases=((-1.5,), (0.7,), (3.0,)),
            wrong=(("relu-grad-at-zero", lambda a: [1.0 if a >= 0 else 0.0]),),
        ),
        Op(
            "tanh", "ops.tanh", "a.tanh()", 1, math.tanh, lambda a: [1 - math.tanh(a) ** 2],
            cases=((-2.0,), (0.5,), (1.3,)), wrong=(("tanh-from-input", lambda a: [1 - a**2]),),
        ),
        # An extension (0 points unless an instructor gives it some in the rubric).
        Op(
            "sigmoid", "ops.sigmoid", "a.sigmoid()", 1, _sigmoid,
            lambda a: [_sigmoid(a) * (1 - _sigmoid(a))],
            cases=((-2.0,), (0.5,), (3.0,)), core=False,
        ),
    )
}  # fmt: skip
CORE = [op for op in OPS.values() if op.core]  # in this order: random graphs pick by index
