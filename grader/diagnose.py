"""Diagnose: name the classic mistake most likely behind a submission's failures.

Only behaviour observed through the sandbox counts: the numbers each failed check
recorded (``Outcome.observed``) and a few small probe programs run on the student's
engine after the checks. The student's source is never read or diffed for this.
When no pattern fits, a check gets no diagnosis: the report then shows only what
failed and the smallest counterexample.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.optable import OPS
from grader.program import Program, close
from grader.results import Outcome
from grader.sandbox import StudentFault

if TYPE_CHECKING:
    from grader.checks.base import Context

Observed = dict[str, Any]
DIAGNOSES = Path(__file__).with_name("diagnoses.toml")


@dataclass(frozen=True)
class Mistake:
    """A classic mistake the grader can name (grader/diagnoses.toml)."""

    code: str
    lab: str
    explain: str
    reread: str
    course: bool


def load_mistakes(path: Path = DIAGNOSES) -> dict[str, Mistake]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return {
        code: Mistake(code, m["lab"], m["explain"], m["reread"], bool(m.get("course", False)))
        for code, m in raw["mistakes"].items()
    }


MISTAKES = load_mistakes()
PRE = 5.0  # a gradient already on a leaf before a local backward step
G = 1.7


# ---------------------------------------------------------------- local derivatives
def local(op: str, args: list[float]) -> list[float]:
    """d out / d arg for each argument of ``op`` (the exponent of pow is a constant)."""
    return OPS[op].local(*args)  # an op missing from the table is a KeyError, never a guess


def models(op: str, args: list[float], g: float) -> list[tuple[str, list[float]]]:
    """The gradients each classic per-op mistake would produce (code, grads)."""
    right = [d * g for d in local(op, args)]
    found = [("missing-upstream", local(op, args)), ("sign-error", [-x for x in right])]
    for code, derivative in OPS[op].wrong:
        wrong = [d * g for d in derivative(*args)]
        if wrong != right:  # relu's slip shows only at 0, where it differs
            found.append((code, wrong))
    return found


def _per_op(obs: Observed) -> str | None:
    """Match a failed one-op program's grads against each mistake model."""
    steps = obs.get("steps") or []
    consts = {s[1]: s[2] for s in steps if s[0] == "const"}
    ops = [s for s in steps if s[0] == "op"]
    upstream = [s[2] for s in steps if s[0] == "set_grad"]
    if not upstream and any(s[0] == "backward" for s in steps):
        upstream = [1.0]  # the engine's own backward() seeds the output with 1.0
    got = obs.get("got") or {}
    if len(ops) != 1 or len(upstream) != 1:
        return None
    _, _, op, *args = ops[0]
    values = [consts[a] if isinstance(a, str) else a["num"] for a in args]
    names = [a if isinstance(a, str) else None for a in args]
    if op in ("sub", "truediv") and names[0] is None and names[1] in got:
        swapped = values[1] - values[0] if op == "sub" else values[1] / values[0]
        data = _data_of(got, ops[0][1])
        if data is not None and close(swapped, data):
            return "reflected-order"
    want = obs.get("want") or {}
    out = ops[0][1]
    if out in want and out in got and not close(want[out][0], got[out][0]):
        return None  # the forward value is wrong: no backward slip explains that
    operands = [n for n in names if n is not None and n in got and n in want]
    if operands and all(close(want[n][1], got[n][1]) for n in operands):
        return None  # the operands get the right gradients: no slip of the op's own
    for code, grads in models(op, values, upstream[0]):
        pairs = [(n, g) for n, g in zip(names, grads, strict=False) if n is not None and n in got]
        if pairs and all(close(g, got[n][1], 1e-9) for n, g in pairs):
            return code
    return None


def _data_of(got: dict[str, Any], name: str) -> float | None:
    return got[name][0] if name in got else None


# ---------------------------------------------------------------- probes
@dataclass
class Facts:
    """What small probe programs show about the student's engine (None: unknown)."""

    assign: bool | None = None
    seeded: bool | None = None
    order: str | None = None  # "reverse" | "forward" | "late" | "other"
    resets: bool | None = None
    recorded: bool | None = None
    identity: bool | None = None
    closure_on_self: bool | None = None
    returns_none: bool = False  # some op gives back None (found by the op checks)
    zero_grad_noop: bool = False  # zero_grad() leaves gradients (found by nn.zero_grad)
    fit_step: str | None = None  # "right" | "ascent" | "piles-up" | "other": one fit epoch
    activation: str | None = None  # the activation the network's output matched, if not tanh
    blocked_import: bool = False  # the engine tried numpy, torch, ... (refused)
    parents: str = "_prev"  # the attribute the engine keeps its parents under
    reflected_recursion: bool = False  # 3 + a (or 3 * a, ...) recurses without end


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


# ---------------------------------------------------------------- shared rules
# Each check names its own diagnosis in its decorator (grader/checks/); these are the
# rules several checks share.
def graph_mistake(obs: Observed, facts: Facts) -> str | None:
    """The mistake of the backward pass that the probes found, if any."""
    if facts.closure_on_self:
        return "closure-on-self"
    if facts.seeded is False:
        return "no-seed"
    if facts.order == "late":
        return "late-closure"
    if facts.order == "forward":
        return "forward-order"
    if facts.recorded is False:
        return "op-not-recorded"
    if facts.identity is False:
        return "eq-hash-override"
    if facts.assign:
        return "assign-not-accumulate"
    return None


def op_mistake(obs: Observed, facts: Facts) -> str | None:
    """A one-op program's grads matched against each per-op mistake model; an op
    composed of others runs a closure stored on its operand out of order."""
    return _per_op(obs) or ("closure-on-self" if facts.closure_on_self else None)


def when_raised(expected: str | None, code: str) -> Callable[[Observed, Facts], str | None]:
    """``code`` when the student's code raised ``expected`` (None: raised nothing) in an
    op that otherwise works (``op_works``, when the check records it)."""
    return lambda obs, facts: (
        code if obs.get("raised") == expected and obs.get("op_works", True) else None
    )


def training_mistake(obs: Observed, facts: Facts) -> str | None:
    """Training failures: what one epoch of fit does to the parameters says why; a
    network that trains right but is not tanh is told so."""
    if facts.fit_step == "ascent":
        return "update-sign"
    if facts.fit_step == "piles-up":
        return "zero-grad-noop" if facts.zero_grad_noop else "fit-no-zero-grad"
    return None if facts.activation is None else activation_mistake(facts.activation)


def activation_mistake(matched: str) -> str:
    """A network whose output matched another activation than tanh (``matched``)."""
    return "missing-activation" if matched == "linear" else "activation-not-tanh"


# Crashes whose exception names the mistake, whichever check ran into them:
# (exception type, words of its message, the kinds of step it must happen at (empty:
# any), mistake code).
CRASHES: list[tuple[str, str, tuple[str, ...], str]] = [
    ("NameError", "name 'math' is not defined", (), "math-not-imported"),
    ("TypeError", "must be real number, not", (), "math-on-value"),
    ("AttributeError", "has no attribute 'zero_grad'", (), "zero-grad-missing"),
    ("AttributeError", "has no attribute 'parameters'", (), "parameters-name"),
    ("TypeError", "__init__() missing", ("new",), "constructor-args"),
    ("TypeError", "__init__() takes", ("new",), "constructor-args"),
]
# Where a reflected op's endless recursion shows: the op itself, or network code that
# sums Values from a plain 0 (sum() without a start); never a backward() that recurses.
RECURSES_IN = ("op", "call", "new", "sgd", "fit_until", "param_effect", "method")


def crash_mistake(obs: Observed, facts: Facts) -> str | None:
    """The mistake an exception itself names, if any (see ``CRASHES``)."""
    exception = obs.get("raised")
    message = str(obs.get("message", ""))
    steps = obs.get("steps") or []
    at = obs.get("step")
    kind = steps[at][0] if isinstance(at, int) and 0 <= at < len(steps) else ""
    for name, words, kinds, code in CRASHES:
        if exception == name and words in message and (not kinds or kind in kinds):
            return code
    if exception == "RecursionError" and facts.reflected_recursion and kind in RECURSES_IN:
        return "reflected-recursion"
    return None


def diagnose_check(check_id: str, obs: Observed, facts: Facts) -> str | None:
    """The mistake code for one failed check, or None when no pattern fits.

    A check that failed because the student's code raised (an unfinished stub, a
    crash) gets no guessed mistake unless the exception itself is the symptom.
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
    from grader.checks import REGISTRY

    registered = REGISTRY.get(check_id)
    if registered is None or registered.diagnoses is None:
        return None
    if exception is not None and not registered.about_exceptions:
        return None
    return registered.diagnoses(obs, facts)


def explain(code: str) -> dict[str, str]:
    mistake = MISTAKES[code]
    return {"code": code, "explanation": mistake.explain, "reread": mistake.reread}
