"""Diagnose: name the classic mistake most likely behind a submission's failures.

Only behaviour observed through the sandbox counts: the numbers each failed check
recorded (``Outcome.observed``) and a few small probe programs run on the student's
engine after the checks (``probe``). The rules that turn those into a mistake live
with the mistakes themselves (grader/classic.py); the check's own rule is found in the
registry. The student's source is never read or diffed for this. When no pattern fits,
a check gets no diagnosis: the report then shows only what failed and the smallest
counterexample.
"""

from __future__ import annotations

from typing import Any

from grader.checks import REGISTRY
from grader.checks.base import Context, graph_nodes
from grader.classic import PRE, Facts, G, Observed, crash_mistake, explain, local
from grader.program import Program, close
from grader.results import FAILED, Outcome
from grader.sandbox import StudentFault


def _probe(ctx: Context, p: Program) -> dict[str, tuple[float, float]] | None:
    try:
        run = ctx.run(p)
    except StudentFault:
        return None
    if run.error is not None:
        return None
    try:
        return {name: run.pair(name) for name in p.reads}
    except StudentFault:
        return None


def probe(ctx: Context, failed: list[Outcome]) -> Facts:
    """What the failed checks already show, and what small probe programs add."""
    facts = Facts(
        blocked_import=bool(ctx.cache.get("blocked_imports")),
        parents=str(ctx.cache.get("parents", "_prev")),
        returns_none=any(o.observed.get("raised") == "OpReturnedNone" for o in failed),
        zero_grad_noop=any(o.id == "nn.zero_grad" and not o.blocks for o in failed),
        activation=next((o.observed["matches"] for o in failed if o.observed.get("matches")), None),
    )
    # A reflected op that calls itself back: 3 + a recursing without end.
    for op in ("add", "mul", "sub", "truediv"):
        p = Program()
        p.op(op, 3.0, p.const(2.0))
        try:
            run = ctx.run(p)
        except StudentFault:
            continue
        if run.raised() == "RecursionError":
            facts.reflected_recursion = True
    # The closure stored on the operand: the product's own step passes nothing back,
    # the left operand's step does.
    p = Program()
    a, b = p.const(3.0), p.const(2.0)
    c = p.op("mul", a, b)
    p.set_grad(c, G)
    p.local_backward(c)
    p.read(a)
    before = _probe(ctx, p)
    p.local_backward(a)
    p.read(b)
    after = _probe(ctx, p)
    if before is not None and after is not None:
        facts.closure_on_self = before[a][1] == 0.0 and close(after[b][1], 3.0 * G)
    # = instead of +=: a gradient already on a leaf must survive one more local step.
    assign = False
    for op, args in (
        ("add", (3.0, 2.0)),
        ("sub", (3.0, 2.0)),
        ("mul", (3.0, 2.0)),
        ("truediv", (3.0, 2.0)),
        ("tanh", (0.5,)),
        ("exp", (0.5,)),
    ):
        p = Program()
        leaves = [p.const(x) for x in args]
        for leaf in leaves:
            p.set_grad(leaf, PRE)
        out = p.op(op, *leaves)
        p.set_grad(out, G)
        p.walk_backward(out)
        p.read(*leaves)
        reads = _probe(ctx, p)
        if reads is None:
            continue
        for leaf, d in zip(leaves, local(op, list(args)), strict=False):
            if close(reads[leaf][1], d * G) and not close(d * G, PRE + d * G):
                assign = True
    facts.assign = assign
    facts.fit_step = _fit_step(ctx)
    # Seed and order: L = a*b + c.
    p = Program()
    a, b, c = p.const(2.0), p.const(-3.0), p.const(4.0)
    e = p.op("mul", a, b)
    loss = p.op("add", e, c)
    p.backward(loss)
    p.read(a, e, c, loss)
    reads = _probe(ctx, p)
    if reads is not None:
        facts.seeded = reads[loss][1] != 0.0
        grads = (reads[a][1], reads[e][1], reads[c][1])
        if grads == (-3.0, 1.0, 1.0):
            facts.order = "reverse"
        elif grads == (0.0, 1.0, 1.0):
            facts.order = "forward"
        elif facts.seeded and grads == (0.0, 0.0, 0.0):
            facts.order = "late"
        else:
            facts.order = "other"
    # Two backward passes on a depth-1 graph must add up.
    p = Program()
    a, b = p.const(2.0), p.const(-3.0)
    out = p.op("mul", a, b)
    p.backward(out)
    p.backward(out)
    p.read(a)
    reads = _probe(ctx, p)
    if reads is not None:
        facts.resets = reads[a][1] == -3.0
    # Every op records its parents.
    recorded = True
    for op, n in (("add", 2), ("sub", 2), ("mul", 2), ("truediv", 2), ("tanh", 1), ("exp", 1)):
        p = Program()
        leaves = [p.const(1.5) for _ in range(n)]
        out = p.op(op, *leaves)
        p.steps.append(["read_node", out])
        try:
            run = ctx.run(p)
        except StudentFault:
            continue
        node = run.reads.get(out + "#node")
        if run.error is None and isinstance(node, dict) and len(node.get("prev") or []) != n:
            recorded = False
    facts.recorded = recorded
    # Identity equality and hashing.
    try:
        run = ctx.run(
            Program(
                [["const", "a", 2.0], ["const", "b", 2.0], ["identity", "eq", "size", "a", "b"]]
            )
        )
        facts.identity = (
            run.error is None and run.reads.get("eq") is False and run.reads.get("size") == 2
        )
    except StudentFault:
        pass
    return facts


FIT_LR = 0.05


def _fit_step(ctx: Context) -> str | None:
    """How one epoch of the student's fit moves the parameters, against the gradient g
    the grader computes on the same model: -lr*g is right, +lr*g climbs the loss, and
    -2*lr*g means the gradient of the grader's pass was never reset (no zero_grad)."""
    xs = [[{"num": x} for x in row] for row in ((2.0, 3.0, -1.0), (3.0, -1.0, 0.5))]
    ys = [{"num": 1.0}, {"num": -1.0}]
    steps: list[list[Any]] = [
        ["seed", 5],
        ["new", "m", "MLP", 3, [3, 1]],
        ["sgd", "loss", "m", xs, ys, 1, 0.0],
        ["method", "ps", "m", "parameters"],
        ["params_grad", "g", "ps"],
        ["params_data", "before", "ps"],
        ["call", "losses", "train:fit", "m", xs, ys, {"num": 1}, {"num": FIT_LR}],
        ["params_data", "after", "ps"],
        ["params_grad", "left", "ps"],
    ]
    try:
        run = ctx.run(Program(steps))
    except StudentFault:
        return None
    if run.error is not None:
        return None
    try:
        g, before, after, left = (
            list(map(float, run.reads[k])) for k in ("g", "before", "after", "left")
        )
    except (KeyError, TypeError, ValueError, StudentFault):  # a read that never came back
        return None
    moved = [b - a for a, b in zip(before, after, strict=False)]
    if not any(g) or len(moved) != len(g):
        return None
    # The grader's pass left g on the parameters. A fit that zeroes the gradients at the
    # end of each epoch (after its step) does zero them, but its first step then also
    # used g: -2 lr g with nothing left on the parameters is right, not piling up.
    zeroes_after = not any(left)
    for name, factor in (("right", -1.0), ("ascent", 1.0), ("piles-up", -2.0), ("up", 2.0)):
        if all(close(m, factor * FIT_LR * x, 1e-6) for m, x in zip(moved, g, strict=True)):
            if zeroes_after and name in ("piles-up", "up"):
                return "right" if name == "piles-up" else "ascent"
            return "ascent" if name == "up" else name
    return "other"


def diagnose_check(check_id: str, obs: Observed, facts: Facts) -> str | None:
    """The mistake code for one failed check, or None when no pattern fits.

    A check that failed because the student's code raised (an unfinished stub, a
    crash) gets no guessed mistake unless the exception itself is the symptom; one that
    failed because the code hung or died gets none at all.
    """
    if obs.get("set_order"):
        return "set-order"
    exception = obs.get("raised")
    if exception == "OpReturnedNone" or (
        facts.returns_none and exception == "TypeError" and "NoneType" in str(obs.get("message"))
    ):
        return "op-returns-none"
    if exception == "ImportError" and facts.blocked_import:
        return "forbidden-import"
    crash = crash_mistake(obs, facts)
    if crash is not None:
        return crash
    if (
        exception == "AttributeError"
        and facts.parents != "_prev"
        and "_prev" in str(obs.get("message", ""))
    ):
        return "parents-name"
    if obs.get("fault"):  # it hung, died or ran out of time: no sign of what it computes
        return None
    registered = REGISTRY.get(check_id)
    if registered is None or registered.diagnoses is None:
        return None
    if exception is not None and not registered.about_exceptions:
        return None
    return registered.diagnoses(obs, facts)


def diagnose_failures(ctx: Context, outcomes: dict[str, Outcome]) -> None:
    """Name the classic mistake behind each failed outcome (``diagnosis``), or the failed
    check it rests on (``charged_to``), and keep the graph a report draws for a failed
    graph program. Runs the probes once, after every check."""
    failed = [o for o in outcomes.values() if o.status == FAILED]
    facts = probe(ctx, failed)
    for o in failed:
        # numbers no network computed: no classic mistake explains them
        unverified = o.observed.get("unverified")
        code = None if unverified else diagnose_check(o.id, o.observed, facts)
        o.diagnosis = explain(code) if code else None
        if o.diagnosis is None:  # explained by a failure it rests on, if any
            o.charged_to = next(
                (
                    d
                    for d in REGISTRY[o.id].rests_on
                    if d in outcomes and outcomes[d].status == FAILED
                ),
                None,
            )
        drawn = "got" in o.observed and not o.observed.get("set_order")
        if drawn and "steps" in o.observed:
            nodes = graph_nodes(ctx, o.observed["steps"])
            if nodes:
                o.observed["graph"] = nodes
