"""Every "smallest failing example" in a report runs as printed and shows the failure.

Planted-bug variants from every lab are graded; each failed check's example is pasted
into a fresh Python (3.11, the variant's package on the path, nothing else) and must
reproduce what the report says: the same exception, or the numbers the report calls
wrong.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.discover import Submission
from grader.mistakes import VARIANTS, materialize
from grader.score import FAILED, Outcome, run_checks

SAMPLE = [
    "bug-mul-wrong-operand",
    "bug-rsub-wrong-order",
    "bug-relu-grad-one-at-zero",
    "bug-pow-accepts-value-exponent",
    "bug-backward-forward-order",
    "bug-mul-assign-not-accumulate",
    "bug-mul-closure-on-self",
    "bug-add-returns-none",
    "bug-bias-not-a-parameter",
    "bug-zero-grad-does-nothing",
    "bug-layer-returns-list",
    "bug-neuron-relu",
    "bug-one-hot-inverted",
    "bug-to-dot-without-ops",
    "bug-parents-as-children",
    "bug-eq-hash-by-value",
]
NUMBER = re.compile(r"= (-?(?:\d+\.\d*(?:e[-+]?\d+)?|inf|nan))")


def _examples(tmp_path: Path) -> list[tuple[str, Path, Outcome]]:
    found = []
    for variant in (v for v in VARIANTS if v.id in SAMPLE):
        sub = materialize(variant, tmp_path / variant.id)
        graded = run_checks(Submission(variant.id, sub), labs={f"lab0{i}" for i in range(1, 6)})
        for o in graded.outcomes:
            if o.status == FAILED and o.counterexample:
                found.append((variant.id, sub, o))
    return found


def _run(code: str, sub: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(sub / "src")}
    return subprocess.run(
        [sys.executable, "-"], input=code, capture_output=True, text=True, timeout=120, env=env
    )


def test_every_example_reproduces_its_failure(tmp_path: Path) -> None:
    examples = _examples(tmp_path)
    assert len({v for v, _, _ in examples}) == len(SAMPLE)  # each variant gives examples
    problems = []
    for variant, sub, o in examples:
        assert o.counterexample is not None
        done = _run(o.counterexample, sub)
        raised = o.observed.get("raised") if isinstance(o.observed, dict) else None
        if raised:
            # The grader names an op that gave back None; Python then fails on None.
            shown = "NoneType" if raised == "OpReturnedNone" else raised
            ok = done.returncode != 0 and shown in done.stderr
        else:
            ok = done.returncode == 0 and all(n in done.stdout for n in NUMBER.findall(o.got))
        if "NameError" in done.stderr or not ok:
            problems.append(f"{variant} {o.id}: rc={done.returncode} {done.stderr[-300:]}")
    assert not problems, "\n".join(problems)


def test_a_composed_op_example_is_the_engines_own_backward_when_that_shows_it(
    tmp_path: Path,
) -> None:
    variant = next(v for v in VARIANTS if v.id == "bug-sub-sign")
    sub = materialize(variant, tmp_path / "composed", base="composed")
    graded = run_checks(Submission("composed", sub), labs={"lab01"})
    sub_check = next(o for o in graded.outcomes if o.id == "ops.sub")
    assert sub_check.status == FAILED and sub_check.counterexample
    assert "c.backward()" in sub_check.counterexample
    assert "walk_backward" not in sub_check.counterexample  # a short example: no walker
    done = _run(sub_check.counterexample, sub)
    assert done.returncode == 0
    assert all(n in done.stdout for n in NUMBER.findall(sub_check.got))


def test_a_failure_backward_cannot_show_keeps_the_walker(tmp_path: Path) -> None:
    # Without the upstream gradient, backward() (which seeds 1.0) looks right: only the
    # grader's walk with out.grad = 1.7 shows the slip, and the example has to walk too.
    variant = next(v for v in VARIANTS if v.id == "bug-add-without-upstream")
    sub = materialize(variant, tmp_path / "upstream", base="composed")
    graded = run_checks(Submission("upstream", sub), labs={"lab01"})
    add = next(o for o in graded.outcomes if o.id == "ops.add")
    assert add.status == FAILED and add.counterexample
    assert "walk_backward(c)" in add.counterexample
    done = _run(add.counterexample, sub)
    assert done.returncode == 0
    assert all(n in done.stdout for n in NUMBER.findall(add.got))


def test_a_long_chain_prints_as_a_loop() -> None:
    from grader.program import Program

    p = Program()
    node = a = p.const(0.5)
    for _ in range(10_000):
        node = p.op("add", node, 1.0)
    p.backward(node)
    p.read(a)
    code = p.python()
    assert len(code.splitlines()) < 20 and "for _ in range(10000):" in code
    done = _run(code, Path(__file__).resolve().parent.parent / "reference")
    assert done.stdout.split() == ["0.5", "1.0"]


@pytest.mark.parametrize("bad", ["print(", "undefined_name"])
def test_the_reproduction_harness_sees_a_broken_example(tmp_path: Path, bad: str) -> None:
    assert _run(bad, tmp_path).returncode != 0
