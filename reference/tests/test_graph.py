"""The worked examples of lab02-backward.md, the order of the backward pass, and a deep graph.

Expected numbers come from the labs or from the hand-derived chain rule written next to
them; none is produced by minigrad itself.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import pytest
from minigrad import Value


def approx(actual: float, expected: float, tol: float = 1e-12) -> bool:
    return math.isclose(actual, expected, rel_tol=tol, abs_tol=tol)


# ---- worked examples -----------------------------------------------------------------------


def test_abc_f_example_with_intermediate_gradients() -> None:
    a, b, c, f = Value(2.0), Value(-3.0), Value(10.0), Value(-2.0)
    e = a * b
    d = e + c
    loss = d * f
    assert (e.data, d.data, loss.data) == (-6.0, 4.0, -8.0)
    loss.backward()
    assert loss.grad == 1.0
    assert d.grad == -2.0
    assert f.grad == 4.0
    assert c.grad == -2.0
    assert e.grad == -2.0
    assert a.grad == 6.0
    assert b.grad == -4.0


def test_diamond() -> None:
    a, b, c = Value(2.0), Value(3.0), Value(4.0)
    loss = (a * b + c) * (a - c)
    assert loss.data == -20.0
    loss.backward()
    assert (a.grad, b.grad, c.grad) == (4.0, -4.0, -12.0)


def test_shared_input() -> None:
    a, b, c, d = Value(2.0), Value(3.0), Value(4.0), Value(5.0)
    loss = ((a * b) + c) * (a + d)
    assert loss.data == 70.0
    loss.backward()
    assert (a.grad, b.grad, c.grad, d.grad) == (31.0, 14.0, 7.0, 10.0)


@pytest.mark.parametrize(
    ("build", "expected_grad"),
    [
        pytest.param(lambda a: a * a, 6.0, id="a*a"),
        pytest.param(lambda a: a + a, 2.0, id="a+a"),
        pytest.param(lambda a: a * a + a, 7.0, id="a*a+a"),
    ],
)
def test_repeated_variable(build: Callable[[Value], Value], expected_grad: float) -> None:
    a = Value(3.0)
    build(a).backward()
    assert a.grad == expected_grad


def test_closure_trap_sum_built_in_a_loop() -> None:
    values = [Value(float(i)) for i in range(5)]
    total = values[0]
    for v in values[1:]:
        total = total + v
    assert total.data == 10.0
    total.backward()
    assert [v.grad for v in values] == [1.0] * 5


def test_builtin_sum_uses_reflected_add() -> None:
    values = [Value(float(i)) for i in range(5)]
    total = sum(values, Value(0.0))
    total.backward()
    assert total.data == 10.0
    assert [v.grad for v in values] == [1.0] * 5

    values = [Value(float(i)) for i in range(5)]
    plain = sum(values)  # starts from the int 0, so the first step is 0 + Value
    assert isinstance(plain, Value)
    plain.backward()
    assert [v.grad for v in values] == [1.0] * 5


def test_f_equals_xy_plus_z() -> None:
    x, y, z = Value(2.0), Value(-3.0), Value(10.0)
    f = x * y + z
    assert f.data == 4.0
    f.backward()
    assert (x.grad, y.grad, z.grad) == (-3.0, 2.0, 1.0)


def test_one_neuron() -> None:
    x1, x2 = Value(2.0), Value(0.0)
    w1, w2 = Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    n = x1w1 + x2w2 + b
    o = n.tanh()
    o.backward()

    # the lab's rounded numbers
    assert abs(o.data - 0.7071) < 1e-4
    assert abs(x1.grad - -1.5) < 1e-4
    assert abs(w1.grad - 1.0) < 1e-4
    assert abs(x2.grad - 0.5) < 1e-4
    assert w2.grad == 0.0

    # and the chain rule by hand: do/dn = 1 - tanh(n)^2, n = 2*(-3) + 0*1 + b
    n_value = 2.0 * -3.0 + 0.0 * 1.0 + 6.8813735870195432
    do_dn = 1.0 - math.tanh(n_value) ** 2
    assert approx(o.data, math.tanh(n_value))
    assert approx(o.data, 1 / math.sqrt(2), 1e-9)
    assert approx(n.grad, do_dn)
    assert approx(x1w1.grad, do_dn) and approx(x2w2.grad, do_dn) and approx(b.grad, do_dn)
    assert approx(x1.grad, -3.0 * do_dn)
    assert approx(w1.grad, 2.0 * do_dn)
    assert approx(x2.grad, 1.0 * do_dn)


def test_tanh_at_one_half() -> None:
    x = Value(0.5)
    y = x.tanh()
    y.backward()
    assert abs(y.data - 0.4621) < 1e-4
    assert abs(x.grad - 0.7864) < 1e-4
    # the derivative agrees with a central difference of math.tanh
    h = 1e-6
    assert math.isclose(x.grad, (math.tanh(0.5 + h) - math.tanh(0.5 - h)) / (2 * h), rel_tol=1e-8)


def test_quadratic_derivative_at_two() -> None:
    def f(x: float) -> float:
        return 3 * x**2 - 4 * x + 5

    x = Value(2.0)
    y = 3 * x**2 - 4 * x + 5
    assert y.data == f(2.0) == 9.0
    y.backward()
    assert x.grad == 8.0
    h = 1e-5
    assert math.isclose((f(2.0 + h) - f(2.0 - h)) / (2 * h), 8.0, rel_tol=1e-8)


def test_inner_node_that_is_both_a_direct_and_an_indirect_parent() -> None:
    """s feeds L directly and through tanh(s): its closure must run once, not twice.

    By hand: dL/ds = tanh(s) + s * (1 - tanh(s)^2), and ds/da = ds/db = 1.
    """
    a, b = Value(0.3), Value(0.4)
    s = a + b
    loss = s * s.tanh()
    loss.backward()
    expected = math.tanh(0.7) + 0.7 * (1 - math.tanh(0.7) ** 2)
    assert approx(s.grad, expected)
    assert approx(a.grad, expected)
    assert approx(b.grad, expected)


# ---- order of the backward pass ------------------------------------------------------------


def collect(root: Value) -> list[Value]:
    seen: set[int] = set()
    nodes: list[Value] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            nodes.append(node)
            stack.extend(node._prev)
    return nodes


def test_each_closure_runs_once_and_after_all_its_consumers() -> None:
    a, b, c = Value(1.5), Value(-0.5), Value(2.0)
    ab = a * b
    s = ab + c
    t = (s * a).tanh()
    u = s.exp() / (c + 3.0)
    # s feeds the root directly and through deeper nodes: the walk can meet it twice
    root = s * (((t + u) * ab - s) * s.tanh())

    calls: list[Value] = []
    nodes = collect(root)
    for node in nodes:
        original = node._backward

        def recording(node: Value = node, original: Callable[[], None] = original) -> None:
            calls.append(node)
            original()

        node._backward = recording

    root.backward()
    assert sorted(map(id, calls)) == sorted(map(id, nodes)), "every node exactly once"
    position = {id(node): i for i, node in enumerate(calls)}
    for node in nodes:
        for parent in node._prev:
            assert position[id(node)] < position[id(parent)], (node._op, parent._op)
    assert calls[0] is root


# ---- a graph far deeper than the recursion limit -------------------------------------------


@pytest.mark.timeout(60)
def test_100k_node_chain_backward_without_raising_the_recursion_limit() -> None:
    limit = sys.getrecursionlimit()
    depth = 100_000
    assert depth > limit

    leaf = Value(0.0)
    x = leaf
    for _ in range(depth):
        x = x + 1.0
    assert x.data == float(depth)
    x.backward()
    assert leaf.grad == 1.0
    assert sys.getrecursionlimit() == limit

    leaf2 = Value(3.0)
    y = leaf2
    for _ in range(depth):
        y = y * 1.0
    y.backward()
    assert y.data == 3.0
    assert leaf2.grad == 1.0
    assert sys.getrecursionlimit() == limit
