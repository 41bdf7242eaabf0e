import math


class Value:
    """One number in the graph. backward() does the chain rule for every op itself."""

    def __init__(self, data, children=(), op=""):
        self.data = data
        self.grad = 0.0
        self._prev = set(children)
        self._op = op
        self.n = None  # exponent of a ** node

    def __repr__(self):
        return f"Value({self.data}, grad={self.grad})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), "+")

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data - other.data, (self, other), "-")

    def __rsub__(self, other):
        return Value(other) - self

    def __neg__(self):
        return Value(-self.data, (self,), "neg")

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), "*")

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data / other.data, (self, other), "/")

    def __rtruediv__(self, other):
        return Value(other) / self

    def __pow__(self, n):
        if not isinstance(n, (int, float)):
            raise TypeError("exponent must be a number")
        out = Value(self.data**n, (self,), "**")
        out.n = n
        return out

    def exp(self):
        return Value(math.exp(self.data), (self,), "exp")

    def log(self):
        if self.data <= 0:
            raise ValueError("log of a non-positive number")
        return Value(math.log(self.data), (self,), "log")

    def relu(self):
        return Value(max(0.0, self.data), (self,), "relu")

    def tanh(self):
        return Value(math.tanh(self.data), (self,), "tanh")

    def apply_chain_rule(self):
        g = self.grad
        if len(self._prev) == 1:
            (a,) = self._prev
            if self._op == "+":  # a + a
                a.grad += 2 * g
            elif self._op == "*":  # a * a
                a.grad += 2 * a.data * g
            elif self._op == "neg":
                a.grad -= g
            elif self._op == "**" and self.n != 0:
                a.grad += self.n * a.data ** (self.n - 1) * g
            elif self._op == "exp":
                a.grad += self.data * g
            elif self._op == "log":
                a.grad += g / a.data
            elif self._op == "relu":
                a.grad += g if a.data > 0 else 0.0
            elif self._op == "tanh":
                a.grad += (1 - self.data**2) * g
        elif len(self._prev) == 2:
            a, b = self._prev  # BUG: a set has no order, so a may be the right operand
            if self._op == "+":
                a.grad += g
                b.grad += g
            elif self._op == "-":
                a.grad += g
                b.grad -= g
            elif self._op == "*":
                a.grad += b.data * g
                b.grad += a.data * g
            elif self._op == "/":
                a.grad += g / b.data
                b.grad -= a.data * g / b.data**2

    def backward(self):
        order = []
        seen = set()
        stack = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                for p in node._prev:
                    stack.append((p, False))
        self.grad = 1.0
        for node in reversed(order):
            node.apply_chain_rule()
