"""Network and training numbers are the network's own: the grader checks them.

Everything a network check reads comes from the student's process, whose code can
replace the worker's interpreter and answer with numbers of the right shape that no
network computed (issue 19). So a lab 3 or lab 4 check passes only on numbers the
grader reproduces itself, in plain floats (``grader.netmath``), from the parameters the
network reports:

* lab 3: each check's own program also reads its network's parameters (a ``net``
  step), and what it read (outputs, outputs with a parameter moved, weights,
  gradients) must be what those parameters compute (tanh, ReLU, sigmoid or linear
  neurons, a linear last layer allowed); and the network, built as the check builds
  it, runs once more with ``backward()`` from its output (a *proof*: one request per
  network, kept for the submission), whose output and gradients must be its
  parameters' too. Between two requests only counts and object identities are
  compared, never values (weights drawn from a generator of the engine's own may
  differ from one build to the next);
* lab 4: every epoch's parameters come back with the losses; each loss must be the
  loss of that epoch's parameters, and each update ``-lr`` times the gradient (the
  grader's own loop: the gradient the engine reported, itself the real one; the
  student's fit: the real gradient, or the gradients piled up when fit never zeroes
  them, a mistake charged elsewhere).

Gradients are held to the real ones only when the engine's own gradient checks of
labs 1 and 2 pass (``strict``): an engine whose ``mul`` or backward pass is known to be
wrong has its network gradients wrong too, and that mistake is charged there, not
again here. Its networks are still held to their forward pass.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader import netmath
from grader.checks.base import REGISTRY, Context, Fail, Run
from grader.i18n import N_, _
from grader.netmath import Act, Layout
from grader.program import Program, fmt
from grader.results import PASSED

# The checks of labs 1 and 2 that vouch for an engine's gradients through a network
# and a loss (each worth 2 points or more); any graph check registered besides these
# counts too.
GRADIENT_CHECKS = (
    "ops.add",
    "ops.sub",
    "ops.neg",
    "ops.mul",
    "ops.pow",
    "ops.tanh",
    "ops.relu",
    "graph.backward_runs",
    "graph.seed",
    "graph.worked_example",
    "graph.diamond",
    "graph.shared_input",
    "graph.repeated_variable",
    "graph.closure_trap",
    "graph.equal_values",
    "graph.accumulate",
    "graph.deep_chain",
)
MINOR = {"graph.xyz"}  # 1 point: failing it cannot excuse a network's gradients


class Unverified(Fail):
    """Numbers the grader cannot reproduce from the network they claim to come from:
    a failure of the check, named plainly (no classic mistake explains it)."""

    def __init__(self, summary: str, **how: Any) -> None:
        super().__init__(summary, observed={"unverified": True}, **how)


def strict(ctx: Context) -> bool:
    """Whether the engine's gradients are vouched for: every gradient check that ran
    in this grading passed."""
    known = [*GRADIENT_CHECKS, *(c for c in REGISTRY if c.startswith("graph.") and c not in MINOR)]
    return all(ctx.statuses.get(c, PASSED) == PASSED for c in dict.fromkeys(known))


def nums(xs: Sequence[float]) -> list[dict[str, float]]:
    return [{"num": x} for x in xs]


def layout_of(read: dict[str, Any], sizes: Sequence[int] | None) -> Layout | None:
    """The network a ``net`` read describes: laid out by the lab's names when they
    apply, else by ``parameters()`` in the lab's order for a network of ``sizes``."""
    named, listed = read.get("named"), read.get("listed")
    structure = named if named is not None and netmath.well_formed(named) else None
    if structure is None and listed is not None and sizes is not None:
        structure = netmath.structure_of(sizes, listed)
    if structure is None:
        return None
    return Layout(structure, list(read["data"]), list(read["grad"]), listed)


def outs_of(read: dict[str, Any]) -> list[float]:
    """A network's outputs from a ``read``: one Value, or each Value of a list."""
    if read.get("kind") == "list":
        return [float(item["data"]) for item in read["items"]]
    return [float(read["data"])]


UNREADABLE = N_(
    "the grader cannot read this network's parameters (by the lab's names `layers`, "
    "`neurons`, `w` and `b`, or through `parameters()`), so it cannot check the numbers "
    "it reports"
)
NOT_ITS_OWN = N_("the network's output is not what its own parameters compute")
Cases = Sequence[tuple[Sequence[float], Sequence[float]]]  # (input, outputs)


def own(run: Run, sizes: Sequence[int] | None, name: str = "net") -> Layout:
    """The network a check's own program read (its ``net`` step), or fail."""
    layout = layout_of(run.reads[name], sizes)
    if layout is None:
        raise Unverified(_(UNREADABLE), counterexample=run.python())
    return layout


def explained(layout: Layout, cases: Cases, run: Run | None = None) -> Act:
    """The activation under which ``layout`` computes every case, or fail."""
    fits = all(len(x) == layout.sizes[0] for x, _ in cases)
    act = netmath.explain(layout, cases) if fits else None
    if act is None:
        x, outs = cases[0]
        want = netmath.outputs(layout, netmath.FAMILY[0], x) if fits else []
        raise Unverified(
            _(NOT_ITS_OWN),
            expected=_(
                "for {x}: {outputs} (tanh neurons; ReLU, sigmoid or linear neurons would do too)"
            ).format(x=f"x = {list(x)}", outputs=_shown(want)),
            got=_shown(outs),
            counterexample=None if run is None else run.python(),
        )
    return act


def _shown(values: Sequence[float]) -> str:
    return ", ".join(fmt(v) for v in values[:4]) or _("no output")


def effects_hold(run: Run, x: Sequence[float], sizes: Sequence[int] | None, delta: float) -> None:
    """Fail unless a ``param_effect`` program's outputs (each listed parameter moved by
    ``delta`` in turn, then none: its read ``e``) are what its network (its read
    ``net``) computes, under one activation of ``netmath.FAMILY``."""
    layout = own(run, sizes)
    effects: list[float] = run.reads["e"]
    listed = layout.listed or []
    if len(effects) != len(listed) + 1 or len(x) != layout.sizes[0]:
        raise Unverified(
            _(NOT_ITS_OWN),
            expected=_("{n} outputs (one per parameter, then unmoved)").format(n=len(listed) + 1),
            got=_("{n} outputs").format(n=len(effects)),
            counterexample=run.python(),
        )
    settings = []
    for i in listed:
        moved = list(layout.data)
        moved[i] += delta
        settings.append(layout.with_data(moved))
    settings.append(layout)
    for act in netmath.FAMILY:
        if all(
            netmath.close(netmath.outputs(net, act, x)[0], got)
            for net, got in zip(settings, effects, strict=True)
        ):
            return
    want = netmath.outputs(layout, netmath.FAMILY[0], x)[0]
    raise Unverified(
        _(NOT_ITS_OWN),
        expected=_(
            "unmoved, for {x}: {output} (tanh neurons; ReLU, sigmoid or linear neurons would "
            "do too), and each parameter's effect"
        ).format(x=f"x = {list(x)}", output=fmt(want)),
        got=fmt(effects[-1]),
        counterexample=run.python(),
    )


def gradients_hold(layout: Layout, act: Act, x: Sequence[float], run: Run | None = None) -> None:
    """Fail unless the gradients ``layout`` reports are those a backward() from its
    first output on ``x`` leaves (each object's, summed over its places)."""
    want = netmath.output_grad(layout, act, x)
    wrong = differ(layout, want, layout.grad)
    if wrong:
        raise Unverified(
            _(
                "after backward() from the network's output, the gradients on its parameters "
                "are not the derivatives of that output"
            ),
            expected=", ".join(f"p{i}.grad = {fmt(want[i])}" for i in wrong[:3]),
            got=", ".join(f"p{i}.grad = {fmt(layout.grad[i])}" for i in wrong[:3]),
            counterexample=None if run is None else run.python(),
        )


def differ(layout: Layout, want: list[float], got: list[float]) -> list[int]:
    """The objects (in the network's places) whose gradients disagree."""
    placed = dict.fromkeys(layout.slots())
    return [i for i in placed if not netmath.close(want[i], got[i], 1e-6)]


@dataclass(frozen=True)
class Proof:
    """A network whose output and (when ``strict``) gradients the grader reproduced:
    its layout (the same for every network built the same way: counts and object
    identities, never values, are compared with another request's)."""

    layout: Layout
    act: Act


def prove(
    ctx: Context, seed: int, cls: str, args: list[Any], x: list[float], sizes: list[int]
) -> Proof:
    """Build ``cls(*args)`` after ``random.seed(seed)``, run it on ``x`` and (strict)
    backward() from its first output; fail unless the grader reproduces the output and
    the gradients from the parameters it reports. One request per network, kept for the
    submission."""
    tight = strict(ctx)
    key = json.dumps([seed, cls, args, x, ctx.order, tight])
    proofs: dict[str, Proof | Fail] = ctx.cache.setdefault("proofs", {})
    if key not in proofs:
        try:
            proofs[key] = _prove(ctx, seed, cls, args, x, sizes, tight)
        except Fail as fail:
            proofs[key] = fail
    found = proofs[key]
    if isinstance(found, Fail):
        raise found
    return found


def _prove(
    ctx: Context,
    seed: int,
    cls: str,
    args: list[Any],
    x: list[float],
    sizes: list[int],
    tight: bool,
) -> Proof:
    steps: list[list[Any]] = [
        ["seed", seed],
        ["new", "m", cls, *args],
        ["call", "out", "m", nums(x)],
        ["read", "out"],
    ]
    if tight:
        steps += [["first", "first", "out"], ["backward", "first"]]
    steps.append(["net", "net", "m"])
    run = ctx.run(Program(steps))
    if run.error is not None:
        raise Unverified(
            _(
                "checking the network's numbers, the grader ran into an error in your code: {error}"
            ).format(error=run.describe_error()),
            counterexample=run.python(),
        )
    layout = own(run, sizes)
    act = explained(layout, [(x, outs_of(run.reads["out"]))], run)
    if tight:
        gradients_hold(layout, act, x, run)
    return Proof(layout, act)


def same_count(what: str, want: int, got: int) -> None:
    """Fail unless a count the check read is the one the grader counted itself."""
    if want != got:
        raise Unverified(
            _(
                "{what}: the count your code reports is not that of the network's own "
                "parameter objects"
            ).format(what=what),
            expected=str(want),
            got=str(got),
        )


def same_values(summary: str, want: Sequence[float], got: Sequence[float]) -> None:
    """Fail unless values a check read twice in one program agree (``summary``: the
    failure's sentence, that they differ from the network's own parameters)."""
    if list(want) != list(got):
        raise Unverified(
            summary,
            expected=_shown(want),
            got=_shown(got),
        )


# ---------------------------------------------------------------- training runs
LOSS_SCALES = (1.0, 0.5)  # the lab's sum of squared errors, or half of it; or the mean


def rows(ys: Sequence[Any]) -> list[list[float]]:
    """Targets as one list of outputs per example (a toy target is one number)."""
    return [list(y) if isinstance(y, list) else [y] for y in ys]


@dataclass(frozen=True)
class Trace:
    """A training run as reported: the network, each epoch's parameters (before it,
    then after the last) and loss, and (the grader's loop) each epoch's gradients."""

    layout: Layout
    datas: list[list[float]]
    losses: list[float]
    grads: list[list[float]] | None


def trace_of(run: Run, name: str, sizes: list[int], start: str = "n0") -> Trace:
    """The run's trace, its outline checked (one set of parameters per epoch and one
    more, the first the network's own as read before training)."""
    layout = layout_of(run.reads[start], sizes)
    if layout is None:
        raise Unverified(_(UNREADABLE))
    traced = run.reads[name + "#trace"]
    losses: list[float] = run.reads[name]
    datas: list[list[float]] = traced["data"]
    grads: list[list[float]] | None = traced.get("grad")
    n = len(layout.data)
    fits = len(datas) == len(losses) + 1 and all(len(row) == n for row in datas)
    if grads is not None:
        fits = fits and len(grads) == len(losses) and all(len(row) == n for row in grads)
    if not fits or (datas and datas[0] != layout.data):
        raise Unverified(
            _(
                "the training run's parameters do not come back one set per epoch, starting "
                "from the network's own: the numbers your code reports are not its own"
            )
        )
    return Trace(layout, datas, losses, grads)


LOSSES_NOT_OWN = N_("the training losses are not the losses of the network's own parameters")


def _loss_model(
    trace: Trace, xs: list[list[float]], ys: list[list[float]], scales: Sequence[float]
) -> tuple[Act, float]:
    """The activation and loss scale under which the first loss is the network's own."""
    first = trace.layout.with_data(trace.datas[0])
    sizes = first.sizes
    if not all(len(x) == sizes[0] for x in xs) or not all(len(y) == sizes[-1] for y in ys):
        raise Unverified(
            _("the network trained does not fit its data: the grader cannot check its losses"),
            expected=_("{inputs} inputs and {outputs} outputs").format(
                inputs=len(xs[0]), outputs=len(ys[0])
            ),
            got=_("{inputs} inputs and {outputs} outputs").format(
                inputs=sizes[0], outputs=sizes[-1]
            ),
        )
    for act in netmath.FAMILY:
        total = netmath.sse(first, act, xs, ys)
        for scale in scales:
            if trace.losses and netmath.close(scale * total, trace.losses[0]):
                return act, scale
    raise Unverified(
        _(LOSSES_NOT_OWN),
        expected=_("epoch {t}: the sum of squared errors = {loss} (tanh neurons)").format(
            t=0, loss=fmt(netmath.sse(first, netmath.FAMILY[0], xs, ys))
        ),
        got=_("epoch {t}: {loss}").format(t=0, loss=fmt(trace.losses[0]))
        if trace.losses
        else _("no loss"),
    )


def _wrong_loss(t: int, want: float, got: float) -> Fail:
    return Unverified(
        _(LOSSES_NOT_OWN),
        expected=_("epoch {t}: {loss}").format(t=t, loss=fmt(want)),
        got=_("epoch {t}: {loss}").format(t=t, loss=fmt(got)),
    )


def _moved_off(
    before: list[float], after: list[float], gradient: list[float], rate: float, times: list[int]
) -> int | None:
    """The first parameter whose update is not ``-rate * gradient`` once per time
    ``parameters()`` lists it (``times``; one not listed must not move), or None."""
    for i, (b, a, g, m) in enumerate(zip(before, after, gradient, times, strict=True)):
        if not math.isclose(a - b, -rate * m * g, rel_tol=1e-9, abs_tol=1e-11):
            return i
    return None


SPOT = 2  # epochs whose gradients are checked besides the first and the last


def spot_epochs(trace: Trace) -> list[int]:
    """The epochs whose gradients the grader works out: the first, the last and SPOT
    more, drawn from a digest of the whole run as reported. The same run always gets
    the same epochs (an honest run passes whichever are drawn); a made-up run cannot
    know them before it has committed to every number."""
    count = len(trace.losses)
    digest = hashlib.sha256(json.dumps([trace.losses, trace.datas]).encode()).digest()
    drawn = random.Random(digest).sample(range(count), min(SPOT, count))
    return sorted({0, count - 1, *drawn}) if count else []


def check_sgd(
    ctx: Context, run: Run, xs: list[list[float]], ys: Sequence[Any], lr: float, sizes: list[int]
) -> None:
    """The grader's own loop (``sgd`` with a trace): every loss the loss of that epoch's
    parameters, every update ``-lr`` times the gradient the engine reported (once per
    time ``parameters()`` lists the object), and (strict) that gradient the real one
    (at ``spot_epochs``)."""
    trace = trace_of(run, "losses", sizes)
    ys = rows(ys)
    act, _scale = _loss_model(trace, xs, ys, (1.0,))
    listed = trace.layout.listed
    if listed is None or trace.grads is None:
        raise Unverified(_(UNREADABLE))
    times = [listed.count(i) for i in range(len(trace.layout.data))]
    for t, loss in enumerate(trace.losses):
        want = netmath.sse(trace.layout.with_data(trace.datas[t]), act, xs, ys)
        if not netmath.close(want, loss):
            raise _wrong_loss(t, want, loss)
        reported = trace.grads[t]
        off = _moved_off(trace.datas[t], trace.datas[t + 1], reported, lr, times)
        if off is not None:
            raise Unverified(
                _("the training run's updates are not -lr times the gradients it reports"),
                expected=_("epoch {t}, parameter {i}: {change}").format(
                    t=t,
                    i=off,
                    change=f"{fmt(trace.datas[t][off])} -> "
                    f"{fmt(trace.datas[t][off] - lr * times[off] * reported[off])}",
                ),
                got=f"{fmt(trace.datas[t][off])} -> {fmt(trace.datas[t + 1][off])}",
            )
    if not strict(ctx):
        return
    placed = [i for i in dict.fromkeys(trace.layout.slots()) if times[i]]
    for t in spot_epochs(trace):
        grad = netmath.sse_grad(trace.layout.with_data(trace.datas[t]), act, xs, ys)[1]
        reported = trace.grads[t]
        wrong = [i for i in placed if not netmath.close(grad[i], reported[i], 1e-6)]
        if wrong:
            raise Unverified(
                _(
                    "the gradients of the training loss are not the derivatives of the "
                    "network's own loss"
                ),
                expected=_("epoch {t}, parameter {i}: {change}").format(
                    t=t, i=wrong[0], change=f"grad = {fmt(grad[wrong[0]])}"
                ),
                got=f"grad = {fmt(reported[wrong[0]])}",
            )


def check_fit(
    ctx: Context, run: Run, xs: list[list[float]], ys: Sequence[Any], lr: float, sizes: list[int]
) -> None:
    """The student's fit (``fit_until`` with a trace): every loss the loss (the sum of
    squared errors, half of it, or their mean) of that epoch's parameters; (strict, at
    ``spot_epochs``) each update ``-lr`` times the gradient of that loss, or times the
    gradients piled up since the start when fit never zeroes them (a mistake charged
    elsewhere)."""
    trace = trace_of(run, "losses", sizes)
    ys = rows(ys)
    scales = [s * k for s in LOSS_SCALES for k in (1.0, 1.0 / len(xs))]
    act, scale = _loss_model(trace, xs, ys, scales)
    for t, loss in enumerate(trace.losses):
        total = netmath.sse(trace.layout.with_data(trace.datas[t]), act, xs, ys)
        if not netmath.close(scale * total, loss):
            raise _wrong_loss(t, scale * total, loss)
    listed = trace.layout.listed
    if listed is None or not strict(ctx):
        return
    # The gradient each update used, as the parameters moved: p.data -= lr * g, once
    # per time parameters() lists p; parameters it does not list are left out.
    times = [listed.count(i) for i in range(len(trace.layout.data))]
    moved = [i for i, m in enumerate(times) if m]
    rate = lr * scale

    def used(t: int) -> list[float]:
        before, after = trace.datas[t], trace.datas[t + 1]
        return [(before[i] - after[i]) / (rate * times[i]) for i in moved]

    start = [trace.layout.grad[i] for i in moved]  # what sat on them before the first epoch
    ways = {"right": True, "piled": True}
    for t in spot_epochs(trace):
        grad = netmath.sse_grad(trace.layout.with_data(trace.datas[t]), act, xs, ys)[1]
        want = [grad[i] for i in moved]
        now, then = used(t), used(t - 1) if t else start
        ways["right"] = ways["right"] and _same(now, want)
        ways["piled"] = ways["piled"] and _same(
            [a - b for a, b in zip(now, then, strict=True)], want
        )
        if not any(ways.values()):
            raise Unverified(
                _("fit's updates are not -lr times the gradient of its loss"),
                expected=_(
                    "epoch {t}: {update}, p.grad the derivative of that epoch's loss"
                ).format(t=t, update=f"p.data -= {lr} * p.grad"),
                got=_("parameters that moved otherwise"),
            )


def _same(got: list[float], want: list[float]) -> bool:
    return all(netmath.close(w, g, 1e-6) for w, g in zip(want, got, strict=True))


CURVE_POINTS = 300  # at most this many losses of a curve are kept for a report


def correct_curve(
    start: dict[str, Any], xs: Any, ys: Any, lr: float, sizes: list[int], epochs: int, goal: float
) -> list[float] | None:
    """The losses a correct engine's SGD (tanh neurons, the lab's sum of squared errors)
    gives from the parameters a network started with (its ``net`` read), epoch by epoch
    until one is below ``goal`` or ``epochs`` have run; None when the grader cannot read
    that network or the data is not plain rows of numbers. The grader's own arithmetic:
    the report draws it beside the student's curve."""
    layout = layout_of(start, sizes)
    try:
        xs_rows, ys_rows = rows(xs), rows(ys)
        fits = all(len(x) == sizes[0] for x in xs_rows) and all(
            len(y) == sizes[-1] for y in ys_rows
        )
    except TypeError:
        return None
    if layout is None or not fits or not xs_rows or len(xs_rows) != len(ys_rows):
        return None
    tanh = netmath.FAMILY[0]
    curve: list[float] = []
    for _epoch in range(min(epochs, CURVE_POINTS)):
        loss, grad = netmath.sse_grad(layout, tanh, xs_rows, ys_rows)
        curve.append(loss)
        if not loss < goal:
            layout = layout.with_data([d - lr * g for d, g in zip(layout.data, grad, strict=True)])
        else:
            break
    return curve
