"""Every convention listed in lab01-ops.md, one test (or a small group) each."""

from __future__ import annotations

import ast
import math
import random
from pathlib import Path
from typing import Any

import minigrad.scalar
import pytest
import torch
from minigrad import Value
from minigrad.nn import MLP


def torch_leaf(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def torch_grad(t: torch.Tensor) -> float:
    assert t.grad is not None
    return float(t.grad.item())


# ---- ReLU at 0 ---------------------------------------------------------------------


def test_relu_subgradient_at_zero_is_zero_like_torch() -> None:
    a = Value(0.0)
    out = a.relu()
    out.backward()
    assert out.data == 0.0
    assert a.grad == 0.0

    t = torch_leaf(0.0)
    torch.autograd.backward(torch.relu(t))
    assert torch_grad(t) == a.grad


def test_relu_gradient_just_above_zero_is_one() -> None:
    a = Value(1e-300)
    a.relu().backward()
    assert a.grad == 1.0


# ---- ** takes a constant exponent only ---------------------------------------------


@pytest.mark.parametrize("exponent", [Value(2.0), Value(0.0)])
def test_value_exponent_raises_type_error(exponent: Any) -> None:
    with pytest.raises(TypeError):
        _ = Value(3.0) ** exponent


@pytest.mark.parametrize("exponent", ["2", None, [2]])
def test_non_number_exponent_raises_type_error(exponent: Any) -> None:
    with pytest.raises(TypeError):
        _ = Value(3.0) ** exponent


# ---- log: no clamping ---------------------------------------------------------------


@pytest.mark.parametrize("x", [0.0, -0.0, -1e-300, -1.0, -5.5])
def test_log_of_non_positive_raises_value_error(x: float) -> None:
    with pytest.raises(ValueError):
        Value(x).log()


def test_log_of_tiny_positive_is_not_clamped() -> None:
    a = Value(1e-300)
    out = a.log()
    out.backward()
    assert math.isclose(out.data, math.log(1e-300), rel_tol=1e-12)
    assert math.isclose(a.grad, 1e300, rel_tol=1e-12)


# ---- division by a zero Value --------------------------------------------------------


@pytest.mark.parametrize(
    "divide",
    [
        pytest.param(lambda: Value(1.0) / Value(0.0), id="Value/Value(0)"),
        pytest.param(lambda: Value(0.0) / Value(0.0), id="Value(0)/Value(0)"),
        pytest.param(lambda: Value(-2.0) / Value(-0.0), id="Value/Value(-0)"),
        pytest.param(lambda: 3 / Value(0.0), id="3/Value(0)"),
    ],
)
def test_division_by_zero_value_raises_zero_division_error(divide: Any) -> None:
    with pytest.raises(ZeroDivisionError):
        divide()


# ---- 0 ** 0 ---------------------------------------------------------------------------


@pytest.mark.parametrize("exponent", [0, 0.0])
def test_zero_to_the_zero_is_one_with_zero_gradient_like_torch(exponent: float) -> None:
    a = Value(0.0)
    out = a**exponent
    out.backward()
    assert out.data == 1
    assert a.grad == 0.0

    t = torch_leaf(0.0)
    t_out = t**exponent
    torch.autograd.backward(t_out)
    assert float(t_out.item()) == out.data
    assert torch_grad(t) == a.grad


# ---- tanh does not overflow ---------------------------------------------------------------


@pytest.mark.parametrize(("x", "expected"), [(400.0, 1.0), (-400.0, -1.0), (1e308, 1.0)])
def test_tanh_saturates_without_overflow(x: float, expected: float) -> None:
    a = Value(x)
    out = a.tanh()
    out.backward()
    assert out.data == expected
    assert a.grad == 0.0

    t = torch_leaf(x)
    torch.autograd.backward(torch.tanh(t))
    assert torch_grad(t) == 0.0


# ---- identity equality and hashing ---------------------------------------------------------


def test_values_compare_by_identity() -> None:
    a, b = Value(2.0), Value(2.0)
    assert a != b
    assert (a == b) is False
    assert a == a
    assert {a, b} == {b, a}
    assert len({a, b}) == 2
    assert a in {a} and b not in {a}
    seen = {a: "a", b: "b"}
    assert seen[a] == "a" and seen[b] == "b"


def test_value_does_not_override_eq_or_hash() -> None:
    assert "__eq__" not in vars(Value)
    assert "__hash__" not in vars(Value)
    assert Value.__eq__ is object.__eq__
    assert Value.__hash__ is object.__hash__


def test_equal_valued_nodes_in_one_graph_both_get_gradients() -> None:
    """Two distinct Values with the same data must not be merged by the graph walk."""
    a, b = Value(2.0), Value(2.0)
    loss = a * 3.0 + b * 5.0
    loss.backward()
    assert a.grad == 3.0
    assert b.grad == 5.0


# ---- backward seeds, accumulates, zero_grad resets -------------------------------------------


def test_backward_seeds_the_output_gradient_with_one() -> None:
    leaf = Value(5.0)
    leaf.backward()
    assert leaf.grad == 1.0

    a, b = Value(2.0), Value(-3.0)
    out = a * b
    out.backward()
    assert out.grad == 1.0
    assert a.grad == -3.0
    assert b.grad == 2.0


def test_gradients_accumulate_across_two_backward_calls() -> None:
    a, b = Value(2.0), Value(-3.0)
    loss = a * b
    loss.backward()
    loss.backward()
    assert a.grad == 2 * -3.0
    assert b.grad == 2 * 2.0


def test_zero_grad_resets_every_parameter() -> None:
    random.seed(0)
    model = MLP(3, [4, 4, 1])
    out = model([1.0, -2.0, 0.5])
    assert isinstance(out, Value)
    out.backward()
    first = [p.grad for p in model.parameters()]
    assert any(g != 0.0 for g in first)
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())

    # after a reset, a fresh forward + backward gives the single-pass gradients again
    fresh = model([1.0, -2.0, 0.5])
    assert isinstance(fresh, Value)
    fresh.backward()
    assert [p.grad for p in model.parameters()] == first


def test_new_value_starts_with_zero_gradient() -> None:
    assert Value(3.0).grad == 0.0


# ---- the core imports math and random only ------------------------------------------------

ALLOWED_MODULES = {"math", "random", "__future__", "typing", "collections"}


def imported_top_level_modules(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # a relative import ("from . import x") counts as a forbidden module
            module = node.module if node.level == 0 and node.module else "<relative>"
            found.add(module.split(".")[0])
    return found


def test_scalar_core_imports_only_math_random_and_typing_helpers() -> None:
    path = Path(minigrad.scalar.__file__)
    assert path.name == "scalar.py"
    modules = imported_top_level_modules(path.read_text(encoding="utf-8"))
    assert "math" in modules
    assert modules <= ALLOWED_MODULES, modules - ALLOWED_MODULES


def test_import_checker_catches_forbidden_imports() -> None:
    """The checker above is not vacuous."""
    assert imported_top_level_modules("import numpy as np") == {"numpy"}
    assert imported_top_level_modules("def f():\n    from torch import nn\n") == {"torch"}
    assert imported_top_level_modules("from . import nn") == {"<relative>"}
