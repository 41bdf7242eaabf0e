"""Each check names the mistake its failure points to in its own decorator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader import score
from grader.checks import REGISTRY
from grader.classic import MISTAKES, Facts
from grader.diagnose import diagnose_check
from grader.discover import Submission
from grader.mistakes import VARIANTS, materialize
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
        ("train.datasets", {}, "one-hot-wrong"),
        ("train.datasets", {"fault": True}, None),  # it hung importing train.py
        ("lab03.quality", {"fault": True}, None),
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


def test_the_probes_have_time_of_their_own_after_a_busy_grading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every check ends with the submission's time budget used up (a busy machine): the
    # probes behind the diagnosis still run, so the headline is the same as on a quiet one.
    real = score._run_both

    def busy(cid: str, ctx: Any, rubric: Any) -> Any:
        ctx.sandbox.used = 0.0
        try:
            return real(cid, ctx, rubric)
        finally:
            ctx.sandbox.used = ctx.sandbox.limits.submission_seconds  # all of it used

    monkeypatch.setattr(score, "_run_both", busy)
    variant = next(v for v in VARIANTS if v.id == "bug-fit-forgets-zero-grad")
    graded = score.run_checks(Submission("busy", materialize(variant, tmp_path / "busy")))
    assert (graded.diagnosis or {}).get("code") == "fit-no-zero-grad"


def test_a_fit_that_zeroes_after_its_step_is_not_told_it_never_zeroes(tmp_path: Path) -> None:
    # ReLU neurons make training fail; this fit calls zero_grad() at the end of each
    # epoch (after its step), which is fine: the headline is the activation, never
    # "fit never zeroes the gradients".
    variant = next(v for v in VARIANTS if v.id == "bug-neuron-relu")
    sub = materialize(variant, tmp_path / "late_zero")
    train = sub / "src" / "minigrad" / "train.py"
    text = train.read_text()
    step = "            p.data -= lr * p.grad\n"
    assert text.count("        model.zero_grad()\n") == 1 and text.count(step) == 1
    text = text.replace("        model.zero_grad()\n", "")
    train.write_text(text.replace(step, step + "        model.zero_grad()\n"))
    graded = score.run_checks(Submission("late_zero", sub), labs={"lab03", "lab04"})
    codes = {o.diagnosis["code"] for o in graded.outcomes if o.diagnosis}
    assert "fit-no-zero-grad" not in codes
    assert (graded.diagnosis or {}).get("code") == "activation-not-tanh"


def _reference_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    sub = materialize(None, tmp_path / name)
    scalar = sub / "src" / "minigrad" / "scalar.py"
    text = scalar.read_text()
    assert text.count(old) == 1
    scalar.write_text(text.replace(old, new))
    return sub


def test_a_syntax_error_heads_the_report_with_its_file_line_and_message_once(
    tmp_path: Path,
) -> None:
    line = 'out = Value(self.data * other.data, (self, other), "*")'
    sub = _reference_with(tmp_path, "syntax", line, line[:-1])
    graded = score.run_checks(Submission("syntax", sub), labs={"lab01"})
    number = next(
        i
        for i, text in enumerate((sub / "src/minigrad/scalar.py").read_text().splitlines(), 1)
        if line[:-1] in text
    )
    headline = (graded.diagnosis or {}).get("explanation", "")
    assert headline.startswith(f"scalar.py, line {number}: SyntaxError: '(' was never closed")
    assert sum("does not import" in note for note in graded.notes) == 1


def test_a_random_graph_that_raises_says_so(tmp_path: Path) -> None:
    # a - a, which only the random graphs try, raises
    sub_line = 'out = Value(self.data - other.data, (self, other), "-")'
    sub = _reference_with(
        tmp_path, "a_minus_a", sub_line, 'assert self is not other, "a - a"\n        ' + sub_line
    )
    graded = score.run_checks(Submission("a_minus_a", sub), labs={"lab02"})
    dags = next(o for o in graded.outcomes if o.id == "graph.random_dags")
    assert dags.status == "failed"
    assert dags.summary.startswith("on a random expression graph, your code raised AssertionError")
    assert "different numbers" not in dags.summary
