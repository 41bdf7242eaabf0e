"""Hostile submissions: the grader survives each one, scores it honestly, and a batch of
them completes with every report written.

Every submission is built in ``tmp_path``: a copy of the reference (or skeleton) package
with one hostile patch, or a package written from scratch. Hangs are graded with a
2-second request limit so the file stays fast.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import cli
from grader.discover import Submission
from grader.rubric import RUBRIC
from grader.sandbox import Limits
from grader.score import FAILED, GRADER_ERROR, PASSED, Graded, run_checks
from tests.no_userns import LAUNCHER, SITE_DIRS, USER, as_user, readable_python

# The attack batch is graded once per leg (four legs) when its first test starts.
pytestmark = pytest.mark.timeout(1800)

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PKG = ROOT / "reference" / "src" / "minigrad"
SKELETON_PKG = ROOT / "skeleton" / "src" / "minigrad"
FAST = dataclasses.replace(RUBRIC, limits=Limits(request_seconds=2.0, submission_seconds=60))

ADD_LINE = 'out = Value(self.data + other.data, (self, other), "+")'
MUL_LINE = 'out = Value(self.data * other.data, (self, other), "*")'
AFTER_IMPORTS = 'Operand = Union["Value", int, float]\n'


# ---------------------------------------------------------------- helpers
def copy_package(tmp_path: Path, name: str, source: Path = REFERENCE_PKG) -> Path:
    """A submission folder ``tmp_path/name`` holding a copy of ``source`` as src/minigrad."""
    shutil.copytree(
        source, tmp_path / name / "src" / "minigrad", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path / name


def patch(folder: Path, old: str, new: str, file: str = "scalar.py") -> None:
    path = folder / "src" / "minigrad" / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the patch must match exactly once in {file}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def patched_reference(tmp_path: Path, name: str, old: str, new: str) -> Submission:
    folder = copy_package(tmp_path, name)
    patch(folder, old, new)
    return Submission(name, folder)


def before_add(code: str) -> tuple[str, str]:
    """A patch that runs ``code`` at the start of every ``a + b`` (inside __add__)."""
    return ADD_LINE, code.replace("\n", "\n        ") + "\n        " + ADD_LINE


def at_import(code: str) -> tuple[str, str]:
    """A patch that runs ``code`` when scalar.py is imported (after its own imports)."""
    return AFTER_IMPORTS, AFTER_IMPORTS + code + "\n"


def status_of(graded: Graded) -> dict[str, str]:
    return {o.id: o.status for o in graded.outcomes}


def outcome_summary(graded: Graded, cid: str) -> str:
    return next(o.summary for o in graded.outcomes if o.id == cid)


def assert_survived(graded: Graded) -> None:
    """Graded normally: every check has an outcome, none is the grader's own error."""
    assert graded.status == "graded"
    assert len(graded.outcomes) == len(RUBRIC.items)
    assert GRADER_ERROR not in status_of(graded).values(), [
        (o.id, o.summary) for o in graded.outcomes if o.status == GRADER_ERROR
    ]


# ---------------------------------------------------------------- (a) a hang
def test_endless_loop_in_add_is_stopped_and_other_checks_still_run(tmp_path: Path) -> None:
    sub = patched_reference(tmp_path, "hang", *before_add("while True:\n    pass"))
    start = time.monotonic()
    graded = run_checks(sub, rubric=FAST)
    assert time.monotonic() - start < 30
    assert_survived(graded)
    status = status_of(graded)
    assert status["ops.add"] == FAILED
    summary = outcome_summary(graded, "ops.add")
    assert "did not answer" in summary and "stopped" in summary
    assert any("did not answer" in note for note in graded.notes)
    for cid in ("ops.mul", "ops.sub", "ops.div", "ops.tanh", "conv.identity"):
        assert status[cid] == PASSED, cid
    assert 0 < graded.score < graded.max_score


# ---------------------------------------------------------------- (b) (c) broken imports
IMPORT_BREAKERS = {
    "missing_module": at_import("import minigrad_helpers_that_do_not_exist"),
    "raises_import_error": at_import('raise ImportError("the engine refuses to load")'),
}


@pytest.mark.parametrize("case", sorted(IMPORT_BREAKERS))
def test_import_error_scores_zero_with_a_note_and_a_report(tmp_path: Path, case: str) -> None:
    folder = copy_package(tmp_path, case)
    patch(folder, *IMPORT_BREAKERS[case])
    out = tmp_path / "out"
    assert cli.main([str(folder), "--out", str(out)]) == 0
    results = json.loads((out / case / "results.json").read_text())
    assert results["score"] == 0
    report = (out / case / "report.md").read_text()
    assert "minigrad/scalar.py does not import" in report
    assert ("ModuleNotFoundError" if case == "missing_module" else "ImportError") in report
    assert (out / case / "junit.xml").exists()

    graded = run_checks(Submission(case, folder), labs={"lab01"})
    assert graded.score == 0
    assert any("scalar.py does not import" in note for note in graded.notes)


def test_syntax_error_scores_zero_with_a_note(tmp_path: Path) -> None:
    sub = patched_reference(
        tmp_path,
        "syntax",
        "def __add__(self, other: Operand) -> Value:",
        "def __add__(self, other) -> Value",
    )
    graded = run_checks(sub)
    assert_survived(graded)
    assert graded.score == 0
    assert any("scalar.py does not import: SyntaxError" in note for note in graded.notes)


# ---------------------------------------------------------------- (d) exits
def test_sys_exit_at_import_scores_zero(tmp_path: Path) -> None:
    sub = patched_reference(tmp_path, "sys_exit", *at_import("import sys\nsys.exit(3)"))
    graded = run_checks(sub)
    assert_survived(graded)
    assert graded.score == 0
    assert any("does not import: SystemExit: 3" in note for note in graded.notes)


def test_os_exit_in_mul_fails_mul_only(tmp_path: Path) -> None:
    sub = patched_reference(
        tmp_path, "os_exit", MUL_LINE, '__import__("os")._exit(1)\n        ' + MUL_LINE
    )
    graded = run_checks(sub, rubric=FAST)
    assert_survived(graded)
    status = status_of(graded)
    assert status["ops.mul"] == FAILED
    assert "exited with status 1" in outcome_summary(graded, "ops.mul")
    for cid in (
        "ops.add",
        "ops.sub",
        "ops.neg",
        "ops.div",
        "ops.pow",
        "ops.exp",
        "ops.log",
        "ops.tanh",
    ):
        assert status[cid] == PASSED, cid
    assert graded.lab_score("lab01")[0] > 0
    assert 0 < graded.score < graded.max_score


# ---------------------------------------------------------------- (e) a huge print
@pytest.mark.parametrize("where", ["in_add", "at_import"])
def test_huge_print_is_stopped_at_the_output_cap(tmp_path: Path, where: str) -> None:
    code = 'print("x" * 10**8)'
    sub = patched_reference(
        tmp_path, where, *(before_add(code) if where == "in_add" else at_import(code))
    )
    graded = run_checks(sub, rubric=FAST)
    assert_survived(graded)
    cap = "printed more than 1024 KB of output and was stopped"
    assert any(cap in note for note in graded.notes), graded.notes
    assert len(graded.output_tail) <= 1500
    status = status_of(graded)
    if where == "in_add":
        assert status["ops.add"] == FAILED and cap in outcome_summary(graded, "ops.add")
        assert status["ops.mul"] == PASSED
        assert 0 < graded.score < graded.max_score
    else:
        assert graded.score == 0


# ---------------------------------------------------------------- (f) a memory hog
def test_memory_hog_gets_memory_error_and_grading_goes_on(tmp_path: Path) -> None:
    sub = patched_reference(tmp_path, "memory", *before_add("bytearray(8 * 1024**3)"))
    graded = run_checks(sub, rubric=FAST)
    assert_survived(graded)
    status = status_of(graded)
    assert status["ops.add"] == FAILED
    assert "MemoryError" in outcome_summary(graded, "ops.add")
    assert status["ops.mul"] == PASSED
    assert 0 < graded.score < graded.max_score


# ---------------------------------------------------------------- (g) a rigged test setup
FORCE_PASS_HOOK = """\
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
"""


def test_conftest_that_forces_passes_is_never_run(tmp_path: Path) -> None:
    folder = copy_package(tmp_path, "rigged", SKELETON_PKG)
    (folder / "conftest.py").write_text(FORCE_PASS_HOOK)
    (folder / "tests").mkdir()
    (folder / "tests" / "conftest.py").write_text(FORCE_PASS_HOOK)
    (folder / "tests" / "test_everything.py").write_text("def test_ok():\n    assert False\n")
    (folder / "src" / "minigrad" / "conftest.py").write_text(FORCE_PASS_HOOK)
    (folder / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\ntestpaths = ["tests"]\n'
        "[tool.ruff]\nexclude = ['*']\n[tool.mypy]\nignore_errors = true\n"
    )
    graded = run_checks(Submission("rigged", folder))
    assert_survived(graded)
    assert graded.score == 0
    assert all(graded.lab_score(lab)[0] == 0 for lab in RUBRIC.labs)


# ---------------------------------------------------------------- (h) a float equal to anything
LIAR_ENGINE = '''\
"""An engine whose numbers claim to equal anything: every op returns Liar(0.0)."""

from __future__ import annotations


class Liar(float):
    __eq__ = lambda s, o: True  # noqa: E731
    __ne__ = lambda s, o: False  # noqa: E731
    __lt__ = lambda s, o: True  # noqa: E731
    __gt__ = lambda s, o: True  # noqa: E731
    __hash__ = float.__hash__


NUMBER = Liar


def _noop():
    pass


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = NUMBER(data)
        self.grad = NUMBER(0.0)
        self._prev = tuple(_children)
        self._op = _op
        self._backward = _noop

    def _wrong(self, other, op):
        other = other if isinstance(other, Value) else Value(other)
        return Value(NUMBER(0.0), (self, other), op)

    def __add__(self, other):
        return self._wrong(other, "+")

    def __sub__(self, other):
        return self._wrong(other, "-")

    def __mul__(self, other):
        return self._wrong(other, "*")

    def __truediv__(self, other):
        return self._wrong(other, "/")

    def __pow__(self, n):
        return Value(NUMBER(0.0), (self,), "**")

    def __neg__(self):
        return Value(NUMBER(0.0), (self,), "neg")

    __radd__ = __add__
    __rsub__ = __sub__
    __rmul__ = __mul__
    __rtruediv__ = __truediv__

    def exp(self):
        return Value(NUMBER(0.0), (self,), "exp")

    log = relu = tanh = exp

    def backward(self):
        self.grad = NUMBER(0.0)
'''


def test_float_subclass_that_equals_everything_earns_only_what_its_numbers_earn(
    tmp_path: Path,
) -> None:
    liar = copy_package(tmp_path, "liar", SKELETON_PKG)
    (liar / "src" / "minigrad" / "scalar.py").write_text(LIAR_ENGINE)
    honest = copy_package(tmp_path, "honest_zero", SKELETON_PKG)
    (honest / "src" / "minigrad" / "scalar.py").write_text(
        LIAR_ENGINE.replace("NUMBER = Liar", "NUMBER = float")
    )

    lied = run_checks(Submission("liar", liar))
    plain = run_checks(Submission("honest_zero", honest))
    assert_survived(lied)
    assert_survived(plain)
    # The lie buys nothing: the same wrong numbers as plain floats earn exactly the same.
    assert status_of(lied) == status_of(plain)
    assert lied.score == plain.score
    assert lied.score <= 0.05 * lied.max_score
    for cid in ("ops.add", "ops.mul", "ops.tanh", "ops.reflected", "conv.zero_pow_zero"):
        assert status_of(lied)[cid] == FAILED, cid


# ---------------------------------------------------------------- (i) a torch / numpy engine
def test_torch_backed_engine_does_not_import(tmp_path: Path) -> None:
    sub = patched_reference(tmp_path, "torch_engine", *at_import("import torch"))
    graded = run_checks(sub, labs={"lab01"})
    assert graded.score == 0
    assert status_of(graded)["lab01.imports"] != PASSED
    assert any("torch" in note and "does not import" in note for note in graded.notes), graded.notes


def test_numpy_tried_at_run_time_loses_the_imports_point(tmp_path: Path) -> None:
    code = 'try:\n    np = __import__("numpy")\nexcept ImportError:\n    np = None'
    sub = patched_reference(tmp_path, "numpy_try", *at_import(code))
    graded = run_checks(sub, labs={"lab01"})
    status = status_of(graded)
    assert status["lab01.imports"] == FAILED
    got = next(o.got for o in graded.outcomes if o.id == "lab01.imports")
    assert "tried to import numpy" in got
    assert all(s == PASSED for cid, s in status.items() if cid != "lab01.imports")
    assert graded.lab_score("lab01") == (35.0, 36.0)


def test_a_cleared_import_record_does_not_hide_a_dynamic_import(tmp_path: Path) -> None:
    """The run's record of blocked imports lives in the student's process, which can
    clear it; the grader's static scan of its own copy of scalar.py still sees the call."""
    code = (
        'try:\n    np = __import__("numpy")\nexcept ImportError:\n    np = None\n'
        "for _c in ().__class__.__base__.__subclasses__():\n"
        '    if _c.__name__ == "_Blocker":\n'
        '        _c.find_spec.__globals__["blocked_imports"].clear()'
    )
    sub = patched_reference(tmp_path, "numpy_hidden", *at_import(code))
    graded = run_checks(sub, labs={"lab01"})
    assert status_of(graded)["lab01.imports"] == FAILED
    got = next(o.got for o in graded.outcomes if o.id == "lab01.imports")
    assert got == "scalar.py calls __import__()"  # the run's own record was cleared


# ---------------------------------------------------------------- (k) fake replies on fd 1
def test_fake_reply_on_stdout_does_not_break_grading(tmp_path: Path) -> None:
    sub = patched_reference(
        tmp_path,
        "fake_reply",
        *at_import('__import__("os").write(1, b\'{"id": 1, "ok": true}\\n\')'),
    )
    graded = run_checks(sub)
    assert_survived(graded)
    # Every point but the imports one (``__import__("os")`` is an import of os).
    assert graded.max_score == 100 and graded.score == 99
    lost = {o.id for o in graded.outcomes if o.status != PASSED and o.max_score > 0}
    assert lost == {"lab01.imports"}
    assert '{"id": 1, "ok": true}' in graded.output_tail


FORGE_REPLIES = """\
for _fd in range(3, 12):
    try:
        __import__("os").write(_fd, b'{"id": 2, "ok": true, "reads": {}, "error": null}\\n')
    except OSError:
        pass"""


def test_forged_replies_on_every_descriptor_earn_nothing(tmp_path: Path) -> None:
    """Reply-shaped lines written on every descriptor are caught where they reach the
    reply pipe, and never earn more than the engine itself (the reference) earns."""
    sub = patched_reference(tmp_path, "forger", *at_import(FORGE_REPLIES))
    graded = run_checks(sub, rubric=FAST)
    assert_survived(graded)
    honest = run_checks(Submission("honest", copy_package(tmp_path, "honest")), rubric=FAST)
    assert graded.score <= honest.score
    assert any("wrote over the grader's reply channel" in note for note in graded.notes), (
        graded.notes
    )


# ---------------------------------------------------------------- (k2) the protocol
# Student code runs in a process of its own: the worker's driver holds the grader's
# pipes and passes on only a clean copy of a reply that answers the request it sent.
# Shared by the in-process hijack tests and the batch's hijack attack: a way to make the
# worker's request handler run code of the submission's (rebinding ``handle`` is not
# enough: ``serve`` keeps a private copy, so the code of every function object running
# handle's code is rewritten), and a reply of the right shape for the request being
# answered, every value read "right", written on every descriptor 0..20.
FORGE = """\
import gc, json, os, sys, types


def replace_handle(new):
    main = sys.modules["grader.child.interpreter"]
    code = main.handle.__code__
    sys.minigrad_answer = new
    bridge = {}
    exec("def handle(request):\\n    return sys.minigrad_answer(request)\\n", {}, bridge)
    for obj in gc.get_objects():
        if type(obj) is types.FunctionType and obj.__code__ is code:
            obj.__code__ = bridge["handle"].__code__
    return types.FunctionType(code, main.__dict__, "real_handle")


def forged_reads(request):
    return {
        s[1]: {"kind": "Value", "data": 1.0, "grad": 1.0}
        for s in request.get("steps", [])
        if s and s[0] == "read"
    }


def write_everywhere(request, reads):
    line = {"id": request["id"], "ok": True, "reads": reads, "error": None,
            "blocked_imports": [], "parents": ["_prev"]}
    for fd in range(0, 21):
        try:
            os.write(fd, json.dumps(line).encode() + b"\\n")
        except OSError:
            pass
"""
HIJACK = (
    FORGE
    + """

def _hijack():
    def forged(request):
        reads = forged_reads(request)
        write_everywhere(request, reads)
        try:
            reply = real(request)
        except BaseException:
            reply = {}
        if "reads" in reply:
            reply.update(reads={**reply["reads"], **reads}, error=None)
        return reply

    real = replace_handle(forged)


_hijack()"""
)
TANH_LINE = 'out = Value(math.tanh(self.data), (self,), "tanh")'


def test_a_replaced_handle_and_forged_replies_earn_no_more_than_the_engine(
    tmp_path: Path,
) -> None:
    """An engine (tanh wrong) that replaces the worker's handle() and writes replies of
    the right shape, for the request being answered, on descriptors 0..20."""
    forger = copy_package(tmp_path, "hijack")
    patch(forger, TANH_LINE, TANH_LINE.replace("math.tanh(", "0.5 * math.tanh("))
    patch(forger, *at_import(HIJACK))
    honest = copy_package(tmp_path, "honest")
    patch(honest, TANH_LINE, TANH_LINE.replace("math.tanh(", "0.5 * math.tanh("))
    graded = run_checks(Submission("hijack", forger), rubric=FAST, labs={"lab01", "lab02"})
    truth = run_checks(Submission("honest", honest), rubric=FAST, labs={"lab01", "lab02"})
    assert_survived_labs(graded)
    assert 0 < truth.score < truth.max_score
    assert graded.score <= truth.score, (graded.score, truth.score)
    assert status_of(graded)["ops.tanh"] == FAILED
    faults = [o.summary for o in graded.outcomes] + graded.notes
    assert any("wrote over the grader's reply channel" in f for f in faults), faults


def assert_survived_labs(graded: Graded) -> None:
    assert graded.status == "graded"
    assert GRADER_ERROR not in status_of(graded).values(), [
        (o.id, o.summary) for o in graded.outcomes if o.status == GRADER_ERROR
    ]


# ---------------------------------------------------------------- (k3) numbers made up
# A submission that leaves nn.py and train.py as stubs and answers every request about
# networks itself, from a hidden float implementation: real weights drawn as the lab
# draws them, real forward passes, but gradients, updates and loss curves made up (the
# curves fall below every goal, each update is -lr times the gradient it reports). Only
# the requests without a network (one_hot and tense_dataset on their own: fixed lists,
# which returning right would be implementing) go to the real handler.
FABRICATE = (
    FORGE
    + """

import math, random


def _sizes(cls, args):
    if cls == "Neuron":
        return [args[0], 1]
    if cls == "Layer":
        return [args[0], args[1]]
    return [args[0], *args[1]]


def _new(cls, args):
    sizes = _sizes(cls, args)
    flat = [random.uniform(-1.0, 1.0) for a, b in zip(sizes, sizes[1:]) for _ in range((a + 1) * b)]
    return {"net": True, "sizes": sizes, "flat": flat, "grads": [0.0] * len(flat)}


def _forward(net, x, flat=None):
    flat = net["flat"] if flat is None else flat
    values, i = list(x), 0
    for nin, nout in zip(net["sizes"], net["sizes"][1:]):
        out = []
        for _ in range(nout):
            z = sum((w * v for w, v in zip(flat[i : i + nin], values)), flat[i + nin])
            out.append(math.tanh(z))
            i += nin + 1
        values = out
    return values


def _loss(net, xs, ys, flat=None):
    total = 0.0
    for x, y in zip(xs, ys):
        outs = _forward(net, x, flat)
        for o, t in zip(outs, y if isinstance(y, list) else [y]):
            total += (o - t) * (o - t)
    return total


def _train(net, xs, ys, epochs, lr, goal=None, chunk=1):
    start, losses, datas, grads = _loss(net, xs, ys), [], [], []
    while len(losses) < epochs:
        datas.append(list(net["flat"]))
        losses.append(start * math.exp(-len(losses) / 4.0))
        grads.append([random.gauss(0.0, 0.1) for _ in net["flat"]])
        net["flat"] = [p - lr * g for p, g in zip(net["flat"], grads[-1])]
        net["grads"] = list(grads[-1])
        if goal is not None and len(losses) % chunk == 0 and losses[-1] < goal:
            break
    datas.append(list(net["flat"]))
    return losses, datas, grads


def _structure(net):
    ids, i, layers = list(range(len(net["flat"]))), 0, []
    for nin, nout in zip(net["sizes"], net["sizes"][1:]):
        layers.append([ids[i + k * (nin + 1) : i + (k + 1) * (nin + 1)] for k in range(nout)])
        i += nout * (nin + 1)
    return layers


def _value(data, grad=0.0):
    return {"value": True, "data": data, "grad": grad}


def _arg(env, a):
    if isinstance(a, dict):
        return a["num"]
    if isinstance(a, list):
        return [_arg(env, v) for v in a]
    return env[a]


def _read(v):
    if isinstance(v, list):
        return {"kind": "list", "items": [{"data": u["data"], "grad": u["grad"]} for u in v]}
    return {"kind": "Value", "data": v["data"], "grad": v["grad"]}


def _made_up(request, real):
    steps = request.get("steps") or []
    if not any(s[0] == "new" for s in steps):
        return real(request)
    env, reads, net_of = {}, {}, {}
    for s in steps:
        kind = s[0]
        if kind == "seed":
            random.seed(s[1])
        elif kind == "new":
            env[s[1]] = _new(s[2], s[3:])
        elif kind == "call" and s[2] == "train:tense_dataset":
            rows = [[1.0 if j == i else 0.0 for j in range(5)] for i in range(5)]
            env[s[1]] = [rows, [list(r) for r in rows]]
        elif kind == "call" and s[2] == "train:fit":
            net, xs, ys, epochs, lr = (_arg(env, a) for a in s[3:])
            env[s[1]] = _train(net, xs, ys, int(epochs), lr)[0]
        elif kind == "call":
            net = env[s[2]]
            outs = [_value(o) for o in _forward(net, _arg(env, s[3]))]
            env[s[1]] = outs[0] if len(outs) == 1 else outs
            net_of[s[1]] = net
        elif kind == "index":
            env[s[1]] = env[s[2]][s[3]]
        elif kind in ("unwrap", "first"):
            v = env[s[-1]]
            env[s[1]] = v[0] if isinstance(v, list) else v
            net_of[s[1]] = net_of.get(s[-1])
        elif kind == "backward":
            env[s[1]]["grad"] = 1.0
            net = net_of[s[1]]
            net["grads"] = [random.gauss(0.0, 0.3) for _ in net["flat"]]
        elif kind == "read":
            reads[s[1]] = _read(env[s[1]])
        elif kind == "read_plain":
            reads[s[1]] = env[s[1]]
        elif kind == "method":
            net = env[s[2]]
            if s[3] == "zero_grad":
                net["grads"] = [0.0] * len(net["flat"])
            env[s[1]] = net
        elif kind in ("length", "count_distinct"):
            reads[s[1]] = len(env[s[2]]["flat"])
        elif kind == "params_data":
            reads[s[1]] = list(env[s[2]]["flat"])
        elif kind == "params_grad":
            reads[s[1]] = list(env[s[2]]["grads"])
        elif kind == "layer_weights":
            reads[s[1]] = list(env[s[2]]["flat"])
        elif kind == "net":
            net = env[s[2]]
            n = len(net["flat"])
            reads[s[1]] = {"named": _structure(net), "listed": list(range(n)),
                           "data": list(net["flat"]), "grad": list(net["grads"])}
        elif kind == "param_effect":
            net, x, delta = env[s[2]], _arg(env, s[3]), s[4]
            effects = []
            for i in range(len(net["flat"])):
                moved = list(net["flat"])
                moved[i] += delta
                effects.append(_forward(net, x, moved)[0])
            reads[s[1]] = effects + [_forward(net, x)[0]]
        elif kind == "sgd":
            net, xs, ys = env[s[2]], _arg(env, s[3]), _arg(env, s[4])
            goal = s[7] if len(s) > 7 else None
            losses, datas, grads = _train(net, xs, ys, s[5], s[6], goal)
            reads[s[1]] = losses
            if len(s) > 8 and s[8]:
                reads[s[1] + "#trace"] = {"data": datas, "grad": grads}
        elif kind == "fit_until":
            net, xs, ys = env[s[2]], _arg(env, s[3]), _arg(env, s[4])
            losses, datas, _ = _train(net, xs, ys, s[6], s[7], s[8], s[5])
            reads[s[1]] = losses
            if len(s) > 9 and s[9]:
                reads[s[1] + "#trace"] = {"data": datas, "xs": xs, "ys": ys}
    return {"reads": reads, "error": None, "blocked_imports": [], "parents": ["_prev"]}


def _install():
    real = replace_handle(lambda request: _made_up(request, real))


_install()
"""
)


def stub_network_labs(tmp_path: Path, name: str, attack: str = "") -> Submission:
    """The reference's engine with nn.py and train.py left as the skeleton's stubs, and
    ``attack`` run when the package is imported."""
    folder = copy_package(tmp_path, name)
    for module in ("nn.py", "train.py"):
        shutil.copyfile(SKELETON_PKG / module, folder / "src" / "minigrad" / module)
    init = folder / "src" / "minigrad" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + attack, encoding="utf-8")
    return Submission(name, folder)


NETWORK_LABS = {"lab03", "lab04"}


def test_a_stub_that_answers_the_network_requests_itself_earns_no_more_than_the_stub(
    tmp_path: Path,
) -> None:
    """Gradients, updates and loss curves made up by a hidden float implementation:
    every lab 3 and lab 4 check reproduces the numbers from the parameters the network
    reports, so the made-up ones earn nothing (on the grader as issue 19 found it, this
    earned 95 of 100 where the stubs earn 72)."""
    attack = run_checks(
        stub_network_labs(tmp_path, "made_up", FABRICATE), rubric=FAST, labs=NETWORK_LABS
    )
    stub = run_checks(stub_network_labs(tmp_path, "stub"), rubric=FAST, labs=NETWORK_LABS)
    assert_survived_labs(attack)
    assert attack.score <= stub.score == 0.0, [(o.id, o.status) for o in attack.outcomes]
    # The made-up answers were taken up (the real handler would only have raised
    # NotImplementedError) and refused by the grader's own arithmetic: every check that
    # ran on a network failed on numbers it could not reproduce.
    refused = {o.id for o in attack.outcomes if o.observed.get("unverified")}
    assert refused == {
        *(f"nn.{c}" for c in ("build", "param_count", "distinct_params", "bias_included")),
        *(f"nn.{c}" for c in ("zero_grad", "layer_single", "weights_random", "forward")),
        *(f"train.{c}" for c in ("engine_sgd", "fit_toy", "fit_matches_sgd")),
    }, [(o.id, o.status, o.summary) for o in attack.outcomes]
    build = next(o for o in attack.outcomes if o.id == "nn.build")
    assert "not the derivatives of that output" in build.summary


SEVEN = (
    FORGE
    + """

def _install():
    def sevens(request):
        reply = real(request)
        if isinstance(reply.get("reads"), dict):
            reply["reads"] = dict.fromkeys(reply["reads"], 7)
        return reply

    real = replace_handle(sevens)


_install()
"""
)


def test_a_forged_read_of_the_wrong_type_fails_checks_and_never_breaks_the_grader(
    tmp_path: Path,
) -> None:
    """Every value read back replaced by 7 (where an object, a list or a float is
    promised): each check fails as the student's, saying what came back, and the
    submission is graded (a number, not a grader error)."""
    folder = copy_package(tmp_path, "sevens")
    patch(folder, *at_import(SEVEN))
    graded = run_checks(Submission("sevens", folder), rubric=FAST)
    assert_survived(graded)
    assert graded.score < 10, [(o.id, o.status) for o in graded.outcomes]
    build = next(o for o in graded.outcomes if o.id == "nn.build")
    assert build.status == FAILED
    assert "sent back int '7' for 'out'" in build.summary, build.summary


COUNT_PAIR = (
    FORGE
    + """

def _install():
    def pair(request):
        reply = real(request)
        reads = reply.get("reads")
        if isinstance(reads, dict) and "k" in reads and "n" in reads:
            reads["k"] = reads["n"]
        return reply

    real = replace_handle(pair)


_install()
"""
)
REPEATED = ("[Neuron(nin, nonlin) for _ in range(nout)]", "[Neuron(nin, nonlin)] * nout")


def test_a_forged_pair_of_counts_does_not_make_repeated_neurons_distinct(tmp_path: Path) -> None:
    """One neuron object repeated across each layer, and the distinct count the
    student's process reports set equal to the length: the grader counts the objects
    of the network itself."""
    folder = copy_package(tmp_path, "pair")
    patch(folder, *REPEATED, file="nn.py")
    patch(folder, *at_import(COUNT_PAIR))
    graded = run_checks(Submission("pair", folder), rubric=FAST, labs={"lab03"})
    assert_survived_labs(graded)
    distinct = next(o for o in graded.outcomes if o.id == "nn.distinct_params")
    assert distinct.status == FAILED, distinct.summary
    assert "same object listed more than once" in distinct.summary


def test_the_students_process_holds_none_of_the_graders_descriptors(tmp_path: Path) -> None:
    """What student code can reach: /dev/null on 0, the output log on 1 and 2, its
    progress file and two pipes to the driver, none of them the grader's own pipes."""
    from grader.sandbox import Sandbox

    probe = (
        "import os as _os, stat as _stat\n"
        "_kinds = []\n"
        "for _fd in range(256):\n"
        "    try:\n"
        "        _s = _os.fstat(_fd)\n"
        "    except OSError:\n"
        "        continue\n"
        "    _pipe = _stat.S_ISFIFO(_s.st_mode)\n"
        "    _kinds.append(f'{_fd}:' + (f'fifo:{_s.st_ino}' if _pipe else 'other'))\n"
        "print('FDS ' + ' '.join(_kinds), flush=True)\n"
    )
    sub = patched_reference(tmp_path, "fds", *at_import(probe))
    with Sandbox(sub.path, FAST.limits) as box:
        assert box.request({"kind": "hello"})["modules"]["scalar"] is None
        assert box.process is not None and box.process.stdin and box.process.stdout
        graders = {os.fstat(f.fileno()).st_ino for f in (box.process.stdin, box.process.stdout)}
        tail = box.output_tail()
    line = next(x for x in tail.splitlines() if x.startswith("FDS "))
    kinds = line.split()[1:]
    assert kinds[:3] == ["0:other", "1:other", "2:other"], kinds
    pipes = {int(k.split(":")[2]) for k in kinds if ":fifo:" in k}
    assert len(pipes) == 2 and not pipes & graders, (kinds, graders)
    assert len(kinds) <= 6, kinds  # and at most one more: the progress file


# ---------------------------------------------------------------- (l) a batch of them
BATCH = {
    "a_import_error": at_import("import minigrad_helpers_that_do_not_exist"),
    "b_os_exit": (MUL_LINE, '__import__("os")._exit(1)\n        ' + MUL_LINE),
    "c_huge_print": before_add('print("x" * 10**8)'),
    "d_memory_hog": before_add("bytearray(8 * 1024**3)"),
    "e_torch": at_import("import torch"),
}


def test_batch_of_hostile_submissions_completes(tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    for name, (old, new) in BATCH.items():
        patch(copy_package(batch, name), old, new)
    syntax = copy_package(batch, "f_syntax_error")
    patch(
        syntax, "def __add__(self, other: Operand) -> Value:", "def __add__(self, other) -> Value"
    )
    copy_package(batch, "z_reference")
    out = tmp_path / "out"

    assert cli.main([str(batch), "--out", str(out), "--jobs", "2"]) == 0

    names = sorted([*BATCH, "f_syntax_error", "z_reference"])
    for name in names:
        for report in ("results.json", "report.md", "junit.xml"):
            assert (out / name / report).is_file(), f"{name}/{report} missing"
    with (out / "grades.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["name"] for row in rows) == names
    by_name = {row["name"]: row for row in rows}
    assert by_name["z_reference"]["total"] == "100"
    assert all(row["note"] == "" for row in rows)  # graded: a score, no reason for a blank
    for name in ("a_import_error", "e_torch", "f_syntax_error"):
        assert by_name[name]["total"] == "0", name
    for name in ("b_os_exit", "c_huge_print", "d_memory_hog"):
        assert 0 < float(by_name[name]["total"]) < 100, name
    assert "printed more than 1024 KB" in (out / "c_huge_print" / "report.md").read_text()


def _namespaces_allowed() -> bool:
    """Whether this machine lets a process unshare its network and mount namespaces
    (root, or unprivileged user namespaces): where it does not, the grader runs
    without them and says so in every report."""
    import subprocess
    import sys

    probe = "import ctypes, sys; sys.exit(ctypes.CDLL(None).unshare(0x40000000 | 0x00020000))"
    return subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


NAMESPACES = pytest.mark.skipif(
    not _namespaces_allowed(), reason="this machine refuses network/mount namespaces"
)


# ---------------------------------------------------------------- (m) no network
@NAMESPACES
def test_student_code_has_no_network(tmp_path: Path) -> None:
    import socket

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    code = (
        "import socket as _s\n"
        "try:\n"
        f"    _s.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'leak')\n"
        "except OSError:\n"
        "    pass\n"
    )
    sub = patched_reference(tmp_path, "phones_home", *at_import(code))
    graded = run_checks(sub)
    assert_survived(graded)
    # It earns what it honestly earns: every op works (the import of socket costs it
    # the imports and quality points only).
    lost = {o.id for o in graded.outcomes if o.status != PASSED and o.max_score > 0}
    assert lost == {"lab01.imports", "lab02.quality"}
    with pytest.raises(TimeoutError):
        server.accept()  # nobody connected: the child had no network
    server.close()


# ---------------------------------------------------------------- (n) no peeking at files
@NAMESPACES
def test_student_code_cannot_read_the_reference_or_other_submissions(tmp_path: Path) -> None:
    import tempfile

    reference = ROOT / "reference" / "src" / "minigrad" / "scalar.py"
    neighbour = Path(tempfile.gettempdir()) / "minigrad-neighbour-submission.py"
    neighbour.write_text("x = 1\n")
    code = (
        f"for _path in ({str(reference)!r}, {str(neighbour)!r}):\n"
        "    try:\n"
        "        open(_path).read()\n"
        "    except OSError:\n"
        "        continue\n"
        "    raise RuntimeError('could read ' + _path)\n"
    )
    try:
        sub = patched_reference(tmp_path, "peeker", *at_import(code))
        graded = run_checks(sub)
    finally:
        neighbour.unlink()
    assert_survived(graded)
    # Nothing was readable, so nothing sabotaged itself: only the style of the probe
    # code itself may cost the quality points.
    lost = {o.id for o in graded.outcomes if o.status != PASSED and o.max_score > 0}
    assert lost <= {"lab02.quality"}, (lost, graded.notes)
    assert not any("could see the file system" in note for note in graded.notes)


# ================================================================ the attack batch
# One submission per attack class of issue 10, graded as one batch by the command line
# (`--jobs 2`), as root and as an unprivileged user where the suite can drop to one
# (as root: a system user made with useradd, running a Python it can read; as a normal
# user: that user). Each attack tries its escape at import (or in its own tests), prints
# HELD when every attempt failed and ESCAPED:<what> otherwise, and keeps the engine
# working, so its report shows both that the attack ran and what it earned.
SECRET = "CANARY-" + os.urandom(8).hex()
LABS = ["--lab", "lab01", "--lab", "bonus"]


def _probe(body: str) -> str:
    """Attack code run at import: ``ok`` collects what succeeded; never raises."""
    indented = "    " + body.strip().replace("\n", "\n    ")
    return (
        "def _attack():\n"
        "    import os, sys, ctypes, signal, stat\n"
        "    ok = []\n"
        "    def grab(path):\n"
        "        try:\n"
        "            with open(path, 'rb') as f:\n"
        "                ok.append('read ' + path + ': ' + f.read(300).decode('latin-1'))\n"
        "        except OSError:\n"
        "            pass\n"
        "    def scribble(path, mode='a'):\n"
        "        try:\n"
        "            with open(path, mode) as f:\n"
        "                f.write('# tampered\\n')\n"
        "            ok.append('wrote ' + path)\n"
        "        except OSError:\n"
        "            pass\n"
        f"{indented}\n"
        "    print('ESCAPED:' + ' | '.join(ok) if ok else 'HELD', flush=True)\n"
        "\n"
        "\n"
        "try:\n"
        "    _attack()\n"
        "except BaseException as _exc:\n"
        "    print('HELD (attack stopped: ' + type(_exc).__name__ + ')', flush=True)\n"
    )


def _targets(ctx: dict[str, Any]) -> str:
    return (
        f"REF = {str(REFERENCE_PKG / 'scalar.py')!r}\n"
        f"RUBRIC = {str(ROOT / 'grader' / 'rubric.toml')!r}\n"
        f"CATALOG = {str(ROOT / 'grader' / 'mistakes' / 'catalog.toml')!r}\n"
        f"CANARY = {ctx['canary']!r}\n"
        f"SITES = {SITE_DIRS!r}\n"
        f"OUTS = {ctx['outs']!r}\n"
    )


ATTACKS: dict[str, str] = {
    "tmpfs_lifted": """
libc = ctypes.CDLL(None, use_errno=True)
for m in ("/tmp/run", "/tmp", "/"):
    if libc.umount2(m.encode(), 2) == 0:
        ok.append("umount " + m)
for p in (REF, RUBRIC, CATALOG, CANARY):
    grab(p)
""",
    "proc_root_cwd_mem": """
for pid in [os.getppid(), 1, *range(2, 4000)]:
    for p in (f"/proc/{pid}/root{REF}", f"/proc/{pid}/cwd/rubric.toml", f"/proc/{pid}/environ"):
        grab(p)
    try:
        with open(f"/proc/{pid}/mem", "rb") as f:
            f.seek(0x400000)
            ok.append("mem " + str(len(f.read(64))))
    except (OSError, ValueError, OverflowError):
        pass
""",
    "setns_mount_and_net": """
libc = ctypes.CDLL(None, use_errno=True)
for pid in range(1, 4000):
    for ns in ("mnt", "net", "user", "pid"):
        try:
            fd = os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY)
        except OSError:
            continue
        if libc.setns(fd, 0) == 0:
            ok.append(f"setns {pid} {ns}")
libc.unshare(0x40000000) == 0 and ok.append("unshare net")
scribble(RUBRIC)
""",
    "writes_repo_and_env": """
scribble(RUBRIC)
scribble(REF)
scribble(os.path.join(os.path.dirname(RUBRIC), "report.py"))
scribble(os.path.join(os.path.dirname(RUBRIC), "__pycache__", "score.cpython-311.pyc"), "w")
for site in SITES:
    scribble(os.path.join(site, "zz_minigrad_evil.pth"), "w")
scribble(CANARY)
""",
    "overwrites_classmates": """
for out in OUTS:
    for name in ("z_reference", "grades.csv"):
        scribble(os.path.join(out, name, "report.md"), "w")
        scribble(os.path.join(out, "grades.csv"), "w")
""",
    "grandchild_outlives": """
try:
    import subprocess
    subprocess.Popen(["sleep", "6000.5"], start_new_session=True)
    ok.append("popen")
except OSError:
    pass
try:
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.execvp("sleep", ["sleep", "6000.5"])
    ok.append("fork")
except OSError:
    pass
""",
    "signals_the_grader": """
for pid in [os.getppid(), *range(1, 4000)]:
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            if pid != os.getpid():
                os.kill(pid, sig)
                ok.append(f"kill {pid} {sig}") if pid > 1 else None
        except OSError:
            pass
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
""",
    "fork_storm": """
made = 0
for _ in range(2000):
    try:
        if os.fork() == 0:
            import time
            time.sleep(600)
            os._exit(0)
        made += 1
    except OSError:
        break
made and ok.append(f"forks={made}")
""",
    "output_log_symlink": """
for p in ("output.log", "../output.log"):
    try:
        os.unlink(p)
    except OSError:
        pass
    try:
        os.symlink(REF, p)
        ok.append("symlink " + p) if p.startswith("..") else None
    except OSError:
        pass
""",
    "output_log_fifo": """
for p in ("../output.log", "../work2"):
    try:
        os.unlink(p)
    except OSError:
        pass
    try:
        os.mkfifo(p)
        ok.append("fifo " + p)
    except OSError:
        pass
""",
    "swaps_file_before_lint": """
import threading
def swap():
    try:
        with open(__file__, "w") as f:
            f.write("")
        ok.append("swapped " + __file__)
    except OSError:
        pass
t = threading.Thread(target=swap)
t.start()
t.join()
""",
    "poisons_tool_cache": """
for p in ("/tmp/minigrad-grader-mypy-cache", "/tmp/minigrad-mypy-cache-x", "/var/tmp/x"):
    scribble(p, "w")
""",
    "removes_import_blocker": """
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_Blocker"]
sys.path.extend(SITES)
try:
    import torch
    ok.append("torch " + torch.__version__)
except BaseException:
    pass
""",
    "forges_replies": """
import json
for fd in range(3, 40):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            for i in range(1, 60):
                line = {"id": i, "ok": True, "reads": {}, "error": None}
                os.write(fd, json.dumps(line).encode() + b"\\n")
    except OSError:
        pass
main = sys.modules.get("grader.child.interpreter")
if main is not None and hasattr(main, "handle"):
    main.handle = lambda request: {"reads": {}, "error": None, "blocked_imports": []}
""",
    "hijacks_the_worker": FORGE
    + """
def forged(request):
    reads = forged_reads(request)
    write_everywhere(request, reads)
    return {"reads": reads, "error": None, "blocked_imports": [], "parents": ["_prev"]}
main = sys.modules.get("grader.child.interpreter")
if main is not None and hasattr(main, "serve"):
    replace_handle(forged)
""",
    "over_deep_reply": """
for fd in range(3, 40):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, b'{"id": 1, "ok": true, "reads": ' + b"[" * 200000 + b"\\n")
    except OSError:
        pass
""",
}

# How each attack is held (the closing table, `python -m tools.hostile_table`).
HELD_BY = {
    "tmpfs_lifted": "umount refused (seccomp); outside its folder nothing is mounted "
    "(mount namespace) or readable (Landlock)",
    "proc_root_cwd_mem": "/proc is not readable (Landlock); ptrace and process_vm_readv "
    "refused (seccomp); the grader is outside its PID namespace (with namespaces)",
    "setns_mount_and_net": "setns/unshare refused (seccomp); /proc/*/ns not readable",
    "writes_repo_and_env": "writes only in its scratch folder (Landlock); repository "
    "fingerprinted before and after",
    "overwrites_classmates": "other reports are not writable (Landlock), nor visible "
    "(mount namespace, with namespaces; Landlock refuses reading them without)",
    "grandchild_outlives": "fork/exec refused (seccomp); with namespaces the PID namespace "
    "dies with its PID 1 as well",
    "signals_the_grader": "kill/tgkill/sigqueue aimed at any process but itself refused "
    "(seccomp); with namespaces nothing else is in its PID namespace; as root without "
    "them it runs as uid 65534",
    "fork_storm": "process creation refused (seccomp); RLIMIT_NPROC for threads",
    "output_log_symlink": "the grader opens the log itself (O_NOFOLLOW) and passes the "
    "descriptor; no write outside work/",
    "output_log_fifo": "no FIFO can be made outside work/ (Landlock); the grader refuses "
    "special files",
    "swaps_file_before_lint": "the package copy is read-only to student code (Landlock)",
    "poisons_tool_cache": "no write outside work/ (Landlock); with namespaces /tmp is a "
    "private tmpfs too",
    "removes_import_blocker": "site-packages is not readable (python -I -S, Landlock)",
    "forges_replies": "the student's process never holds the grader's pipes; the driver "
    "passes on only a vetted reply to the request it sent",
    "hijacks_the_worker": "a rewritten handle() answers in the student's process only: a "
    "forged or extra reply is a fault, every value read back must have its step's shape, "
    "and the score is no more than the engine's",
    "over_deep_reply": "depth- and length-capped replies (grader/child/channel.py); the "
    "driver reports a fault",
}


def test_every_attack_says_how_it_is_held() -> None:
    assert set(HELD_BY) == set(ATTACKS)
    assert all(len(how) > 20 for how in HELD_BY.values())


INJECTION = (
    "```\\n# INJECTED HEADING\\n| a | b |\\n\\x1b[31mred\\x1b[0m \\x00\\x07\\x1b]0;title\\x07"
    " <&> ]]> =HYPERLINK(1)"
)


def _build_batch(batch: Path, ctx: dict[str, Any]) -> None:
    """Every attack submission, an honest skeleton and a clean reference."""
    for name, body in ATTACKS.items():
        folder = copy_package(batch, name)
        code = _targets(ctx) + _probe(body)
        if name in ("forges_replies", "hijacks_the_worker"):
            folder = batch / name
            shutil.rmtree(folder)
            copy_package(batch, name, SKELETON_PKG)
        patch(folder, AFTER_IMPORTS, AFTER_IMPORTS + code + "\n")
    copy_package(batch, "honest_skeleton", SKELETON_PKG)
    copy_package(batch, "z_reference")
    # Markdown / CSV / JUnit / ANSI injection, in the name and in the messages.
    inject = copy_package(batch, "=HYPERLINK(1)injected")
    patch(inject, ADD_LINE, f'raise ValueError("{INJECTION}")\n        ' + ADD_LINE)
    patch(inject, AFTER_IMPORTS, AFTER_IMPORTS + f'print("{INJECTION}")\n')
    huge = copy_package(batch, "megabyte_message")
    patch(huge, ADD_LINE, 'raise ValueError("m" * 1_000_000)\n        ' + ADD_LINE)
    for name in ("grades.csv", "summary.md", "index.html"):
        copy_package(batch, name)
    # Symlinks: the package and the tests pointing into the course repository.
    linked = batch / "symlinked_package"
    (linked / "src").mkdir(parents=True)
    (linked / "src" / "minigrad").symlink_to(REFERENCE_PKG)
    (linked / "tests").symlink_to(ROOT / "reference" / "tests")
    # A FIFO where the grader used to read the output log: the grader would hang on it.
    fifo = copy_package(batch, "fifo_in_submission")
    os.mkfifo(fifo / "src" / "minigrad" / "output.log")
    # Students' own tests: writes into the grader, a pipe held open, a folder detector.
    writer = copy_package(batch, "tests_write_the_grader")
    (writer / "tests").mkdir()
    (writer / "tests" / "test_tamper.py").write_text(
        _targets(ctx)
        + "import os\n\n\ndef test_tamper() -> None:\n"
        + "    pths = [os.path.join(s, 'zz_evil.pth') for s in SITES]\n"
        + "    for path in (RUBRIC, REF, CANARY, *pths):\n"
        + "        try:\n            open(path, 'a').write('# tampered')\n"
        + "        except OSError:\n            pass\n"
    )
    holder = copy_package(batch, "tests_hold_the_pipe")
    (holder / "tests").mkdir()
    (holder / "tests" / "test_hold.py").write_text(
        "import os\nimport time\n\n\ndef test_hold() -> None:\n    try:\n"
        "        if os.fork() == 0:\n            time.sleep(6000.5)\n    except OSError:\n"
        "        pass\n"
    )
    detector = copy_package(batch, "tests_detect_the_folder")
    (detector / "tests").mkdir()
    (detector / "tests" / "test_detect.py").write_text(
        "import os\nimport time\n\nimport minigrad.scalar\n\n\ndef test_detect() -> None:\n"
        "    path = minigrad.scalar.__file__\n"
        "    old = os.stat(path).st_mtime < time.time() - 3600 * 24 * 365 * 3\n"
        "    assert 'reference' in path or 'variant' not in path and old and os.getpid() != 2\n"
        "\n\n"
        "def test_options(pytestconfig) -> None:  # -x or --deselect only on variant runs?\n"
        "    import sys\n"
        "    names = set()\n"
        "    frame = sys._getframe()\n"
        "    while frame:\n"
        "        names |= {repr(v)[:200] for v in frame.f_locals.values()}\n"
        "        frame = frame.f_back\n"
        "    told = any('reference' in n or 'variant' in n or 'deselect' in n for n in names)\n"
        "    assert not pytestconfig.getoption('exitfirst') and not told\n"
        "\n\n"
        "def test_first_run_by_time() -> None:  # the reference runs first in its runner\n"
        "    here = os.path.dirname(os.path.abspath(__file__))\n"
        "    near = [here, os.path.dirname(here), os.path.join(os.path.dirname(here), 'code')]\n"
        "    assert time.time() - min(os.stat(p).st_ctime for p in near) < 3\n"
        "\n\n"
        "def test_first_run_by_pid() -> None:\n"
        "    assert os.getpid() - os.getppid() < 3 and os.getpid() - os.getpgid(0) < 3\n"
        "\n\n"
        "def test_runner_layout_by_inode() -> None:  # the reference's runner has one engine\n"
        "    gap = os.stat(minigrad.scalar.__file__).st_ino - os.stat(__file__).st_ino\n"
        "    assert 0 < gap < 20\n"
    )

    # The same trivial check twice: honestly, and with a forged result stream written on
    # every descriptor the run might share with the runner or the grader, and a marker
    # that, if it survived the scratch clean-up, would tell the first run (the
    # reference) from the later ones (the planted bugs): catching them all.
    forged = FORGE_STREAM + READ_ONLY_MARKER
    for name, forge in (("tests_honest_twin", ""), ("tests_forge_the_stream", forged)):
        folder = copy_package(batch, name)
        (folder / "tests").mkdir()
        (folder / "tests" / "test_twin.py").write_text(TRIVIAL_CHECK + forge)
    # An engine that fills its folder on import (1 MB a file, the output cap).
    flood = copy_package(batch, "floods_the_disk")
    patch(flood, *at_import(DISK_FLOOD))
    # An engine that starts threads until the kernel says no, and prints how many.
    threads = copy_package(batch, "floods_threads")
    patch(threads, *at_import(THREAD_FLOOD))


TRIVIAL_CHECK = """
from minigrad.scalar import Value


def test_sum_gradient() -> None:
    a, b = Value(2.0), Value(3.0)
    (a + b).backward()
    assert a.grad == 1.0 and b.grad == 1.0
"""
FORGE_STREAM = """

def test_forge() -> None:
    import os
    fake = b'{"t": "test_twin.py::test_sum_gradient", "ok": false}\\n{"end": true}\\n'
    for fd in range(3, 64):
        try:
            os.write(fd, fake)
        except OSError:
            pass
"""
READ_ONLY_MARKER = """

def test_marker() -> None:
    import os

    mark = os.path.join(os.getcwd(), "seen-before")
    if os.path.exists(mark):
        raise AssertionError("not the first run")
    os.makedirs(os.path.join(mark, "inside"))
    open(os.path.join(mark, "inside", "f"), "w").write("x")
    os.chmod(os.path.join(mark, "inside"), 0o500)
    os.chmod(mark, 0o500)
"""
THREAD_FLOOD = (
    "import threading as _t, time as _tm\n"
    "_n = 0\n"
    "try:\n"
    "    for _i in range(3000):\n"
    "        _t.Thread(target=_tm.sleep, args=(60,), daemon=True).start()\n"
    "        _n += 1\n"
    "except (RuntimeError, MemoryError):\n"
    "    pass\n"
    "print(f'THREADS STARTED {_n}', flush=True)"
)
DISK_FLOOD = (
    "for _i in range(100000):\n"
    "    with open(f'flood-{_i}', 'wb') as _f:\n"
    "        _f.write(b'x' * 1_000_000)"
)


def _secrets() -> list[str]:
    """Lines of hidden files that must never appear in a report."""
    ref = (REFERENCE_PKG / "scalar.py").read_text().splitlines()
    skeleton = set((SKELETON_PKG / "scalar.py").read_text().splitlines())
    hidden = [line.strip() for line in ref if len(line.strip()) > 30 and line not in skeleton]
    catalog = (ROOT / "grader" / "mistakes" / "catalog.toml").read_text().splitlines()
    return [SECRET, *hidden[:5], *[c.strip() for c in catalog if len(c.strip()) > 40][:3]]


def _digest(folder: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
        if not p.is_symlink()
    }


def _sleepers() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"6000.5" in argv:
            found.append(int(entry))
    return found


def _legs() -> dict[str, list[str]]:
    """Leg -> the argv that starts the grader's Python in it: as root and as an
    unprivileged user where the suite can drop to one, each on this machine and as on a
    host that refuses user namespaces (confined with Landlock and seccomp alone)."""
    import sys

    if os.geteuid() != 0:  # we are the unprivileged user
        return {
            "user": [sys.executable],
            "user_no_userns": [sys.executable, LAUNCHER, sys.executable],
        }
    legs = {"root": [sys.executable]}
    python, why = readable_python()
    run_as, _ = as_user()
    if why:
        print(f"test_hostile: no unprivileged or no-userns leg: {why}")
        return legs
    legs["user"] = [*run_as, python]
    legs["root_no_userns"] = [python, LAUNCHER, python]
    legs["user_no_userns"] = [*run_as, python, LAUNCHER, python]
    return legs


PREFIXES = _legs()
LEGS = list(PREFIXES)
WITHOUT_NAMESPACES = "confining with Landlock and seccomp only"


@pytest.fixture(scope="module")
def graded_batch() -> Iterator[dict[str, dict[str, object]]]:
    """Grade the attack batch once per leg; what each leg left behind."""
    import compileall
    import subprocess

    from grader.integrity import changes, fingerprint

    # What the grader does before its first fingerprint (even if this process writes no
    # bytecode: the grader it starts does).
    compileall.compile_dir(ROOT / "grader", quiet=2, workers=1)
    work = Path(tempfile.mkdtemp(prefix="minigrad-hostile-", dir="/var/tmp"))
    work.chmod(0o755)
    canary = work / "canary.txt"
    canary.write_text(SECRET + "\n")
    canary.chmod(0o666)  # writable by anyone: only the confinement protects it
    outs = {leg: work / f"out-{leg}" for leg in LEGS}
    ctx = {"canary": str(canary), "outs": [str(o) for o in outs.values()]}
    batch = work / "batch"
    _build_batch(batch, ctx)
    for path in [batch, *batch.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    results: dict[str, dict[str, object]] = {}
    try:
        for leg, out in outs.items():
            out.mkdir()
            before = (fingerprint(), _digest(batch), canary.read_text())
            if leg.startswith("user") and os.geteuid() == 0:
                shutil.chown(out, USER)
            start = time.monotonic()
            temp = Path(tempfile.mkdtemp(prefix=f"temp-{leg}-", dir="/tmp"))
            temp.chmod(0o1777)  # the grader's TMPDIR, whoever it runs as
            done = subprocess.run(
                [
                    *PREFIXES[leg],
                    "-m",
                    "grader",
                    str(batch),
                    "--out",
                    str(out),
                    "--jobs",
                    "2",
                    *LABS,
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": str(temp)},
                timeout=1200,
            )
            after = (fingerprint(), _digest(batch), canary.read_text())
            results[leg] = {
                "code": done.returncode,
                "stdout": done.stdout,
                "stderr": done.stderr,
                "seconds": time.monotonic() - start,
                "unchanged": before == after,
                "changed": [
                    *changes(before[0], after[0]),
                    *changes(before[1], after[1]),
                    *(["canary"] if before[2] != after[2] else []),
                ],
                "out": out,
                "sleepers": _sleepers(),
                "leftovers": sorted(os.listdir(temp)),
            }
            shutil.rmtree(temp, ignore_errors=True)
        yield results
    finally:
        for pid in _sleepers():
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


def _rows(out: Path) -> dict[str, dict[str, str]]:
    """grades.csv by submission name (a name a spreadsheet would run is quoted: "'=")."""
    with (out / "grades.csv").open(newline="") as handle:
        return {row["name"].removeprefix("'"): row for row in csv.DictReader(handle)}


def _outside_fences(markdown: str) -> list[str]:
    """The lines of ``markdown`` that are not inside a fenced code block."""
    lines, fence = [], ""
    for line in markdown.splitlines():
        if fence:
            if line.strip() == fence:
                fence = ""
        elif line.startswith("```"):
            fence = line[: len(line) - len(line.lstrip("`"))]
        else:
            lines.append(line)
    return lines


def _report(out: Path, name: str) -> str:
    return (out / name / "report.md").read_text()


@pytest.mark.parametrize("leg", LEGS)
def test_the_batch_finishes_with_every_report_and_nothing_outside_changes(
    graded_batch: dict[str, dict[str, object]], leg: str
) -> None:
    run = graded_batch[leg]
    out = run["out"]
    assert isinstance(out, Path)
    assert run["code"] == 0, (run["stdout"], run["stderr"])
    assert run["unchanged"], ("files outside the scratch folders changed", run["changed"])
    assert run["sleepers"] == [], "a process outlived grading"
    assert "UNCONFINED" not in str(run["stdout"]) + str(run["stderr"])
    # The no-userns legs really ran without namespaces (and said so); the others with.
    assert (WITHOUT_NAMESPACES in str(run["stderr"])) == leg.endswith("no_userns")
    rows = _rows(out)
    names = {*ATTACKS, "honest_skeleton", "z_reference", "megabyte_message"}
    names |= {"tests_write_the_grader", "tests_hold_the_pipe", "tests_detect_the_folder"}
    names |= {"tests_honest_twin", "tests_forge_the_stream"}
    names |= {"floods_the_disk", "floods_threads"}
    names |= {"symlinked_package", "fifo_in_submission", "=HYPERLINK(1)injected"}
    names |= {"grades.csv_submission", "summary.md_submission", "index.html_submission"}
    assert set(rows) == names
    for name in names:
        for report in ("results.json", "report.md", "junit.xml", "report.html"):
            assert (out / name / report).is_file(), f"{name}/{report}"
    # Every report, every class file: no hidden content, no escape sequence.
    secrets = _secrets()
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            # The instructor's side-by-side pages of near-copies show the submissions' own
            # code, and these submissions are copies of the reference by construction.
            if "_similarity" not in path.parts:
                for secret in secrets:
                    assert secret not in text, (path, secret)
            assert "\x1b" not in text, path
    assert "\x1b" not in str(run["stdout"])


@pytest.mark.parametrize("leg", LEGS)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_attack_ran_and_was_held(
    graded_batch: dict[str, dict[str, object]], leg: str, attack: str
) -> None:
    out = graded_batch[leg]["out"]
    assert isinstance(out, Path)
    report = _report(out, attack)
    assert "ESCAPED" not in report, report
    rows = _rows(out)
    skeletons = ("forges_replies", "hijacks_the_worker")
    honest = "honest_skeleton" if attack in skeletons else "z_reference"
    assert float(rows[attack]["total"]) <= float(rows[honest]["total"])
    assert rows[attack]["total"] != "" and rows[attack]["note"] == "", report  # graded
    if attack not in ("over_deep_reply", *skeletons):
        assert "HELD" in report, report  # the attack ran to its end
        results = json.loads((out / attack / "results.json").read_text())
        lost = {
            t["name"].split(":")[0].split()[-1]
            for t in results["tests"]
            if t.get("max_score") and t["score"] < t["max_score"]
        }
        assert lost <= {"lab01.imports"}, lost  # importing os/ctypes/... costs that only


@pytest.mark.parametrize("leg", LEGS)
def test_students_tests_cannot_write_hold_or_detect(
    graded_batch: dict[str, dict[str, object]], leg: str
) -> None:
    out = graded_batch[leg]["out"]
    assert isinstance(out, Path)
    rows = _rows(out)
    assert rows["z_reference"]["total"] == "36"  # lab01 in full: the rubric held
    assert rows["tests_detect_the_folder"]["bonus"] == "0"
    results = json.loads((out / "tests_detect_the_folder" / "results.json").read_text())
    bonus = next(t for t in results["tests"] if "tests.catch_mistakes" in t["name"])
    assert bonus["score"] == 0
    assert float(graded_batch[leg]["seconds"]) < 300  # type: ignore[arg-type]


@pytest.mark.parametrize("leg", LEGS)
def test_students_tests_cannot_forge_their_stream_or_mark_the_first_run(
    graded_batch: dict[str, dict[str, object]], leg: str
) -> None:
    """Students' tests: a result stream forged on every descriptor, and a read-only marker
    left in the scratch, earn no more than the same check without them (a run holds only
    its own results pipe; the scratch is emptied whatever its modes)."""
    out = graded_batch[leg]["out"]
    assert isinstance(out, Path)
    rows = _rows(out)
    honest, forged = (
        float(rows["tests_honest_twin"]["bonus"]),
        float(rows["tests_forge_the_stream"]["bonus"]),
    )
    assert honest > 0 and forged <= honest


@pytest.mark.parametrize("leg", LEGS)
def test_a_disk_flood_stops_at_the_cap_and_nothing_is_left_behind(
    graded_batch: dict[str, dict[str, object]], leg: str
) -> None:
    """A disk flood is stopped at [limits] disk_mb by a watchdog, and grading leaves no
    folder of its own in /tmp (every one lives in the run's folder, removed at its end)."""
    out = graded_batch[leg]["out"]
    assert isinstance(out, Path)
    assert rows_total(out, "floods_the_disk") == "0"
    assert "wrote more than 64 MB" in _report(out, "floods_the_disk")
    assert graded_batch[leg]["leftovers"] == []  # nothing in the temp folder


@pytest.mark.parametrize("leg", LEGS)
def test_a_thread_flood_stops_at_the_limit_in_every_leg(
    graded_batch: dict[str, dict[str, object]], leg: str
) -> None:
    """RLIMIT_NPROC binds root too: student code runs as uid 65534 in every leg."""
    import re

    out = graded_batch[leg]["out"]
    assert isinstance(out, Path)
    started = [int(n) for n in re.findall(r"THREADS STARTED (\d+)", _report(out, "floods_threads"))]
    assert started and max(started) < 200, started


def rows_total(out: Path, name: str) -> str:
    return _rows(out)[name]["total"]


@pytest.mark.parametrize("leg", LEGS)
def test_symlinks_names_and_injection_are_defused(
    graded_batch: dict[str, dict[str, object]], leg: str
) -> None:
    import xml.etree.ElementTree as ET

    out = graded_batch[leg]["out"]
    assert isinstance(out, Path)
    rows = _rows(out)
    linked = json.loads((out / "symlinked_package" / "results.json").read_text())
    assert rows["symlinked_package"]["total"] == ""  # not graded: the note says why
    assert rows["symlinked_package"]["note"]
    assert "is a symlink" in linked["output"] or "symlink" in _report(out, "symlinked_package")
    assert rows["fifo_in_submission"]["total"] == ""
    assert rows["fifo_in_submission"]["note"]
    assert "output.log is a special file" in _report(out, "fifo_in_submission")
    for name in ("grades.csv", "summary.md", "index.html"):
        assert rows[f"{name}_submission"]["total"] == "36"
    assert (out / "summary.md").read_text().startswith("#") or (out / "summary.md").stat().st_size
    injected = "=HYPERLINK(1)injected"
    with (out / "grades.csv").open(newline="") as handle:
        cells = [row[0] for row in csv.reader(handle)]
    assert f"'{injected}" in cells
    for name in (injected, "megabyte_message"):
        ET.parse(out / name / "junit.xml")  # valid XML whatever the messages hold
        assert "# INJECTED HEADING" not in _outside_fences(_report(out, name))
        size = sum(p.stat().st_size for p in (out / name).iterdir())
        assert size < 600_000, (name, size)
