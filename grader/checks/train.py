"""Lab 4: training. The student's fit, and the grader's own SGD loop on the student's
engine, so a broken fit is told apart from a broken engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grader.checks import proof
from grader.checks.base import Context, Fail, Run, check
from grader.checks.proof import GRADIENT_CHECKS
from grader.child.interpreter import stands_still
from grader.classic import Facts, Observed, activation_mistake, training_mistake
from grader.i18n import _
from grader.program import close, fmt

TOY_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
TOY_YS = [1.0, -1.0, -1.0, 1.0]
SEEDS = (1, 2, 3)
# A network trains when most seeds reach the goal: one unlucky start (a ReLU network
# that dies, a chaotic run) is not held against an engine whose gradients are right.
MOST = 2


def _train_seeds(
    ctx: Context,
    steps: Callable[[int], list[list[Any]]],
    goal: float,
    timeout: float,
    what: str,
    verify: Callable[[Run], None],
    curve: Callable[[Run, list[float]], None] | None = None,
) -> list[str]:
    """Train on each seed (its program reads ``losses``) until the verdict is settled;
    the seeds that missed the goal when too many did, else nothing. When enough seeds
    reached it, ``verify`` checks every run was the network's own (else it fails).
    ``curve`` keeps the first seed's losses for the report's picture."""
    missed: list[str] = []
    runs: list[Run] = []
    for tried, seed in enumerate(SEEDS):
        if _decided(tried, missed):
            break
        runs.append(ctx.run_steps(steps(seed), timeout=timeout))
        losses = _losses(runs[-1].reads["losses"], what)
        if curve is not None and tried == 0:
            curve(runs[-1], losses)
        if not losses or not losses[-1] < goal:
            missed.append(_missed(seed, runs[-1], losses))
    if len(SEEDS) - len(missed) < MOST:
        return missed
    for run in runs:
        verify(run)
    return []


def _missed(seed: int, run: Run, losses: list[float]) -> str:
    """How the run of ``seed`` missed the goal, for the failure message."""
    shown = f"{fmt(losses[0])} -> {fmt(losses[-1])}" if losses else _("no loss")
    if _stood_still(run, losses):
        return _(
            "seed {seed}: loss {loss}, and epochs {first} to {n} changed no parameter: "
            "it stays there"
        ).format(seed=seed, loss=shown, first=len(losses) - STILL + 1, n=len(losses))
    return _("seed {seed}: loss {loss} after {n} epochs").format(
        seed=seed, loss=shown, n=len(losses)
    )


def _stood_still(run: Run, losses: list[float]) -> bool:
    """Whether fit stopped because its last STILL epochs changed neither a parameter
    nor the loss (every later epoch repeats them), checked again on the trace."""
    trace = run.reads.get("losses#trace")
    datas = trace.get("data") if isinstance(trace, dict) else None
    return isinstance(datas, list) and stands_still(datas, losses, STILL)


def _decided(tried: int, missed: list[str]) -> bool:
    """Whether the seeds tried so far settle the verdict, so the rest are skipped:
    MOST of them reached the goal, or too many missed it for MOST to be reached."""
    return tried - len(missed) >= MOST or len(missed) > len(SEEDS) - MOST


TOY_EPOCHS, TOY_LR, TOY_GOAL = 100, 0.05, 0.1
TENSE_EPOCHS, TENSE_LR, TENSE_GOAL = 300, 0.05, 0.5
# fit keeps no state beyond the model, so CHUNK-epoch calls equal one long call; they
# let a check stop as soon as the loss is below its goal instead of running every epoch.
CHUNK = 10
# A traced fit whose last STILL epochs moved no parameter and kept the same loss stops:
# fit keeps no state beyond the model, so every later epoch would be the same.
STILL = CHUNK
NETWORK = ["nn.build", "nn.param_count", "graph.backward_runs"]
# What training rests on: a training check that fails with no diagnosis of its own is
# charged to the first of these that failed (an op, the backward pass, the network).
TRAINING_RESTS_ON = (
    *(f"ops.{op}" for op in ("add", "sub", "mul", "pow", "tanh")),
    *(f"graph.{g}" for g in ("backward_runs", "worked_example", "shared_input")),
    *(f"graph.{g}" for g in ("repeated_variable", "accumulate")),
    *(f"nn.{n}" for n in ("build", "param_count", "distinct_params", "weights_random")),
    *(f"nn.{n}" for n in ("bias_included", "zero_grad", "layer_single")),
)


def data(rows: list[list[float]] | list[float]) -> list[Any]:
    return [[{"num": x} for x in row] if isinstance(row, list) else {"num": row} for row in rows]


def fit_toy_step(epochs: int) -> list[Any]:
    """``losses = fit(m, toy xs, toy ys, epochs, TOY_LR)`` with the student's fit."""
    lr = {"num": TOY_LR}
    return ["call", "losses", "train:fit", "m", data(TOY_XS), data(TOY_YS), {"num": epochs}, lr]


def fit_until(xs: Any, ys: Any, most: int, lr: float, goal: float) -> list[Any]:
    """``losses`` = the student's fit on model m, CHUNK epochs at a time, until < goal
    or until STILL epochs changed nothing (every epoch's parameters traced)."""
    return ["fit_until", "losses", "m", xs, ys, CHUNK, most, lr, goal, True, STILL]


TOY_SIZES = [3, 4, 4, 1]


def toy_model(seed: int) -> list[list[Any]]:
    """MLP(3, [4, 4, 1]) after random.seed(seed), its parameters read as ``n0``."""
    return [["seed", seed], ["new", "m", "MLP", 3, [4, 4, 1]], ["net", "n0", "m"]]


@check("train.datasets", diagnoses="one-hot-wrong")
def datasets(ctx: Context) -> None:
    run = ctx.run_steps(
        [
            ["call", "h", "train:one_hot", {"num": 2}, {"num": 5}],
            ["read_plain", "h"],
            ["call", "d", "train:tense_dataset"],
            ["read_plain", "d"],
        ]
    )
    if run.reads["h"] != [0.0, 0.0, 1.0, 0.0, 0.0]:
        raise Fail(
            _("{call} is wrong").format(call="one_hot(2, 5)"),
            expected="[0.0, 0.0, 1.0, 0.0, 0.0]",
            got=str(run.reads["h"]),
        )
    dataset = run.reads["d"]
    ok = isinstance(dataset, list) and len(dataset) == 2
    if ok:
        xs, ys = dataset
        ok = all(_one_hots(rows) for rows in (xs, ys)) and len(xs) == len(ys) == 5
    if not ok:
        raise Fail(
            _(
                "tense_dataset() must return (xs, ys): five distinct one-hot inputs and "
                "five distinct one-hot targets"
            ),
            expected=_("two lists of five one-hot rows of length 5"),
            got=str(dataset)[:300],
        )


def _tense_rows(rows: Any) -> bool:
    """Five distinct rows of five numbers, each 0.0 or 1.0 (the tense task's inputs or
    targets, one-hot or not: the losses are checked on the data fit)."""
    return (
        isinstance(rows, list)
        and len(rows) == 5
        and all(isinstance(r, list) and len(r) == 5 for r in rows)
        and all(v in (0.0, 1.0) for r in rows for v in r)
        and len({tuple(r) for r in rows}) == 5
    )


def _one_hots(rows: Any) -> bool:
    if not isinstance(rows, list) or len(rows) != 5:
        return False
    hots = [r.index(1.0) for r in rows if isinstance(r, list) and sorted(r) == [0.0] * 4 + [1.0]]
    return len(hots) == 5 and len(set(hots)) == 5


def keep_curve(
    ctx: Context,
    cid: str,
    run: Run,
    losses: list[float],
    xs: Any,
    ys: Any,
    lr: float,
    sizes: list[int],
    goal: float,
    epochs: int,
) -> None:
    """Keep, for the report of check ``cid``, the first seed's losses of the student's fit
    and the losses a correct SGD gives from the same starting parameters (the grader's
    own arithmetic), with the goal: the loss curve the HTML report draws."""
    start = run.reads.get("n0")
    try:  # the starting parameters are the student's process's report: any shape
        correct = proof.correct_curve(start, xs, ys, lr, sizes, epochs, goal) if start else None
    except (ArithmeticError, ValueError, TypeError, KeyError, IndexError):
        correct = None  # the picture shows the student's run alone
    ctx.cache.setdefault("curves", {})[cid] = {
        "seed": SEEDS[0],
        "goal": goal,
        "losses": [round(v, 6) for v in losses[: proof.CURVE_POINTS]],
        "correct": None if correct is None else [round(v, 6) for v in correct],
    }


def _losses(run_reads: Any, what: str) -> list[float]:
    if not isinstance(run_reads, list) or not all(isinstance(x, float) for x in run_reads):
        raise Fail(
            _("{what} must return a list of float losses").format(what=what),
            got=str(run_reads)[:200],
        )
    return run_reads


def _network(obs: Observed, facts: Facts) -> str | None:
    """A network that does not train under the grader's own loop: said when its
    activation is not the lab's (the engine is then not to blame)."""
    return None if facts.activation is None else activation_mistake(facts.activation)


@check(
    "train.engine_sgd",
    depends=NETWORK,
    diagnoses=_network,
    rests_on=TRAINING_RESTS_ON,
    uses=GRADIENT_CHECKS,
)
def engine_sgd(ctx: Context) -> None:
    def steps(seed: int) -> list[list[Any]]:
        sgd = ["sgd", "losses", "m", data(TOY_XS), data(TOY_YS), TOY_EPOCHS, TOY_LR, TOY_GOAL]
        return [*toy_model(seed), [*sgd, True, STILL]]

    def verify(run: Run) -> None:
        proof.check_sgd(ctx, run, TOY_XS, TOY_YS, TOY_LR, TOY_SIZES)

    missed = _train_seeds(ctx, steps, TOY_GOAL, 60.0, _("the grader's loop"), verify)
    if missed:
        raise Fail(
            _("the grader's own SGD loop on your engine does not fit the toy set"),
            expected=_(
                "loss < {goal} after {epochs} steps at lr {lr}, for {most} of {seeds} seeds"
            ).format(goal=TOY_GOAL, epochs=TOY_EPOCHS, lr=TOY_LR, most=MOST, seeds=len(SEEDS)),
            got="; ".join(missed),
        )


@check(
    "train.fit_toy",
    depends=NETWORK,
    diagnoses=training_mistake,
    rests_on=TRAINING_RESTS_ON,
    uses=GRADIENT_CHECKS,
)
def fit_toy(ctx: Context) -> None:
    def steps(seed: int) -> list[list[Any]]:
        fit = fit_until(data(TOY_XS), data(TOY_YS), TOY_EPOCHS, TOY_LR, TOY_GOAL)
        return [*toy_model(seed), fit]

    def verify(run: Run) -> None:
        proof.check_fit(ctx, run, TOY_XS, TOY_YS, TOY_LR, TOY_SIZES)

    def curve(run: Run, losses: list[float]) -> None:
        toy = (TOY_XS, TOY_YS, TOY_LR, TOY_SIZES, TOY_GOAL, TOY_EPOCHS)
        keep_curve(ctx, "train.fit_toy", run, losses, *toy)

    missed = _train_seeds(ctx, steps, TOY_GOAL, 60.0, "fit", verify, curve)
    if missed:
        raise Fail(
            _(
                "fit(MLP(3, [4, 4, 1]), toy data, {epochs}, {lr}) does not bring the loss near 0"
            ).format(epochs=TOY_EPOCHS, lr=TOY_LR),
            expected=_(
                "a loss < {goal} within {epochs} epochs, for {most} of {seeds} seeds"
            ).format(goal=TOY_GOAL, epochs=TOY_EPOCHS, most=MOST, seeds=len(SEEDS)),
            got="; ".join(missed),
        )


@check(
    "train.fit_matches_sgd",
    depends=["train.engine_sgd"],
    diagnoses=training_mistake,
    rests_on=TRAINING_RESTS_ON,
    uses=GRADIENT_CHECKS,
)
def fit_matches_sgd(ctx: Context) -> None:
    epochs = 20
    fitted = ctx.run_steps(
        [
            *toy_model(7),
            fit_toy_step(epochs),
            ["read_plain", "losses"],
        ],
        timeout=60.0,
    )
    ours = ctx.run_steps(
        [
            *toy_model(7),
            ["sgd", "losses", "m", data(TOY_XS), data(TOY_YS), epochs, TOY_LR, None, True],
        ],
        timeout=60.0,
    )
    got = _losses(fitted.reads["losses"], "fit")
    want: list[float] = ours.reads["losses"]
    if len(got) != len(want) or not all(close(w, g, 1e-6) for w, g in zip(want, got, strict=True)):

        def at(losses: list[float], i: int) -> str:
            return fmt(losses[i]) if i < len(losses) else "-"

        first = next(
            (i for i, (w, g) in enumerate(zip(want, got, strict=False)) if not close(w, g, 1e-6)),
            min(len(want), len(got)),
        )
        raise Fail(
            _("fit's losses differ from forward / zero_grad / backward / step on the same model"),
            expected=_("{n} losses; epoch {t}: {loss}").format(
                n=len(want), t=first, loss=at(want, first)
            ),
            got=_("{n} losses; epoch {t}: {loss}").format(n=len(got), t=first, loss=at(got, first)),
            observed={"want_losses": want[:5], "got_losses": got[:5]},
        )
    # Equal to the grader's loop, whose run is checked step by step on the same network.
    mine, theirs = (proof.own(r, TOY_SIZES, "n0").data for r in (ours, fitted))
    proof.same_values(
        _(
            "the starting parameters of the two runs differ from the network's own parameters "
            "read in the same run"
        ),
        mine,
        theirs,
    )
    proof.check_sgd(ctx, ours, TOY_XS, TOY_YS, TOY_LR, TOY_SIZES)


@check(
    "train.fit_tense",
    depends=[*NETWORK, "train.datasets"],
    diagnoses=training_mistake,
    rests_on=TRAINING_RESTS_ON,
    uses=GRADIENT_CHECKS,
)
def fit_tense(ctx: Context) -> None:
    def steps(seed: int) -> list[list[Any]]:
        return [
            ["seed", seed],
            ["new", "m", "MLP", 5, [8, 5]],
            ["net", "n0", "m"],
            ["call", "d", "train:tense_dataset"],
            ["index", "xs", "d", 0],
            ["index", "ys", "d", 1],
            fit_until("xs", "ys", TENSE_EPOCHS, TENSE_LR, TENSE_GOAL),
        ]

    def verify(run: Run) -> None:
        traced = run.reads["losses#trace"]
        xs, ys = traced.get("xs"), traced.get("ys")
        if not (_tense_rows(xs) and _tense_rows(ys)):
            raise proof.Unverified(
                _(
                    "the grader cannot check the tense-identity losses: the data fit is not "
                    "five distinct rows of five 0.0 or 1.0 inputs and targets"
                ),
                got=f"xs = {str(xs)[:100]}, ys = {str(ys)[:100]}",
            )
        proof.check_fit(ctx, run, xs, ys, TENSE_LR, [5, 8, 5])

    def curve(run: Run, losses: list[float]) -> None:
        traced = run.reads.get("losses#trace") or {}
        xs, ys = traced.get("xs"), traced.get("ys")
        if _tense_rows(xs) and _tense_rows(ys):
            tense = (TENSE_LR, [5, 8, 5], TENSE_GOAL, TENSE_EPOCHS)
            keep_curve(ctx, "train.fit_tense", run, losses, xs, ys, *tense)

    missed = _train_seeds(ctx, steps, TENSE_GOAL, 120.0, "fit", verify, curve)
    if missed:
        raise Fail(
            _("the tense-identity loss stays above {goal}").format(goal=TENSE_GOAL),
            expected=_(
                "loss < {goal} within {epochs} epochs at lr {lr}, for {most} of {seeds} seeds"
            ).format(
                goal=TENSE_GOAL, epochs=TENSE_EPOCHS, lr=TENSE_LR, most=MOST, seeds=len(SEEDS)
            ),
            got="; ".join(missed),
        )
