"""Scalar autograd where backward() knows every op's rule (no closures).

Each Value remembers the op that made it and its operands; backward() sorts the graph
and then, node by node, applies the rule of that node's op.
"""

from __future__ import annotations

import math
from typing import Union

Number = Union["Value", int, float]


class Value:
    def __init__(self, data: float, children: tuple[Value, ...] = (), op: str = "") -> None:
        self.data = data
        self.grad = 0.0
        self._prev = children
        self._op = op
        self.power = 0.0  # the exponent, for "**" nodes

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    @staticmethod
    def lift(x: Number) -> Value:
        return x if isinstance(x, Value) else Value(x)

    def __add__(self, other: Number) -> Value:
        other = Value.lift(other)
        return Value(self.data + other.data, (self, other), "+")

    def __radd__(self, other: Number) -> Value:
        return Value.lift(other) + self

    def __sub__(self, other: Number) -> Value:
        other = Value.lift(other)
        return Value(self.data - other.data, (self, other), "-")

    def __rsub__(self, other: Number) -> Value:
        return Value.lift(other) - self

    def __neg__(self) -> Value:
        return Value(-self.data, (self,), "neg")

    def __mul__(self, other: Number) -> Value:
        other = Value.lift(other)
        return Value(self.data * other.data, (self, other), "*")

    def __rmul__(self, other: Number) -> Value:
        return Value.lift(other) * self

    def __truediv__(self, other: Number) -> Value:
        other = Value.lift(other)
        return Value(self.data / other.data, (self, other), "/")

    def __rtruediv__(self, other: Number) -> Value:
        return Value.lift(other) / self

    def __pow__(self, n: float) -> Value:
        if not isinstance(n, (int, float)):
            raise TypeError("only a number can be an exponent")
        out = Value(self.data**n, (self,), "**")
        out.power = n
        return out

    def exp(self) -> Value:
        return Value(math.exp(self.data), (self,), "exp")

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError("log needs a positive number")
        return Value(math.log(self.data), (self,), "log")

    def relu(self) -> Value:
        return Value(self.data if self.data > 0 else 0.0, (self,), "relu")

    def tanh(self) -> Value:
        return Value(math.tanh(self.data), (self,), "tanh")

    def _send(self) -> None:
        """Pass this node's grad to its operands, by the chain rule of its op."""
        g = self.grad
        if self._op == "+":
            self._prev[0].grad += g
            self._prev[1].grad += g
        elif self._op == "-":
            self._prev[0].grad += g
            self._prev[1].grad -= g
        elif self._op == "neg":
            self._prev[0].grad -= g
        elif self._op == "*":
            a, b = self._prev
            a.grad += b.data * g
            b.grad += a.data * g
        elif self._op == "/":
            a, b = self._prev
            a.grad += g / b.data
            b.grad -= a.data * g / b.data**2
        elif self._op == "**":
            a = self._prev[0]
            if self.power != 0:
                a.grad += self.power * a.data ** (self.power - 1) * g
        elif self._op == "exp":
            self._prev[0].grad += self.data * g
        elif self._op == "log":
            self._prev[0].grad += g / self._prev[0].data
        elif self._op == "relu":
            self._prev[0].grad += g if self._prev[0].data > 0 else 0.0
        elif self._op == "tanh":
            self._prev[0].grad += (1 - self.data**2) * g

    def backward(self) -> None:
        order: list[Value] = []
        done: set[Value] = set()
        todo: list[tuple[Value, bool]] = [(self, False)]
        while todo:
            node, expanded = todo.pop()
            if expanded:
                order.append(node)
                continue
            if node in done:
                continue
            done.add(node)
            todo.append((node, True))
            for child in node._prev:
                todo.append((child, False))
        self.grad = 1.0
        for node in reversed(order):
            node._send()
