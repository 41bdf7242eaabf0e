"""Random expression DAGs: central finite differences and PyTorch float64 as references.

A DAG is a small "program": a pool of leaves, then steps that each apply one op to one
or two earlier nodes (chosen at random, so nodes are shared and re-used). The same
program is run three ways: on plain floats with ``math`` (for finite differences), on
minigrad ``Value``s, and on torch float64 tensors.

Domains are guarded while the program is generated, from the float values: log and
non-integer powers only on values > 0.1, division only by |value| > 0.1, negative
integer powers only on |value| > 0.1, relu only away from its kink, exp only below 5.
A step whose result would leave |x| < BOUND is replaced by a tanh (always bounded).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from minigrad import Value

UNARY = ("neg", "exp", "log", "relu", "tanh", "pow", "radd", "rsub", "rmul", "rdiv")
BINARY = ("add", "sub", "mul", "div")
OPS = BINARY + UNARY
INT_EXPONENTS: tuple[float, ...] = (0, 1, 2, 3, -1, -2)
FLOAT_EXPONENTS: tuple[float, ...] = (0.5, 1.5, -0.5, 2.5, 2.0)
CONSTANTS: tuple[float, ...] = (3.0, -2.0, 0.5)
MARGIN = 0.1


@dataclass(frozen=True)
class Step:
    op: str
    i: int  # index of the first operand among earlier nodes
    j: int  # index of the second operand (binary ops only)
    k: float  # exponent (pow) or constant (reflected ops)


@dataclass(frozen=True)
class Program:
    leaves: tuple[float, ...]
    steps: tuple[Step, ...]


def apply(step: Step, nodes: list[Any]) -> Any:
    """One step, written once for floats, Values and tensors alike."""
    a, b, k = nodes[step.i], nodes[step.j], step.k
    if step.op == "add":
        return a + b
    if step.op == "sub":
        return a - b
    if step.op == "mul":
        return a * b
    if step.op == "div":
        return a / b
    if step.op == "neg":
        return -a
    if step.op == "pow":
        return a**k
    if step.op == "radd":
        return k + a
    if step.op == "rsub":
        return k - a
    if step.op == "rmul":
        return k * a
    if step.op == "rdiv":
        return k / a
    if isinstance(a, float):
        functions: dict[str, Callable[[float], float]] = {
            "exp": math.exp,
            "log": math.log,
            "relu": lambda x: max(0.0, x),
            "tanh": math.tanh,
        }
        return functions[step.op](a)
    return getattr(a, step.op)()  # exp, log, relu, tanh exist on Value and Tensor


def run(program: Program, leaves: list[Any]) -> Any:
    nodes = list(leaves)
    for step in program.steps:
        nodes.append(apply(step, nodes))
    return nodes[-1]


def run_floats(program: Program, leaves: list[float]) -> float:
    result = run(program, leaves)
    assert isinstance(result, float)
    return result


def allowed(step: Step, values: list[float]) -> bool:
    a, b = values[step.i], values[step.j]
    if step.op == "div":
        return abs(b) > MARGIN
    if step.op == "rdiv":
        return abs(a) > MARGIN
    if step.op == "log":
        return a > MARGIN
    if step.op == "exp":
        return a < 5.0
    if step.op == "relu":
        return abs(a) > MARGIN
    if step.op == "pow":
        if step.k != int(step.k):
            return a > MARGIN
        return step.k >= 0 or abs(a) > MARGIN
    return True


def generate(
    leaves: list[float], n_steps: int, choose: Callable[[int], int], bound: float
) -> Program:
    """Build a program; ``choose(n)`` returns an int in [0, n) (random or drawn)."""
    values = list(leaves)
    steps: list[Step] = []
    for _ in range(n_steps):
        op = OPS[choose(len(OPS))]
        i = choose(len(values))
        j = choose(len(values))
        k = 0.0
        if op == "pow":
            exponents = INT_EXPONENTS if choose(2) == 0 else FLOAT_EXPONENTS
            k = exponents[choose(len(exponents))]
        elif op in ("radd", "rsub", "rmul", "rdiv"):
            k = CONSTANTS[choose(len(CONSTANTS))]
        step = Step(op, i, j, k)
        if allowed(step, values):
            value = apply(step, values)
            if abs(value) >= bound:
                step = Step("tanh", i, i, 0.0)
        else:
            step = Step("tanh", i, i, 0.0)
        values.append(apply(step, values))
        steps.append(step)
    return Program(tuple(leaves), tuple(steps))


def minigrad_result(program: Program) -> tuple[float, list[float]]:
    leaves = [Value(x) for x in program.leaves]
    root = run(program, leaves)
    assert isinstance(root, Value)
    root.backward()
    return root.data, [leaf.grad for leaf in leaves]


def torch_result(program: Program) -> tuple[float, list[float]]:
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in program.leaves]
    root = run(program, leaves)
    assert isinstance(root, torch.Tensor)
    torch.autograd.backward(root)
    # a leaf the root does not depend on has no torch gradient: minigrad says 0.0
    return float(root.item()), [0.0 if t.grad is None else float(t.grad.item()) for t in leaves]


def test_generator_really_shares_nodes_and_guards_domains() -> None:
    """Sanity check of the generator itself: nodes get re-used, guarded ops get replaced."""
    rng = random.Random(1)
    shared = 0
    for _ in range(50):
        program = generate([rng.uniform(-2, 2) for _ in range(3)], 8, rng.randrange, 1e6)
        uses = [s.i for s in program.steps] + [s.j for s in program.steps if s.op in BINARY]
        shared += len(uses) != len(set(uses))
    assert shared > 25
    guarded = generate([-1.0], 1, lambda n: OPS.index("log") if n == len(OPS) else 0, 1e6)
    assert guarded.steps[0].op == "tanh"


# ---- finite differences --------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_gradients_match_central_differences(seed: int) -> None:
    rng = random.Random(seed)
    leaves = [rng.uniform(-2.0, 2.0) for _ in range(rng.randint(2, 4))]
    program = generate(leaves, rng.randint(3, 7), rng.randrange, 100.0)
    value, grads = minigrad_result(program)
    assert math.isclose(value, run_floats(program, leaves), rel_tol=1e-12, abs_tol=1e-12)

    h = 1e-6
    for index in range(len(leaves)):
        up = list(leaves)
        down = list(leaves)
        up[index] += h
        down[index] -= h
        numeric = (run_floats(program, up) - run_floats(program, down)) / (2 * h)
        # |f| <= 100 so round-off is ~1e-16 * 100 / 1e-6 = 1e-8; truncation is O(h^2)
        assert math.isclose(grads[index], numeric, rel_tol=1e-5, abs_tol=1e-5), (
            index,
            grads[index],
            numeric,
            program,
        )


# ---- hypothesis: random DAGs with shared nodes against torch -------------------------------


@st.composite
def programs(draw: st.DrawFn) -> Program:
    n_leaves = draw(st.integers(min_value=1, max_value=5))
    leaves = draw(
        st.lists(
            st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False),
            min_size=n_leaves,
            max_size=n_leaves,
        )
    )
    n_steps = draw(st.integers(min_value=1, max_value=15))
    return generate(leaves, n_steps, lambda n: draw(st.integers(min_value=0, max_value=n - 1)), 1e6)


# Tolerance: minigrad and torch use the same local derivatives, but not always the same
# float expression (torch's div backward is -g*a/(b*b), math.tanh vs torch.tanh may differ
# by an ulp, shared nodes may sum contributions in another order). Over up to 15 steps of
# guarded, bounded ops these differences stay far below 1e-9 relative or absolute (the
# largest relative difference seen over these 150 examples was about 1e-13).
TOL = 1e-9


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(programs())
def test_random_dags_match_torch(program: Program) -> None:
    value, grads = minigrad_result(program)
    expected_value, expected_grads = torch_result(program)
    assert math.isclose(value, expected_value, rel_tol=TOL, abs_tol=TOL), (value, expected_value)
    for got, expected in zip(grads, expected_grads, strict=True):
        assert math.isclose(got, expected, rel_tol=TOL, abs_tol=TOL), (got, expected)
