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
        # BEGIN SOLUTION lab01
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def __sub__(self, other: Operand) -> Value:
        # BEGIN SOLUTION lab01
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data - other.data, (self, other), "-")

        def _backward() -> None:
            self.grad += out.grad
            other.grad -= out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def __neg__(self) -> Value:
        # BEGIN SOLUTION lab01
        out = Value(-self.data, (self,), "neg")

        def _backward() -> None:
            self.grad -= out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def __mul__(self, other: Operand) -> Value:
        # BEGIN SOLUTION lab01
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def __truediv__(self, other: Operand) -> Value:
        # BEGIN SOLUTION lab01
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data / other.data, (self, other), "/")

        def _backward() -> None:
            self.grad += out.grad / other.data
            other.grad -= self.data * out.grad / other.data**2

        out._backward = _backward
        return out
        # END SOLUTION

    def __pow__(self, n: int | float) -> Value:
        # BEGIN SOLUTION lab01
        if not isinstance(n, (int, float)):
            raise TypeError(
                f"the exponent must be an int or float constant, not {type(n).__name__}"
            )
        out = Value(self.data**n, (self,), f"**{n}")

        def _backward() -> None:
            # d/da a**0 is 0 everywhere; skipping it avoids 0.0 ** -1 at a == 0.
            local = n * self.data ** (n - 1) if n != 0 else 0.0
            self.grad += local * out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def exp(self) -> Value:
        # BEGIN SOLUTION lab01
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def log(self) -> Value:
        # BEGIN SOLUTION lab01
        if self.data <= 0:
            raise ValueError(f"log is only defined for positive values, got {self.data!r}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:
            self.grad += out.grad / self.data

        out._backward = _backward
        return out
        # END SOLUTION

    def relu(self) -> Value:
        # BEGIN SOLUTION lab01
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def tanh(self) -> Value:
        # BEGIN SOLUTION lab01
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward() -> None:
            self.grad += (1.0 - out.data**2) * out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    def sigmoid(self) -> Value:
        """An extension: 1 / (1 + e**-x), with a gradient from the output s: s * (1 - s)."""
        # BEGIN SOLUTION lab01
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        out = Value(s, (self,), "sigmoid")

        def _backward() -> None:
            self.grad += out.data * (1.0 - out.data) * out.grad

        out._backward = _backward
        return out
        # END SOLUTION

    # Reflected forms: ``3 + v`` calls ``v.__radd__(3)``; the order matters for - and /.

    def __radd__(self, other: int | float) -> Value:
        # BEGIN SOLUTION lab01
        return Value(other) + self
        # END SOLUTION

    def __rsub__(self, other: int | float) -> Value:
        # BEGIN SOLUTION lab01
        return Value(other) - self
        # END SOLUTION

    def __rmul__(self, other: int | float) -> Value:
        # BEGIN SOLUTION lab01
        return Value(other) * self
        # END SOLUTION

    def __rtruediv__(self, other: int | float) -> Value:
        # BEGIN SOLUTION lab01
        return Value(other) / self
        # END SOLUTION

    # ---- lab02: the backward pass -------------------------------------------------

    def backward(self) -> None:
        """Seed this node's gradient with 1.0 and push gradients to every ancestor.

        The walk is iterative (an explicit stack), so a graph deeper than Python's
        recursion limit still works. Gradients accumulate: call ``zero_grad`` (or set
        ``grad = 0.0``) between passes.
        """
        # BEGIN SOLUTION lab02
        order: list[Value] = []
        visited: set[Value] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if node in visited:
                continue
            visited.add(node)
            stack.append((node, True))
            for parent in node._prev:
                if parent not in visited:
                    stack.append((parent, False))
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
        # END SOLUTION
