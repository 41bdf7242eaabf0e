"""The ten ops and the reflected forms, value and gradient, against PyTorch in float64.

Each case is one function that works unchanged on a ``Value`` and on a ``torch.Tensor``
(both overload the same operators and both have ``exp``/``log``/``relu``/``tanh``
methods), so minigrad and torch run exactly the same expression.

The upstream gradient is never 1: a ``_backward`` that forgets to multiply by
``out.grad`` would still pass with a unit seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from minigrad import Value

TOL = 1e-9
UPSTREAM = 1.7  # the non-unit gradient arriving at the op's output

Fn = Callable[..., Any]


@dataclass(frozen=True)
class OpCase:
    name: str
    fn: Fn
    inputs: tuple[tuple[float, ...], ...]


BINARY_INPUTS = ((2.0, -3.0), (-1.5, 0.25), (0.7, 4.2), (-3.3, -0.6))
ANY_SIGN = ((-2.0,), (-0.3,), (0.5,), (1.7,))
POSITIVE = ((0.2,), (1.0,), (2.5,), (7.0,))

CASES = [
    OpCase("add", lambda a, b: a + b, BINARY_INPUTS),
    OpCase("sub", lambda a, b: a - b, BINARY_INPUTS),
    OpCase("neg", lambda a: -a, ANY_SIGN),
    OpCase("mul", lambda a, b: a * b, BINARY_INPUTS),
    OpCase("div", lambda a, b: a / b, BINARY_INPUTS),
    OpCase("pow_int_2", lambda a: a**2, ANY_SIGN),
    OpCase("pow_int_3", lambda a: a**3, ANY_SIGN),
    OpCase("pow_int_neg2", lambda a: a**-2, ANY_SIGN),
    OpCase("pow_int_0", lambda a: a**0, ANY_SIGN),
    OpCase("pow_float_2.0", lambda a: a**2.0, ANY_SIGN),
    OpCase("pow_float_0.5", lambda a: a**0.5, POSITIVE),
    OpCase("pow_float_1.5", lambda a: a**1.5, POSITIVE),
    OpCase("pow_float_neg0.5", lambda a: a**-0.5, POSITIVE),
    OpCase("exp", lambda a: a.exp(), ANY_SIGN),
    OpCase("log", lambda a: a.log(), POSITIVE),
    OpCase("relu", lambda a: a.relu(), ANY_SIGN),
    OpCase("tanh", lambda a: a.tanh(), ANY_SIGN),
    OpCase("sigmoid", lambda a: a.sigmoid(), ANY_SIGN),  # an extension
    # reflected forms: the constant is on the left, so order matters for - and /
    OpCase("radd", lambda a: 3 + a, ANY_SIGN),
    OpCase("rsub", lambda a: 3 - a, ANY_SIGN),
    OpCase("rmul", lambda a: 3 * a, ANY_SIGN),
    OpCase("rdiv", lambda a: 3 / a, ANY_SIGN),
    # a constant on the right
    OpCase("add_const", lambda a: a + 3, ANY_SIGN),
    OpCase("sub_const", lambda a: a - 3, ANY_SIGN),
    OpCase("mul_const", lambda a: a * 3, ANY_SIGN),
    OpCase("div_const", lambda a: a / 3, ANY_SIGN),
]

PARAMS = [
    pytest.param(case, xs, id=f"{case.name}{list(xs)}") for case in CASES for xs in case.inputs
]


def close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=TOL, abs_tol=TOL)


def torch_reference(fn: Fn, xs: tuple[float, ...]) -> tuple[float, list[float]]:
    """Value of ``fn(*xs)`` and d(UPSTREAM * fn)/dx for every input, from torch."""
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out: torch.Tensor = fn(*leaves)
    torch.autograd.backward(out, torch.tensor(UPSTREAM, dtype=torch.float64))
    grads = [0.0 if t.grad is None else float(t.grad.item()) for t in leaves]
    return float(out.item()), grads


@pytest.mark.parametrize(("case", "xs"), PARAMS)
def test_local_backward_matches_torch(case: OpCase, xs: tuple[float, ...]) -> None:
    """Set the output's grad by hand and run only that op's ``_backward`` closure."""
    leaves = [Value(x) for x in xs]
    out: Value = case.fn(*leaves)
    out.grad = UPSTREAM
    out._backward()
    # A reflected op wraps the constant in its own Value; only real leaves are checked.
    expected_value, expected_grads = torch_reference(case.fn, xs)
    assert close(out.data, expected_value), (out.data, expected_value)
    for leaf, expected in zip(leaves, expected_grads, strict=True):
        assert close(leaf.grad, expected), (leaf.grad, expected)


@pytest.mark.parametrize(("case", "xs"), PARAMS)
def test_backward_through_scaled_output_matches_torch(case: OpCase, xs: tuple[float, ...]) -> None:
    """``L = op(...) * 1.7`` and ``L.backward()``: the op sees upstream gradient 1.7."""
    leaves = [Value(x) for x in xs]
    out: Value = case.fn(*leaves)
    loss = out * UPSTREAM
    loss.backward()
    expected_value, expected_grads = torch_reference(case.fn, xs)
    assert close(out.data, expected_value)
    assert out.grad == UPSTREAM
    for leaf, expected in zip(leaves, expected_grads, strict=True):
        assert close(leaf.grad, expected), (leaf.grad, expected)


SELF_CASES = [
    pytest.param(lambda a: a + a, id="a+a"),
    pytest.param(lambda a: a - a, id="a-a"),
    pytest.param(lambda a: a * a, id="a*a"),
    pytest.param(lambda a: a / a, id="a/a"),
    pytest.param(lambda a: a * a.tanh() + a.exp() / a, id="mixed"),
]


@pytest.mark.parametrize("fn", SELF_CASES)
@pytest.mark.parametrize("x", [-1.3, 0.6, 2.2])
def test_same_value_on_both_sides_matches_torch(fn: Fn, x: float) -> None:
    """One Value used as both operands: both contributions must be added, not overwritten."""
    a = Value(x)
    loss = fn(a) * UPSTREAM
    loss.backward()
    expected_value, (expected_grad,) = torch_reference(fn, (x,))
    assert close(loss.data, UPSTREAM * expected_value)
    assert close(a.grad, expected_grad), (a.grad, expected_grad)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_op_records_its_parents(case: OpCase) -> None:
    """The output remembers exactly the Values it was computed from."""
    leaves = [Value(x) for x in case.inputs[0]]
    out: Value = case.fn(*leaves)
    for leaf in leaves:
        assert any(p is leaf for p in out._prev)
    assert isinstance(out, Value)
    assert out._op != ""
