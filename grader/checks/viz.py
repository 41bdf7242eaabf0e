"""Lab 5: the graph a forward pass records, and the DOT drawing of it."""

from __future__ import annotations

import re
from typing import Any

from grader.checks.base import Context, Fail, check
from grader.checks.graph import OP_CHECKS, waits_for, working
from grader.classic import graph_mistake
from grader.expect import evaluate
from grader.i18n import _
from grader.program import Program

NEURON = ["graph.backward_runs"]


def neuron(ctx: Context) -> Program:
    """The one-neuron example of the course: o = tanh(x1*w1 + x2*w2 + b). Its ops must
    pass their own checks (the drawing is of exactly these five ops): else not run."""
    ok = working(ctx)
    missing = [op for op in ("mul", "add", "tanh") if op not in ok]
    if missing:
        raise waits_for(missing[0])
    p = Program()
    x1, x2, w1, w2 = p.const(2.0), p.const(0.0), p.const(-3.0), p.const(1.0)
    b = p.const(6.8813735870195432)
    n = p.op("add", p.op("add", p.op("mul", x1, w1), p.op("mul", x2, w2)), b)
    o = p.op("tanh", n)
    p.backward(o)
    p.read(o, x1, x2, w1, w2, b)
    return p


@check("viz.graph_recorded", depends=NEURON, uses=OP_CHECKS, diagnoses=graph_mistake)
def graph_recorded(ctx: Context) -> None:
    p = neuron(ctx)
    root = p.reads[0]
    p.steps.append(["read_graph", root])
    run = ctx.run_ok(p)
    nodes: list[dict[str, Any]] = run.reads[root + "#graph"]
    arity = {"mul": 2, "add": 2, "tanh": 1}
    want = sorted([0] * 5 + [arity[s[2]] for s in p.steps if s[0] == "op"])
    got = sorted(len(n["prev"]) for n in nodes)
    unlabeled = [n for n in nodes if n["prev"] and not n["op"]]
    if got != want or unlabeled:
        raise Fail(
            _("the recorded graph of the neuron is not 5 leaves and 5 ops with their parents"),
            expected=_("{n} nodes; parents per node {parents}; every op node has an _op").format(
                n=len(want), parents=want
            ),
            got=(
                _("{n} nodes; parents per node {parents}; {k} op node(s) with an empty _op")
                if unlabeled
                else _("{n} nodes; parents per node {parents}")
            ).format(n=len(nodes), parents=got, k=len(unlabeled)),
            counterexample=p.python(),
        )
    expected = evaluate(p)
    for name, (data, grad) in expected.items():
        got_data, got_grad = run.pair(name)
        if abs(got_data - data) > 1e-9 or abs(got_grad - grad) > 1e-9:
            raise Fail(
                _("the neuron example's values or gradients are wrong"),
                expected=f"{name}.data = {data:.6g}, {name}.grad = {grad:.6g}",
                got=f"{name}.data = {got_data:.6g}, {name}.grad = {got_grad:.6g}",
                counterexample=p.python(),
            )


NODE = re.compile(r"^\s*(\w+)\s*\[", re.MULTILINE)
EDGE = re.compile(r"^\s*\w+\s*->\s*\w+", re.MULTILINE)


@check("viz.to_dot", depends=["viz.graph_recorded"], diagnoses="dot-incomplete")
def to_dot(ctx: Context) -> None:
    p = neuron(ctx)
    p.steps.append(["to_dot", "dot", p.reads[0]])
    run = ctx.run_ok(p)
    text = run.reads["dot"]
    if not isinstance(text, str):
        raise Fail(_("to_dot must return DOT text (a str)"))
    nodes, edges = len(set(NODE.findall(text))), len(EDGE.findall(text))
    if nodes != 15 or edges != 14 or "0.7071" not in text:
        raise Fail(
            _("to_dot of the neuron must show 10 Values and 5 ops, wired by 14 edges, with data"),
            expected=_("15 nodes, 14 edges, the output's data 0.7071 shown"),
            got=(
                _("{nodes} nodes, {edges} edges")
                if "0.7071" in text
                else _("{nodes} nodes, {edges} edges, 0.7071 not shown")
            ).format(nodes=nodes, edges=edges),
        )
