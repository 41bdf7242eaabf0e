"""The scalar autograd engine: a ``Value`` wraps one float and remembers how it was made.

Each operation does two things: it computes the output ``Value`` (forward) and it
attaches a ``_backward`` closure to that output which, given ``out.grad``, adds the
output's contribution to each parent's ``grad`` (the chain rule, one node at a time).
``backward()`` then walks the graph in reverse topological order and calls every
closure once.

This module may import ``math`` and ``random`` only (plus typing helpers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Union

Operand = Union["Value", int, float]


def _noop() -> None:
    """The ``_backward`` of a leaf: nothing to pass on."""


class Value:
    """One scalar in a computation graph, with the gradient that flows back into it."""

    data: float
    grad: float
    _prev: tuple[Value, ...]
    _op: str
    _backward: Callable[[], None]

    def __init__(self, data: float, _children: Iterable[Value] = (), _op: str = "") -> None:
        self.data = data
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._backward = _noop

    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    # ---- lab01: the ten ops -------------------------------------------------------

    def __add__(self, other: Operand) -> Value:
        raise NotImplementedError("TODO lab01: Value.__add__, see labs/lab01-ops.md")

    def __sub__(self, other: Operand) -> Value:
        raise NotImplementedError("TODO lab01: Value.__sub__, see labs/lab01-ops.md")

    def __neg__(self) -> Value:
        raise NotImplementedError("TODO lab01: Value.__neg__, see labs/lab01-ops.md")

    def __mul__(self, other: Operand) -> Value:
        raise NotImplementedError("TODO lab01: Value.__mul__, see labs/lab01-ops.md")

    def __truediv__(self, other: Operand) -> Value:
        raise NotImplementedError("TODO lab01: Value.__truediv__, see labs/lab01-ops.md")

    def __pow__(self, n: int | float) -> Value:
        raise NotImplementedError("TODO lab01: Value.__pow__, see labs/lab01-ops.md")

    def exp(self) -> Value:
        raise NotImplementedError("TODO lab01: Value.exp, see labs/lab01-ops.md")

    def log(self) -> Value:
        raise NotImplementedError("TODO lab01: Value.log, see labs/lab01-ops.md")

    def relu(self) -> Value:
        raise NotImplementedError("TODO lab01: Value.relu, see labs/lab01-ops.md")

    def tanh(self) -> Value:
        raise NotImplementedError("TODO lab01: Value.tanh, see labs/lab01-ops.md")

    def sigmoid(self) -> Value:
        """An extension: 1 / (1 + e**-x), with a gradient from the output s: s * (1 - s)."""
        raise NotImplementedError("TODO lab01: Value.sigmoid, see labs/lab01-ops.md")

    # Reflected forms: ``3 + v`` calls ``v.__radd__(3)``; the order matters for - and /.

    def __radd__(self, other: int | float) -> Value:
        raise NotImplementedError("TODO lab01: Value.__radd__, see labs/lab01-ops.md")

    def __rsub__(self, other: int | float) -> Value:
        raise NotImplementedError("TODO lab01: Value.__rsub__, see labs/lab01-ops.md")

    def __rmul__(self, other: int | float) -> Value:
        raise NotImplementedError("TODO lab01: Value.__rmul__, see labs/lab01-ops.md")

    def __rtruediv__(self, other: int | float) -> Value:
        raise NotImplementedError("TODO lab01: Value.__rtruediv__, see labs/lab01-ops.md")

    # ---- lab02: the backward pass -------------------------------------------------

    def backward(self) -> None:
        """Seed this node's gradient with 1.0 and push gradients to every ancestor.

        The walk is iterative (an explicit stack), so a graph deeper than Python's
        recursion limit still works. Gradients accumulate: call ``zero_grad`` (or set
        ``grad = 0.0``) between passes.
        """
        raise NotImplementedError("TODO lab02: Value.backward, see labs/lab02-backward.md")
