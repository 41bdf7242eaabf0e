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


@pytest.mark.parametrize(
    ("cid", "observed", "code"),
    [
        ("conv.div_by_zero", {"raised": None}, "div-zero-guard"),  # nothing raised
        ("conv.div_by_zero", {"raised": "ValueError", "message": "no"}, None),
        ("conv.zero_pow_zero", {"raised": "ZeroDivisionError"}, "pow-zero-exponent"),
        ("graph.deep_chain", {"raised": "RecursionError"}, "recursive-topo"),
        ("nn.bias_included", {}, "bias-missing"),  # a constant diagnosis
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
