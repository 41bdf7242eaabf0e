"""Each check names the mistake its failure points to in its own decorator."""

from __future__ import annotations

import pytest

from grader.checks import REGISTRY
from grader.diagnose import MISTAKES, Facts, diagnose_check
from grader.rubric import RUBRIC


def test_every_check_is_in_the_rubric_and_every_diagnosis_names_a_known_mistake() -> None:
    assert set(REGISTRY) == set(RUBRIC.items)
    facts = Facts(closure_on_self=True, fit_step="ascent", identity=False)
    for observed in ({}, {"raised": None}, {"list_of": 4}, {"matches": "linear"}):
        for cid, check in REGISTRY.items():
            if check.diagnoses is not None:
                code = check.diagnoses(observed, facts)
                assert code is None or code in MISTAKES, (cid, code)


MATH, ON_VALUE, NO_ZERO = "math-not-imported", "math-on-value", "zero-grad-missing"
NO_ZERO_GRAD = "'MLP' object has no attribute 'zero_grad'"
NO_PARAMS = "'Neuron' object has no attribute 'parameters'"
NEURON_ARGS = {
    "raised": "TypeError",
    "message": "Neuron.__init__() missing 1 required positional argument: 'act'",
    "steps": [["seed", 1], ["new", "n", "Neuron", 3]],
    "step": 1,
}


@pytest.mark.parametrize(
    ("cid", "observed", "code"),
    [
        ("conv.div_by_zero", {"raised": None}, "div-zero-guard"),  # nothing raised
        ("conv.div_by_zero", {"raised": "ValueError", "message": "no"}, None),
        ("conv.zero_pow_zero", {"raised": "ZeroDivisionError"}, "pow-zero-exponent"),
        ("graph.deep_chain", {"raised": "RecursionError"}, "recursive-topo"),
        ("nn.bias_included", {"weights_move": True}, "bias-missing"),
        ("nn.bias_included", {}, None),  # nothing moves the output: a constant, not the bias
        ("conv.div_by_zero", {"raised": None, "op_works": False}, None),  # a broken division
        ("graph.diamond", {"set_order": True}, "set-order"),
        ("ops.exp", {"raised": "NameError", "message": "name 'math' is not defined"}, MATH),
        ("ops.exp", {"raised": "TypeError", "message": "must be real number, not Value"}, ON_VALUE),
        ("nn.zero_grad", {"raised": "AttributeError", "message": NO_ZERO_GRAD}, NO_ZERO),
        ("nn.param_count", {"raised": "AttributeError", "message": NO_PARAMS}, "parameters-name"),
        ("nn.param_count", NEURON_ARGS, "constructor-args"),
        ("nn.param_count", {**NEURON_ARGS, "step": 0}, None),  # not in a constructor
        ("nn.bias_included", {"raised": "AttributeError", "message": "no"}, None),  # a crash
        ("nn.forward", {"matches": "relu"}, "activation-not-tanh"),
        ("nn.forward", {"matches": "linear"}, "missing-activation"),
        ("nn.forward", {"matches": None}, None),
        ("ops.construct", {"parents_attr": "children"}, "parents-name"),
        ("lab03.quality", {}, "lint-findings"),
        ("no.such_check", {}, None),
    ],
)
def test_a_failure_is_diagnosed_by_its_checks_own_rule(
    cid: str, observed: dict[str, object], code: str | None
) -> None:
    assert diagnose_check(cid, observed, Facts()) == code


def test_only_checks_about_exceptions_diagnose_what_was_raised() -> None:
    about = {cid for cid, check in REGISTRY.items() if check.about_exceptions}
    assert about == {
        "conv.pow_value_exponent",
        "conv.log_nonpositive",
        "conv.div_by_zero",
        "conv.zero_pow_zero",
        "conv.tanh_large",
        "graph.deep_chain",
    }


def test_endless_recursion_is_a_reflected_op_only_where_one_recursed() -> None:
    three_plus_a = {
        "raised": "RecursionError",
        "message": "maximum recursion depth exceeded",
        "steps": [["const", "a", 2.0], ["op", "b", "add", {"num": 3.0}, "a"]],
        "step": 1,
    }
    recursing = Facts(reflected_recursion=True)
    assert diagnose_check("ops.reflected", three_plus_a, recursing) == "reflected-recursion"
    assert diagnose_check("ops.reflected", three_plus_a, Facts()) is None
    deep = {**three_plus_a, "steps": [["const", "a", 0.5], ["backward", "a"]]}
    assert diagnose_check("graph.deep_chain", deep, recursing) == "recursive-topo"
