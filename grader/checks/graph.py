"""Lab 2: backward() over whole graphs: worked examples, accumulation, depth.

The examples are the worked examples of lab02-backward.md, compared with PyTorch
float64. The random graphs shown after the due date live in grader/checks/hidden/.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from grader.checks.base import Context, Fail, check, compare
from grader.diagnose import Facts, Observed, graph_mistake
from grader.program import Program

BACKWARD = ["graph.backward_runs"]
SEEDED = ["graph.seed"]


@check("graph.backward_runs", depends=SEEDED, diagnoses=graph_mistake)
def backward_runs(ctx: Context) -> None:
    p = Program()
    a, b = p.const(2.0), p.const(-3.0)
    c = p.op("add", a, b)
    p.backward(c)
    p.read(a, b)
    compare(ctx.run_ok(p), {a: (2.0, 1.0), b: (-3.0, 1.0)}, source="what backward() should give")


@check("graph.seed", depends=["ops.add"], diagnoses=graph_mistake)
def seed(ctx: Context) -> None:
    p = Program()
    a = p.const(3.0)
    b = p.const(-2.0)
    c = p.op("add", a, b)
    p.backward(c)
    p.read(c)
    compare(ctx.run_ok(p), {c: (1.0, 1.0)}, source="a seeded output (c.grad = 1.0)")


def worked(ctx: Context, p: Program, want: dict[str, tuple[float, float]]) -> None:
    compare(ctx.run_ok(p), want, source="the worked example in the lab")


@check("graph.worked_example", depends=[*BACKWARD, "ops.mul"], diagnoses=graph_mistake)
def worked_example(ctx: Context) -> None:
    p = Program()
    a, b, c, f = p.const(2.0), p.const(-3.0), p.const(10.0), p.const(-2.0)
    e = p.op("mul", a, b)
    d = p.op("add", e, c)
    loss = p.op("mul", d, f)
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


@check("graph.xyz", depends=[*BACKWARD, "ops.mul"], diagnoses=graph_mistake)
def xyz(ctx: Context) -> None:
    p = Program()
    x, y, z = p.const(2.0), p.const(-3.0), p.const(10.0)
    f = p.op("add", p.op("mul", x, y), z)
    p.backward(f)
    p.read(f, x, y, z)
    worked(ctx, p, {f: (4.0, 1.0), x: (2.0, -3.0), y: (-3.0, 2.0), z: (10.0, 1.0)})


@check("graph.diamond", depends=[*BACKWARD, "ops.mul", "ops.sub"], diagnoses=graph_mistake)
def diamond(ctx: Context) -> None:
    p = Program()
    a, b, c = p.const(2.0), p.const(3.0), p.const(4.0)
    loss = p.op("mul", p.op("add", p.op("mul", a, b), c), p.op("sub", a, c))
    p.backward(loss)
    p.read(loss, a, b, c)
    worked(ctx, p, {loss: (-20.0, 1.0), a: (2.0, 4.0), b: (3.0, -4.0), c: (4.0, -12.0)})


@check("graph.shared_input", depends=[*BACKWARD, "ops.mul"], diagnoses=graph_mistake)
def shared_input(ctx: Context) -> None:
    p = Program()
    a, b, c, d = p.const(2.0), p.const(3.0), p.const(4.0), p.const(5.0)
    loss = p.op("mul", p.op("add", p.op("mul", a, b), c), p.op("add", a, d))
    p.backward(loss)
    p.read(loss, a, b, c, d)
    worked(
        ctx, p, {loss: (70.0, 1.0), a: (2.0, 31.0), b: (3.0, 14.0), c: (4.0, 7.0), d: (5.0, 10.0)}
    )


@check("graph.repeated_variable", depends=[*BACKWARD, "ops.mul"], diagnoses=graph_mistake)
def repeated_variable(ctx: Context) -> None:
    cases: list[tuple[Callable[[Program, str], str], float]] = [
        (lambda p, a: p.op("mul", a, a), 6.0),
        (lambda p, a: p.op("add", a, a), 2.0),
        (lambda p, a: p.op("add", p.op("mul", a, a), a), 7.0),
    ]
    for build, grad in cases:
        p = Program()
        a = p.const(3.0)
        p.backward(build(p, a))
        p.read(a)
        worked(ctx, p, {a: (3.0, grad)})


@check("graph.closure_trap", depends=BACKWARD, diagnoses=graph_mistake)
def closure_trap(ctx: Context) -> None:
    p = Program()
    terms = [p.const(float(i)) for i in range(5)]
    total = terms[0]
    for term in terms[1:]:
        total = p.op("add", total, term)
    p.backward(total)
    p.read(*terms)
    worked(ctx, p, {t: (float(i), 1.0) for i, t in enumerate(terms)})


@check("graph.equal_values", depends=[*BACKWARD, "ops.mul"], diagnoses=graph_mistake)
def equal_values(ctx: Context) -> None:
    # x and y are different nodes that both hold 6.0; a walk that merges equal
    # values skips one of them and its leaves get no gradient.
    p = Program()
    a, b, c, d = p.const(2.0), p.const(3.0), p.const(3.0), p.const(2.0)
    x, y = p.op("mul", a, b), p.op("mul", c, d)
    loss = p.op("add", x, y)
    p.backward(loss)
    p.read(a, b, c, d)
    worked(ctx, p, {a: (2.0, 3.0), b: (3.0, 2.0), c: (3.0, 2.0), d: (2.0, 3.0)})


def _accumulate(obs: Observed, facts: Facts) -> str | None:
    return graph_mistake(obs, facts) or ("backward-resets" if facts.resets else None)


@check("graph.accumulate", depends=[*BACKWARD, "ops.mul"], diagnoses=_accumulate)
def accumulate(ctx: Context) -> None:
    p = Program()
    a, b = p.const(2.0), p.const(-3.0)
    c = p.op("mul", a, b)
    p.backward(c)
    p.backward(c)
    p.read(a, b)
    compare(
        ctx.run_ok(p),
        {a: (2.0, -6.0), b: (-3.0, 4.0)},
        source="two backward() calls (grads add up)",
    )


CHAIN = 10_000


def _deep_chain(obs: Observed, facts: Facts) -> str | None:
    if obs.get("raised") == "RecursionError":
        return "recursive-topo"
    return graph_mistake(obs, facts)


@functools.cache
def _chain() -> tuple[Program, str]:
    """The chain's program, built once per grader process (never edited after)."""
    p = Program()
    a = p.const(0.5)
    node = a
    for _ in range(CHAIN):
        node = p.op("add", node, 1.0)
    p.backward(node)
    p.read(a)
    return p, a


@check("graph.deep_chain", depends=BACKWARD, diagnoses=_deep_chain, about_exceptions=True)
def deep_chain(ctx: Context) -> None:
    p, a = _chain()
    run = ctx.run(p, timeout=30.0)
    if run.error is not None:
        raise Fail(
            f"backward() on a {CHAIN:,}-node chain raised {run.error.get('type')}",
            expected="a.grad = 1.0 with Python's default recursion limit",
            got=run.describe_error(),
            observed={"raised": run.raised()},
        )
    compare(run, {a: (0.5, 1.0)}, what=("grad",), source=f"a {CHAIN:,}-node chain")
