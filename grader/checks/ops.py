"""Lab 1: each op's value and gradient, the reflected forms and the conventions.

Every op is tested in isolation: the grader sets ``out.grad`` to a non-unit upstream
gradient and runs its own backward walk from ``out`` to the operands (each node's
``_backward`` once, in reverse topological order; a node's parents are whatever of its
attributes holds the Values it was built from). An op built as one node passes
through the walk in one step; an op composed of others (``a - b`` as ``a + (-b)``)
passes through its hidden middle nodes. Either way only what the op does to the
operands' values and gradients is judged, and lab 1 never needs lab 2's
``backward()``. Where the walk cannot see or drive the engine's graph (no node keeps
a ``_backward``: its ``backward()`` applies each op's rule itself), the op is judged
through the engine's own ``backward()`` instead. A failure's example is the shorter
program with ``backward()`` whenever that one shows the failure too. Expected numbers
come from PyTorch float64.
"""

from __future__ import annotations

import ast

from grader.checks.base import Context, Fail, NotRun, Run, check, mismatch, raised
from grader.classic import Facts, Observed, op_mistake, when_raised
from grader.expect import evaluate
from grader.i18n import _
from grader.optable import CORE, OPS, Op
from grader.program import Program, fmt

UPSTREAM = (1.7, -0.6)  # non-unit upstream gradients: forgetting out.grad shows


def one_op(op: str, args: tuple[float, ...], g: float, constants: tuple[int, ...] = ()) -> Program:
    """``out = op(args)`` with out.grad = g, then the grader's walk back to the operands.

    ``constants`` lists argument positions passed as plain numbers, not Values.
    """
    p = Program()
    operands: list[str | float] = [a if i in constants else p.const(a) for i, a in enumerate(args)]
    out = p.op(op, *operands)
    p.set_grad(out, g)
    p.walk_backward(out)
    p.read(*[o for o in operands if isinstance(o, str)], out)
    return p


def own_backward(walk: Program) -> Program:
    """The op of a ``one_op`` program, judged through the engine's own ``backward()``
    (which seeds the output's gradient with 1.0) instead of the grader's walk."""
    p = Program([list(s) for s in walk.steps if s[0] in ("const", "op")], list(walk.names))
    out = p.steps[-1][1]
    p.backward(out)
    p.read(*walk.reads)
    return p


def judge(ctx: Context, walk: Program, grads: bool = True) -> None:
    """One op program against PyTorch: through the grader's walk where it can see and
    drive the graph, else through the engine's own ``backward()`` (only the values when
    not ``grads``)."""
    what = ("data", "grad") if grads else ("data",)
    alt = own_backward(walk)
    out = next(s[1] for s in walk.steps if s[0] == "op")
    want = evaluate(walk)
    # backward() seeds the output's grad itself (lab 2's business): through it, the op
    # is judged on its output's value and on what reaches the operands
    want_alt = {name: pair for name, pair in evaluate(alt).items() if name != out}

    def differs(short: Run) -> Fail | None:
        return mismatch(short, {out: want[out]}, what=("data",)) or mismatch(
            short, want_alt, what=what
        )

    run = ctx.run(walk)
    if run.raised() == "WalkImpossible":
        failed = differs(ctx.run_ok(alt))
        if failed is not None:
            raise failed
        return
    if run.error is not None:
        short = ctx.run(alt)  # the shorter example, when backward() raises the same
        raise raised(short if short.raised() == run.raised() else run)
    failed = mismatch(run, want, what=what)
    if failed is None:
        return
    # The shorter example, when the engine's own backward() shows the failure too; the
    # diagnosis still reads what the walk observed (its upstream gradient is not 1).
    short = ctx.run(alt)
    shown = differs(short) if short.error is None else None
    if shown is not None:
        shown.observed = failed.observed
        raise shown
    raise failed


def check_cases(ctx: Context, programs: list[Program], grads: bool = True) -> None:
    for program in programs:
        judge(ctx, program, grads)


def _register(op: Op) -> None:
    """The check of one op of the table: its cases, each under two upstream gradients."""

    @check(op.check, diagnoses=op_mistake)
    def run(ctx: Context) -> None:
        check_cases(
            ctx, [one_op(op.name, case, g, op.constants) for case in op.cases for g in UPSTREAM]
        )


def _parents_name(obs: Observed, facts: Facts) -> str | None:
    return "parents-name" if obs.get("parents_attr") else None


@check("ops.construct", diagnoses=_parents_name)
def construct(ctx: Context) -> None:
    """Given code (0 points): a leaf Value. No other check waits on this one."""
    p = Program()
    a = p.const(2.0)
    p.read(a)
    p.steps.append(["read_node", a])
    run = ctx.run_ok(p)
    data, grad = run.pair(a)
    node = run.reads[a + "#node"]
    if data != 2.0 or grad != 0.0:
        raise Fail(
            _("a new Value must hold its data and a zero gradient"),
            expected="a.data = 2.0, a.grad = 0.0",
            got=f"a.data = {fmt(data)}, a.grad = {fmt(grad)}",
            counterexample=run.python(),
        )
    attr = node.get("parents_attr")
    if attr != "_prev":
        raise Fail(
            (
                _("the lab names a Value's parents {prev}; your Value keeps them in {attr}")
                if attr
                else _("the lab names a Value's parents {prev}; your Value has no {prev}")
            ).format(prev="`_prev`", attr=f"`{attr}`"),
            expected=_("a._prev (an empty tuple or set for a leaf)"),
            got=f"a.{attr}" if attr else _("no _prev attribute"),
            counterexample=run.python(),
            observed={"parents_attr": attr},
        )
    if node.get("prev") != [] or node.get("op") not in ("", "None"):
        raise Fail(
            _("a leaf Value has no parents and an empty _op"),
            expected=_("a._prev empty, a._op == ''"),
            got=_("{n} parent(s), _op == {op}").format(
                n=len(node.get("prev") or []), op=repr(node.get("op"))
            ),
            counterexample=run.python(),
        )


for _op in OPS.values():
    _register(_op)


@check("ops.reflected", diagnoses=op_mistake)
def reflected(ctx: Context) -> None:
    programs = [
        one_op(op, (3.0, x), g, constants=(0,))
        for op in ("add", "sub", "mul", "truediv")
        for x in (2.0, -0.5)
        for g in UPSTREAM
    ]
    check_cases(ctx, programs)


def expect_raise(ctx: Context, program: Program, exc: str, rule: str, op: str) -> None:
    """``program`` must raise ``exc``; a failure records whether ``op`` otherwise works
    (its check passed): only then does "it does not raise" point to a guard or clamp."""
    run = ctx.run(program)
    raised = run.raised()
    if raised != exc:
        raise Fail(
            rule,
            expected=_("{exc} is raised").format(exc=exc),
            got=_("{raised} was raised: {message}").format(
                raised=raised, message=run.error and run.error.get("message")
            )
            if raised
            else _("no exception"),
            counterexample=run.python(),
            observed={"raised": raised, "op_works": ctx.statuses.get(op, "passed") == "passed"},
        )


def _relu_zero(obs: Observed, facts: Facts) -> str | None:
    """A gradient passed at exactly 0 (the case just above 0 is another story)."""
    consts = {s[1]: s[2] for s in obs.get("steps") or [] if s[0] == "const"}
    got = obs.get("got") or {}
    passed = [n for n, x in consts.items() if x == 0.0 and n in got and got[n][1] != 0.0]
    return "relu-grad-at-zero" if passed else None


@check("conv.relu_at_zero", diagnoses=_relu_zero, depends=["ops.relu"])
def relu_at_zero(ctx: Context) -> None:
    # Just above 0 the value passes (and the gradient, when ops.relu gets gradients
    # right): a relu that is 0 everywhere keeps no convention.
    check_cases(ctx, [one_op("relu", (0.0,), 1.7)])
    grads = ctx.statuses.get("ops.relu", "passed") == "passed"
    check_cases(ctx, [one_op("relu", (1e-3,), 1.7)], grads=grads)


@check(
    "conv.pow_value_exponent",
    diagnoses=when_raised(None, "value-exponent"),
    about_exceptions=True,
    depends=["ops.pow"],
)
def pow_value_exponent(ctx: Context) -> None:
    p = Program()
    a, n = p.const(2.0), p.const(3.0)
    p.op("pow", a, n)
    expect_raise(ctx, p, "TypeError", _("a Value exponent must be refused"), "ops.pow")


@check(
    "conv.log_nonpositive",
    diagnoses=when_raised(None, "log-clamp"),
    about_exceptions=True,
    depends=["ops.log"],
)
def log_nonpositive(ctx: Context) -> None:
    for x in (0.0, -1.0):
        p = Program()
        p.op("log", p.const(x))
        rule = _("{call} must raise, not clamp").format(call=f"log({fmt(x)})")
        expect_raise(ctx, p, "ValueError", rule, "ops.log")


@check(
    "conv.div_by_zero",
    diagnoses=when_raised(None, "div-zero-guard"),
    about_exceptions=True,
    depends=["ops.div"],
)
def div_by_zero(ctx: Context) -> None:
    p = Program()
    p.op("truediv", p.const(1.0), p.const(0.0))
    rule = _("division by a zero Value must raise")
    expect_raise(ctx, p, "ZeroDivisionError", rule, "ops.div")


@check(
    "conv.zero_pow_zero",
    diagnoses=when_raised("ZeroDivisionError", "pow-zero-exponent"),
    about_exceptions=True,
    depends=["ops.pow"],
)
def zero_pow_zero(ctx: Context) -> None:
    check_cases(ctx, [one_op("pow", (0.0, 0), 1.7, constants=(1,))])


@check(
    "conv.tanh_large",
    diagnoses=when_raised("OverflowError", "tanh-overflow"),
    about_exceptions=True,
    depends=["ops.tanh"],
)
def tanh_large(ctx: Context) -> None:
    # Judged on what it is about (no overflow, tanh(+-400) = +-1): a derivative that is
    # wrong everywhere costs ops.tanh, not this check too.
    grads = ctx.statuses.get("ops.tanh", "passed") == "passed"
    check_cases(ctx, [one_op("tanh", (x,), 1.7) for x in (400.0, -400.0)], grads=grads)


def _identity(obs: Observed, facts: Facts) -> str | None:
    if facts.identity is False:
        return "eq-hash-override"
    return "op-not-recorded" if facts.recorded is False else None


@check("conv.identity", diagnoses=_identity, depends=["ops.mul"])
def identity(ctx: Context) -> None:
    # Two distinct leaves with equal data feed one product: if equality or hashing
    # were by value, a set of parents would merge them. The parents are compared as a
    # collection (a tuple, list or set: any order), under whatever name the engine keeps.
    p = Program()
    a, b = p.const(2.0), p.const(2.0)
    c = p.op("mul", a, b)
    p.steps.append(["read_node", a])
    p.steps.append(["read_node", b])
    p.steps.append(["read_node", c])
    run = ctx.run_ok(p)
    na, nb, nc = (run.reads[n + "#node"] for n in (a, b, c))
    if na.get("id") == nb.get("id") or nc.get("prev") != sorted([na.get("id"), nb.get("id")]):
        raise Fail(
            _("two Values with equal data must stay two separate nodes"),
            expected=_("c's parents are a and b, two different objects"),
            got=_("c's parents hold {n} object(s)").format(n=len(nc.get("prev") or [])),
            counterexample=run.python(),
        )
    eq = ctx.run(_eq_probe())
    if eq.error is not None or eq.reads.get("eq") is not False or eq.reads.get("set_size") != 2:
        raise Fail(
            _("Value must keep identity equality and hashing (do not define __eq__ or __hash__)"),
            expected=_("{eq} is False and {set} has 2 members").format(
                eq="Value(2.0) == Value(2.0)", set="{Value(2.0), Value(2.0)}"
            ),
            got=_("== gives {eq}, the set has {size} members").format(
                eq=repr(eq.reads.get("eq")), size=repr(eq.reads.get("set_size"))
            )
            if eq.error is None
            else f"{eq.describe_error()}",
            observed={"eq": eq.reads.get("eq")},
        )


def _eq_probe() -> Program:
    return Program(
        [["const", "a", 2.0], ["const", "b", 2.0], ["identity", "eq", "set_size", "a", "b"]]
    )


STDLIB_OK = {"math", "random", "__future__", "typing", "collections", "dataclasses"}
DYNAMIC_IMPORTS = {"__import__", "import_module"}


LAB01_FUNCTIONAL = [*(op.check for op in CORE), "ops.reflected"]


@check("lab01.imports", diagnoses="forbidden-import")
def imports(ctx: Context) -> None:
    """scalar.py imports math/random only (statically), nothing tries numpy/torch at run time.

    A forbidden import always fails; otherwise the point counts once an op works.
    """
    path = ctx.package_dir / "scalar.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError) as exc:  # the crash itself costs the points
        raise NotRun(_("not run: scalar.py could not be read ({error})").format(error=exc)) from exc
    found: set[str] = set()
    dynamic: set[str] = set()  # imports by call: the static list cannot name what they load
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in DYNAMIC_IMPORTS:
                dynamic.add(name)
    extra = sorted(found - STDLIB_OK - {"minigrad"})
    # What the run reports (the blocker in the student's process) is that process's word;
    # the static scan of the grader's own copy of the source is not.
    blocked = sorted(ctx.cache.get("blocked_imports", set()))
    extra += [f"{name}()" for name in sorted(dynamic)]
    if not (extra or blocked) and not any(
        ctx.statuses.get(cid) == "passed" for cid in LAB01_FUNCTIONAL
    ):
        raise NotRun(_("not run yet: it counts once at least one op of lab 1 works"))
    if extra or blocked:
        raise Fail(
            _("the engine may import math and random only"),
            expected=_("imports: math, random (typing helpers allowed)"),
            got=", ".join(
                [
                    (
                        _("scalar.py calls {name}")
                        if m.endswith(")")
                        else _("scalar.py imports {name}")
                    ).format(name=m)
                    for m in extra
                ]
                + [
                    _("at run time your code tried to import {name}").format(name=m)
                    for m in blocked
                ]
            ),
        )
