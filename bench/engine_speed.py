"""Benchmark (not a test): reference engine speed vs a plain micrograd-style baseline.

Both engines run the same MLP forward + backward over the same inputs in one process;
prints nodes per second for each and their ratio. Run: `nox -s bench`.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reference" / "src"))

import itertools

from minigrad.nn import MLP
from minigrad.scalar import Value


class Base:
    """micrograd-style baseline: recursive topological sort, closures per op."""

    def __init__(self, data: float, children: tuple[Base, ...] = ()) -> None:
        self.data, self.grad, self._prev = data, 0.0, children
        self._backward: Callable[[], None] = lambda: None

    def __add__(self, other: Any) -> Base:
        other = other if isinstance(other, Base) else Base(other)
        out = Base(self.data + other.data, (self, other))

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Any) -> Base:
        other = other if isinstance(other, Base) else Base(other)
        out = Base(self.data * other.data, (self, other))

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> Base:
        out = Base(math.tanh(self.data), (self,))

        def _backward() -> None:
            self.grad += (1 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def backward(self) -> None:
        topo: list[Base] = []
        seen: set[Base] = set()

        def build(v: Base) -> None:
            if v not in seen:
                seen.add(v)
                for c in v._prev:
                    build(c)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


def base_mlp(sizes: list[int], rng: random.Random) -> list[list[tuple[list[Base], Base]]]:
    return [
        [([Base(rng.uniform(-1, 1)) for _ in range(a)], Base(rng.uniform(-1, 1))) for _ in range(b)]
        for a, b in itertools.pairwise(sizes)
    ]


def base_forward(net: list[list[tuple[list[Base], Base]]], x: list[float]) -> Base:
    acts: list[Any] = x
    for layer in net:
        acts = [sum((wi * xi for wi, xi in zip(w, acts, strict=True)), b).tanh() for w, b in layer]
    out: Base = acts[0]
    return out


def count(root: Any) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            stack.extend(v._prev)
    return len(seen)


def timed(run: Callable[[], Any], repeats: int = 5) -> tuple[float, int]:
    best, nodes = math.inf, 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        nodes = run()
        best = min(best, time.perf_counter() - t0)
    return best, nodes


def main() -> None:
    sizes = [3, 16, 16, 1]
    rng = random.Random(0)
    xs = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(50)]
    random.seed(0)
    model = MLP(3, sizes[1:])
    base = base_mlp(sizes, random.Random(0))

    def ours() -> int:
        total = 0
        for x in xs:
            out = model(x)
            assert isinstance(out, Value)
            out.backward()
            total += count(out)
        return total

    def baseline() -> int:
        total = 0
        for x in xs:
            out = base_forward(base, x)
            out.backward()
            total += count(out)
        return total

    t_ours, n_ours = timed(ours)
    t_base, n_base = timed(baseline)
    print(f"MLP{sizes}, {len(xs)} forward+backward passes, best of 5")
    print(f"reference engine : {n_ours / t_ours:>12,.0f} nodes/s ({n_ours} nodes)")
    print(f"micrograd baseline: {n_base / t_base:>11,.0f} nodes/s ({n_base} nodes)")
    print(f"ratio reference / baseline: {(n_ours / t_ours) / (n_base / t_base):.2f}")


if __name__ == "__main__":
    main()
