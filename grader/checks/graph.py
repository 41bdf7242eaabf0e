"""Lab 2: backward() over whole graphs: worked examples, accumulation, depth.

The examples are the worked examples of lab02-backward.md, compared with PyTorch
float64. The random graphs shown after the due date live in grader/checks/hidden/.

A graph check judges ``backward()``, not the ops: its graph is built from the ops the
engine gets right (their own checks passed). An op that fails its own check is written
with others that pass (``a - b`` as ``a + (-b)``); when no other way is left, the check
waits for that op's check, so a wrong or missing op costs its own checks only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from grader.checks.base import Context, Fail, NotRun, check, compare
from grader.classic import Facts, Observed, graph_mistake
from grader.i18n import _
from grader.optable import CORE, OPS
from grader.program import Operand, Program

BACKWARD = ["graph.backward_runs"]
SEEDED = ["graph.seed"]
# Every graph check reads the op checks' verdicts (they run first; they block nothing).
OP_CHECKS = (*(op.check for op in CORE), "ops.reflected")


def working(ctx: Context) -> set[str]:
    """The ops whose own check passed in this run (an op not checked here counts)."""
    return {op.name for op in OPS.values() if ctx.statuses.get(op.check, "passed") == "passed"}


def waits_for(op: str) -> NotRun:
    """Not run: the check's graph needs ``op``, which fails its own check."""
    return NotRun(
        _(
            "not run: this graph needs {op}, which fails its own check ({check}); it runs "
            "once that one passes"
        ).format(op=OPS[op].label, check=OPS[op].check),
        blocked_by=OPS[op].check,
    )


class Graph:
    """A check's program, its ops written with the ops the engine gets right."""

    def __init__(self, ctx: Context) -> None:
        self.p = Program()
        self.ok = working(ctx)

    def op(self, op: str, *args: Operand) -> str:
        """``op(*args)``; another way to write it when the op fails its own check, or
        ``NotRun`` naming that check when there is none."""
        if op in self.ok:
            return self.p.op(op, *args)
        if op in ("add", "sub"):
            other = "sub" if op == "add" else "add"
            negated = self._negated(args[1]) if other in self.ok else None
            if negated is not None:
                return self.p.op(other, args[0], negated)
        elif op == "neg" and "mul" in self.ok:
            return self.p.op("mul", args[0], -1.0)
        raise waits_for(op)

    def _negated(self, b: Operand) -> Operand | None:
        if not isinstance(b, str):
            return -b
        if "neg" in self.ok:
            return self.p.op("neg", b)
        if "mul" in self.ok:
            return self.p.op("mul", b, -1.0)
        return None


@check("graph.backward_runs", depends=SEEDED, diagnoses=graph_mistake, uses=OP_CHECKS)
def backward_runs(ctx: Context) -> None:
    g = Graph(ctx)
    p = g.p
    a, b = p.const(2.0), p.const(-3.0)
    c = g.op("add", a, b)
    p.backward(c)
    p.read(a, b)
    compare(
        ctx.run_ok(p),
        {a: (2.0, 1.0), b: (-3.0, 1.0)},
        summary=_("the numbers differ from what backward() should give"),
    )


@check("graph.seed", diagnoses=graph_mistake, uses=OP_CHECKS)
def seed(ctx: Context) -> None:
    g = Graph(ctx)
    p = g.p
    a = p.const(3.0)
    b = p.const(-2.0)
    c = g.op("add", a, b)
    p.backward(c)
    p.read(c)
    compare(
        ctx.run_ok(p),
        {c: (1.0, 1.0)},
        summary=_("the numbers differ from a seeded output (c.grad = 1.0)"),
    )


def worked(ctx: Context, p: Program, want: dict[str, tuple[float, float]]) -> None:
    compare(ctx.run_ok(p), want, summary=_("the numbers differ from the worked example in the lab"))


@check("graph.worked_example", depends=BACKWARD, uses=OP_CHECKS, diagnoses=graph_mistake)
def worked_example(ctx: Context) -> None:
    g = Graph(ctx)
    p = g.p
    a, b, c, f = p.const(2.0), p.const(-3.0), p.const(10.0), p.const(-2.0)
    e = g.op("mul", a, b)
    d = g.op("add", e, c)
    loss = g.op("mul", d, f)
    p.backward(loss)
    p.read(loss, a, b, c, f, d, e)
    worked(
        ctx,
        p,
        {
            loss: (-8.0, 1.0),
            a: (2.0, 6.0),
            b: (-3.0, -4.0),
            c: (10.0, -2.0),
            f: (-2.0, 4.0),
            d: (4.0, -2.0),
            e: (-6.0, -2.0),
        },
    )


@check("graph.xyz", depends=BACKWARD, uses=OP_CHECKS, diagnoses=graph_mistake)
def xyz(ctx: Context) -> None:
    g = Graph(ctx)
    p = g.p
    x, y, z = p.const(2.0), p.const(-3.0), p.const(10.0)
    f = g.op("add", g.op("mul", x, y), z)
    p.backward(f)
    p.read(f, x, y, z)
    worked(ctx, p, {f: (4.0, 1.0), x: (2.0, -3.0), y: (-3.0, 2.0), z: (10.0, 1.0)})


@check("graph.diamond", depends=BACKWARD, uses=OP_CHECKS, diagnoses=graph_mistake)
def diamond(ctx: Context) -> None:
    g = Graph(ctx)
    p = g.p
    a, b, c = p.const(2.0), p.const(3.0), p.const(4.0)
    loss = g.op("mul", g.op("add", g.op("mul", a, b), c), g.op("sub", a, c))
    p.backward(loss)
    p.read(loss, a, b, c)
    worked(ctx, p, {loss: (-20.0, 1.0), a: (2.0, 4.0), b: (3.0, -4.0), c: (4.0, -12.0)})


@check("graph.shared_input", depends=BACKWARD, uses=OP_CHECKS, diagnoses=graph_mistake)
def shared_input(ctx: Context) -> None:
    g = Graph(ctx)
    p = g.p
    a, b, c, d = p.const(2.0), p.const(3.0), p.const(4.0), p.const(5.0)
    loss = g.op("mul", g.op("add", g.op("mul", a, b), c), g.op("add", a, d))
    p.backward(loss)
    p.read(loss, a, b, c, d)
    worked(
        ctx, p, {loss: (70.0, 1.0), a: (2.0, 31.0), b: (3.0, 14.0), c: (4.0, 7.0), d: (5.0, 10.0)}
    )


@check("graph.repeated_variable", depends=BACKWARD, uses=OP_CHECKS, diagnoses=graph_mistake)
def repeated_variable(ctx: Context) -> None:
    cases: list[tuple[Callable[[Graph, str], str], float]] = [
        (lambda g, a: g.op("mul", a, a), 6.0),
        (lambda g, a: g.op("add", a, a), 2.0),
        (lambda g, a: g.op("add", g.op("mul", a, a), a), 7.0),
    ]
    for build, grad in cases:
        g = Graph(ctx)
        p = g.p
        a = p.const(3.0)
        p.backward(build(g, a))
        p.read(a)
        worked(ctx, p, {a: (3.0, grad)})


@check("graph.closure_trap", depends=BACKWARD, uses=OP_CHECKS, diagnoses=graph_mistake)
def closure_trap(ctx: Context) -> None:
    g = Graph(ctx)
    p = g.p
    terms = [p.const(float(i)) for i in range(5)]
    total = terms[0]
    for term in terms[1:]:
        total = g.op("add", total, term)
    p.backward(total)
    p.read(*terms)
    worked(ctx, p, {t: (float(i), 1.0) for i, t in enumerate(terms)})


@check("graph.equal_values", depends=BACKWARD, uses=OP_CHECKS, diagnoses=graph_mistake)
def equal_values(ctx: Context) -> None:
    # x and y are different nodes that both hold 6.0; a walk that merges equal
    # values skips one of them and its leaves get no gradient.
    g = Graph(ctx)
    p = g.p
    a, b, c, d = p.const(2.0), p.const(3.0), p.const(3.0), p.const(2.0)
    x, y = g.op("mul", a, b), g.op("mul", c, d)
    loss = g.op("add", x, y)
    p.backward(loss)
    p.read(a, b, c, d)
    worked(ctx, p, {a: (2.0, 3.0), b: (3.0, 2.0), c: (3.0, 2.0), d: (2.0, 3.0)})


def _accumulate(obs: Observed, facts: Facts) -> str | None:
    return graph_mistake(obs, facts) or ("backward-resets" if facts.resets else None)


@check("graph.accumulate", depends=BACKWARD, uses=OP_CHECKS, diagnoses=_accumulate)
def accumulate(ctx: Context) -> None:
    g = Graph(ctx)
    p = g.p
    a, b = p.const(2.0), p.const(-3.0)
    c = g.op("mul", a, b)
    p.backward(c)
    p.backward(c)
    p.read(a, b)
    compare(
        ctx.run_ok(p),
        {a: (2.0, -6.0), b: (-3.0, 4.0)},
        summary=_("the numbers differ from two backward() calls (grads add up)"),
    )


CHAIN = 10_000


def _deep_chain(obs: Observed, facts: Facts) -> str | None:
    if obs.get("raised") == "RecursionError":
        return "recursive-topo"
    return graph_mistake(obs, facts)


@functools.cache
def _chain(op: str) -> tuple[Program, str]:
    """The chain's program (each step adds 1 with ``op``: "add", or "sub" of -1), built
    once per grader process (never edited after)."""
    p = Program()
    a = p.const(0.5)
    node = a
    for _step in range(CHAIN):
        node = p.op(op, node, 1.0 if op == "add" else -1.0)
    p.backward(node)
    p.read(a)
    return p, a


@check(
    "graph.deep_chain",
    depends=BACKWARD,
    uses=OP_CHECKS,
    diagnoses=_deep_chain,
    about_exceptions=True,
)
def deep_chain(ctx: Context) -> None:
    ok = working(ctx)
    if "add" not in ok and "sub" not in ok:
        raise waits_for("add")
    p, a = _chain("add" if "add" in ok else "sub")
    run = ctx.run(p, timeout=30.0)
    if run.error is not None:
        raise Fail(
            _("backward() on a {n}-node chain raised {error}").format(
                n=f"{CHAIN:,}", error=run.error.get("type")
            ),
            expected=_("a.grad = 1.0 with Python's default recursion limit"),
            got=run.describe_error(),
            observed={"raised": run.raised()},
        )
    compare(
        run,
        {a: (0.5, 1.0)},
        what=("grad",),
        summary=_("the numbers differ from a {n}-node chain").format(n=f"{CHAIN:,}"),
    )
