"""The classic mistakes: their table (``diagnoses.toml``), the facts probe programs
find about an engine, and the rules that name a mistake from what a failed check
observed.

This is the bottom of diagnosis: the checks name their rule here when they register
(``@check(..., diagnoses=...)``), and ``grader/diagnose.py``, above the checks, runs the
probes and applies the rules. Only behaviour counts: the numbers a check recorded and
the probes' results, never the student's source.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.i18n import _
from grader.optable import OPS
from grader.program import close

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


def explain(code: str) -> dict[str, str]:
    mistake = MISTAKES[code]
    return {"code": code, "explanation": _(mistake.explain), "reread": mistake.reread}
