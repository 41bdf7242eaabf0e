"""My Value class. Parents go in a list called prevs; -, / and the reflected ops are
built out of +, * and ** so that only a few backward rules are needed."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def nothing() -> None:
    pass


class Value:
    def __init__(self, data: float, prevs: Sequence[Value] = (), _op: str = "") -> None:
        self.data = data
        self.grad = 0.0
        self.prevs: list[Value] = list(prevs)
        self._op = _op
        self._backward: Callable[[], None] = nothing

    def __repr__(self) -> str:
        return f"Value({self.data}, grad={self.grad})"

    def __add__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, [self, other], "+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, [self, other], "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k: float) -> Value:
        if isinstance(k, Value):
            raise TypeError("the exponent has to be a plain number")
        out = Value(self.data**k, [self], f"**{k}")

        def _backward() -> None:
            if k != 0:
                self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-other)

    def __truediv__(self, other: Value | float) -> Value:
        if isinstance(other, Value):
            return self * other**-1
        return self * (1.0 / other)

    def __radd__(self, other: float) -> Value:
        return self + other

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __rsub__(self, other: float) -> Value:
        return (-self) + other

    def __rtruediv__(self, other: float) -> Value:
        return self**-1 * other

    def exp(self) -> Value:
        out = Value(math.exp(self.data), [self], "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError("log of a number <= 0")
        out = Value(math.log(self.data), [self], "log")

        def _backward() -> None:
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = Value(max(self.data, 0.0), [self], "relu")

        def _backward() -> None:
            if self.data > 0:
                self.grad += out.grad

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        out = Value(t, [self], "tanh")

        def _backward() -> None:
            self.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    def backward(self) -> None:
        # topological order with an explicit stack (no recursion limit)
        topo: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, int]] = [(self, 0)]
        while stack:
            v, i = stack.pop()
            if i == 0:
                if id(v) in seen:
                    continue
                seen.add(id(v))
            if i < len(v.prevs):
                stack.append((v, i + 1))
                stack.append((v.prevs[i], 0))
            else:
                topo.append(v)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()
