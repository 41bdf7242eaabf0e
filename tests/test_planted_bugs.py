"""Planted bugs: the reference with one classic mistake each must lose points where it should.

Each bug is a small textual patch of one file of a copy of the reference package (the
patch must apply exactly once, so it can never silently no-op). For every bug the
grader must take points off the lab the bug belongs to, fail the specific check
that pins the mistake, and leave every earlier lab the bug does not touch at full
score. Only the labs needed for that verdict are graded, to keep the file fast.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.discover import Submission
from grader.score import FAILED, PASSED, Graded, run_checks

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PKG = ROOT / "reference" / "src" / "minigrad"
LABS = ("lab01", "lab02", "lab03", "lab04")


@dataclass(frozen=True)
class Bug:
    id: str
    file: str  # a module of the package, e.g. "scalar.py"
    old: str
    new: str
    lab: str  # the lab that must lose points
    fails: tuple[str, ...]  # check ids that must end up failed (status "failed")
    keeps: tuple[str, ...]  # earlier labs that must keep full points


def make_submission(root: Path, name: str, file: str, old: str, new: str) -> Submission:
    """A copy of the reference package with ``old`` replaced by ``new`` (once) in ``file``."""
    pkg = root / name / "src" / "minigrad"
    shutil.copytree(REFERENCE_PKG, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    path = pkg / file
    text = path.read_text(encoding="utf-8")
    count = text.count(old)
    assert count == 1, f"the patch for {name} must match exactly once in {file}, found {count}"
    patched = text.replace(old, new, 1)
    assert patched != text
    path.write_text(patched, encoding="utf-8")
    return Submission(name, root / name)


RECURSIVE_OLD = """\
        order: list[Value] = []
        visited: set[Value] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if node in visited:
                continue
            visited.add(node)
            stack.append((node, True))
            for parent in node._prev:
                if parent not in visited:
                    stack.append((parent, False))
"""
RECURSIVE_NEW = """\
        order: list[Value] = []
        visited: set[Value] = set()

        def build_topo(node: Value) -> None:
            if node not in visited:
                visited.add(node)
                for parent in node._prev:
                    build_topo(parent)
                order.append(node)

        build_topo(self)
"""

VALUE_EQ = """\
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Value) and self.data == other.data

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:"""

BUGS = [
    Bug(
        "mul_assign_not_accumulate",
        "scalar.py",
        "self.grad += other.data * out.grad",
        "self.grad = other.data * out.grad",
        "lab02",
        # Not graph.diamond: there a*b's step runs before a - c's, so nothing is overwritten.
        ("graph.repeated_variable", "graph.accumulate"),
        ("lab01",),
    ),
    Bug(
        "sub_assign_not_accumulate",
        "scalar.py",
        "            self.grad += out.grad\n            other.grad -= out.grad\n",
        "            self.grad = out.grad\n            other.grad -= out.grad\n",
        "lab02",
        ("graph.diamond",),
        ("lab01",),
    ),
    Bug(
        "add_without_upstream",
        "scalar.py",
        "            self.grad += out.grad\n            other.grad += out.grad\n",
        "            self.grad += 1.0\n            other.grad += 1.0\n",
        "lab01",
        ("ops.add",),
        (),
    ),
    Bug(
        "mul_wrong_operand",
        "scalar.py",
        "self.grad += other.data * out.grad",
        "self.grad += self.data * out.grad",
        "lab01",
        ("ops.mul",),
        (),
    ),
    Bug(
        "rsub_wrong_order",
        "scalar.py",
        "return Value(other) - self",
        "return self - Value(other)",
        "lab01",
        ("ops.reflected",),
        (),
    ),
    Bug(
        "relu_grad_one_at_zero",
        "scalar.py",
        "(1.0 if self.data > 0 else 0.0)",
        "(1.0 if self.data >= 0 else 0.0)",
        "lab01",
        ("conv.relu_at_zero",),
        (),
    ),
    Bug(
        "tanh_grad_from_input",
        "scalar.py",
        "(1.0 - out.data**2)",
        "(1.0 - self.data**2)",
        "lab01",
        ("ops.tanh",),
        (),
    ),
    Bug(
        "exp_grad_from_x",
        "scalar.py",
        "self.grad += out.data * out.grad",
        "self.grad += self.data * out.grad",
        "lab01",
        ("ops.exp",),
        (),
    ),
    Bug(
        "pow_accepts_value_exponent",
        "scalar.py",
        "        if not isinstance(n, (int, float)):\n"
        "            raise TypeError(\n"
        '                f"the exponent must be an int or float constant, not {type(n).__name__}"\n'
        "            )\n",
        "        if isinstance(n, Value):\n            n = n.data\n",
        "lab01",
        ("conv.pow_value_exponent",),
        (),
    ),
    Bug(
        "log_clamped",
        "scalar.py",
        "        if self.data <= 0:\n"
        "            raise ValueError("
        'f"log is only defined for positive values, got {self.data!r}")\n'
        '        out = Value(math.log(self.data), (self,), "log")\n',
        '        out = Value(math.log(max(self.data, 1e-12)), (self,), "log")\n',
        "lab01",
        ("conv.log_nonpositive",),
        (),
    ),
    Bug(
        "backward_not_seeded",
        "scalar.py",
        "        self.grad = 1.0\n",
        "",
        "lab02",
        ("graph.seed",),
        ("lab01",),
    ),
    Bug(
        "backward_forward_order",
        "scalar.py",
        "for node in reversed(order):",
        "for node in order:",
        "lab02",
        ("graph.worked_example", "graph.diamond"),
        ("lab01",),
    ),
    Bug(
        "recursive_topo_sort",
        "scalar.py",
        RECURSIVE_OLD,
        RECURSIVE_NEW,
        "lab02",
        ("graph.deep_chain",),
        ("lab01",),
    ),
    Bug(
        "eq_hash_by_value",
        "scalar.py",
        "    def __repr__(self) -> str:",
        VALUE_EQ,
        "lab01",
        ("conv.identity",),
        (),
    ),
    Bug(
        "bias_not_a_parameter",
        "nn.py",
        "return [*self.w, self.b]",
        "return list(self.w)",
        "lab03",
        ("nn.bias_included", "nn.param_count"),
        ("lab01", "lab02"),
    ),
    Bug(
        "zero_grad_does_nothing",
        "nn.py",
        "            p.grad = 0.0\n",
        "            pass\n",
        "lab03",
        ("nn.zero_grad",),
        ("lab01", "lab02"),
    ),
    Bug(
        "one_neuron_repeated",
        "nn.py",
        "[Neuron(nin, nonlin) for _ in range(nout)]",
        "[Neuron(nin, nonlin)] * nout",
        "lab03",
        ("nn.distinct_params",),
        ("lab01", "lab02"),
    ),
    Bug(
        "zero_weight_init",
        "nn.py",
        "self.w = [Value(random.uniform(-1.0, 1.0)) for _ in range(nin)]",
        "self.w = [Value(0.0) for _ in range(nin)]",
        "lab03",
        ("nn.weights_random",),
        ("lab01", "lab02"),
    ),
    Bug(
        "fit_wrong_update_sign",
        "train.py",
        "            p.data -= lr * p.grad\n",
        "            p.data += lr * p.grad\n",
        "lab04",
        ("train.fit_toy", "train.fit_matches_sgd"),
        ("lab01", "lab02", "lab03"),
    ),
    Bug(
        "fit_forgets_zero_grad",
        "train.py",
        "        model.zero_grad()\n",
        "",
        "lab04",
        ("train.fit_matches_sgd",),
        ("lab01", "lab02", "lab03"),
    ),
]


def grade(tmp_path: Path, bug: Bug) -> Graded:
    sub = make_submission(tmp_path, bug.id, bug.file, bug.old, bug.new)
    return run_checks(sub, labs={bug.lab, *bug.keeps})


@pytest.mark.parametrize("bug", BUGS, ids=[b.id for b in BUGS])
def test_planted_bug_loses_points_in_its_lab(tmp_path: Path, bug: Bug) -> None:
    graded = grade(tmp_path, bug)
    status = {o.id: o.status for o in graded.outcomes}
    assert graded.status == "graded"
    assert "grader_error" not in status.values(), status

    score, top = graded.lab_score(bug.lab)
    assert top > 0
    assert score < top, f"{bug.id}: {bug.lab} kept full points ({score} / {top})"

    for cid in bug.fails:
        assert status.get(cid) == FAILED, f"{bug.id}: expected {cid} to fail, got {status.get(cid)}"

    for lab in bug.keeps:
        kept, lab_top = graded.lab_score(lab)
        lost = [o.id for o in graded.outcomes if o.lab == lab and o.status != PASSED]
        assert kept == lab_top, f"{bug.id} must not cost {lab} points, but lost on {lost}"
    assert graded.score < graded.max_score


def test_bug_ids_are_unique_and_cover_every_lab() -> None:
    assert len({b.id for b in BUGS}) == len(BUGS) >= 12
    assert {b.lab for b in BUGS} == set(LABS)


def test_unpatched_copy_keeps_full_points(tmp_path: Path) -> None:
    """The control: the copy helper itself does not cost points (a no-op patch of a comment)."""
    sub = make_submission(
        tmp_path,
        "control",
        "scalar.py",
        "# BEGIN SOLUTION lab02",
        "# BEGIN SOLUTION lab02 (control)",
    )
    graded = run_checks(sub, labs=set(LABS))
    assert graded.score == graded.max_score == sum(graded.lab_score(lab)[1] for lab in LABS)


def test_patch_that_does_not_apply_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="exactly once"):
        make_submission(tmp_path, "noop", "scalar.py", "this text is not in the file", "x")
