"""Lab 4: training. The student's fit, and the grader's own SGD loop on the student's
engine, so a broken fit is told apart from a broken engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grader.checks.base import Context, Fail, check
from grader.diagnose import Facts, Observed, activation_mistake, training_mistake
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
) -> list[str]:
    """Train on each seed (its program reads ``losses``) until the verdict is settled;
    the seeds that missed the goal when too many did, else nothing."""
    missed: list[str] = []
    for tried, seed in enumerate(SEEDS):
        if _decided(tried, missed):
            break
        losses = _losses(ctx.run_steps(steps(seed), timeout=timeout).reads["losses"], what)
        if not losses or not losses[-1] < goal:
            shown = f"{fmt(losses[0])} -> {fmt(losses[-1])}" if losses else "no loss"
            missed.append(f"seed {seed}: loss {shown} after {len(losses)} epochs")
    return missed if len(SEEDS) - len(missed) < MOST else []


def _decided(tried: int, missed: list[str]) -> bool:
    """Whether the seeds tried so far settle the verdict, so the rest are skipped:
    MOST of them reached the goal, or too many missed it for MOST to be reached."""
    return tried - len(missed) >= MOST or len(missed) > len(SEEDS) - MOST


TOY_EPOCHS, TOY_LR, TOY_GOAL = 100, 0.05, 0.1
TENSE_EPOCHS, TENSE_LR, TENSE_GOAL = 300, 0.05, 0.5
# fit keeps no state beyond the model, so CHUNK-epoch calls equal one long call; they
# let a check stop as soon as the loss is below its goal instead of running every epoch.
CHUNK = 10
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
    """``losses`` = the student's fit on model m, CHUNK epochs at a time, until < goal."""
    return ["fit_until", "losses", "m", xs, ys, CHUNK, most, lr, goal]


def toy_model(seed: int) -> list[list[Any]]:
    return [["seed", seed], ["new", "m", "MLP", 3, [4, 4, 1]]]


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
            "one_hot(2, 5) is wrong", expected="[0.0, 0.0, 1.0, 0.0, 0.0]", got=str(run.reads["h"])
        )
    dataset = run.reads["d"]
    ok = isinstance(dataset, list) and len(dataset) == 2
    if ok:
        xs, ys = dataset
        ok = all(_one_hots(rows) for rows in (xs, ys)) and len(xs) == len(ys) == 5
    if not ok:
        raise Fail(
            "tense_dataset() must return (xs, ys): five distinct one-hot inputs and "
            "five distinct one-hot targets",
            expected="two lists of five one-hot rows of length 5",
            got=str(dataset)[:300],
        )


def _one_hots(rows: Any) -> bool:
    if not isinstance(rows, list) or len(rows) != 5:
        return False
    hots = [r.index(1.0) for r in rows if isinstance(r, list) and sorted(r) == [0.0] * 4 + [1.0]]
    return len(hots) == 5 and len(set(hots)) == 5


def _losses(run_reads: Any, what: str) -> list[float]:
    if not isinstance(run_reads, list) or not all(isinstance(x, float) for x in run_reads):
        raise Fail(f"{what} must return a list of float losses", got=str(run_reads)[:200])
    return run_reads


def _network(obs: Observed, facts: Facts) -> str | None:
    """A network that does not train under the grader's own loop: said when its
    activation is not the lab's (the engine is then not to blame)."""
    return None if facts.activation is None else activation_mistake(facts.activation)


@check("train.engine_sgd", depends=NETWORK, diagnoses=_network, rests_on=TRAINING_RESTS_ON)
def engine_sgd(ctx: Context) -> None:
    def steps(seed: int) -> list[list[Any]]:
        sgd = ["sgd", "losses", "m", data(TOY_XS), data(TOY_YS), TOY_EPOCHS, TOY_LR, TOY_GOAL]
        return [*toy_model(seed), sgd]

    missed = _train_seeds(ctx, steps, TOY_GOAL, 60.0, "the grader's loop")
    if missed:
        raise Fail(
            "the grader's own SGD loop on your engine does not fit the toy set",
            expected=f"loss < {TOY_GOAL} after {TOY_EPOCHS} steps at lr {TOY_LR}, "
            f"for {MOST} of {len(SEEDS)} seeds",
            got="; ".join(missed),
        )


@check("train.fit_toy", depends=NETWORK, diagnoses=training_mistake, rests_on=TRAINING_RESTS_ON)
def fit_toy(ctx: Context) -> None:
    def steps(seed: int) -> list[list[Any]]:
        fit = fit_until(data(TOY_XS), data(TOY_YS), TOY_EPOCHS, TOY_LR, TOY_GOAL)
        return [*toy_model(seed), fit]

    missed = _train_seeds(ctx, steps, TOY_GOAL, 60.0, "fit")
    if missed:
        raise Fail(
            f"fit(MLP(3, [4, 4, 1]), toy data, {TOY_EPOCHS}, {TOY_LR}) does not bring "
            "the loss near 0",
            expected=f"a loss < {TOY_GOAL} within {TOY_EPOCHS} epochs, "
            f"for {MOST} of {len(SEEDS)} seeds",
            got="; ".join(missed),
        )


@check(
    "train.fit_matches_sgd",
    depends=["train.engine_sgd"],
    diagnoses=training_mistake,
    rests_on=TRAINING_RESTS_ON,
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
        [*toy_model(7), ["sgd", "loss", "m", data(TOY_XS), data(TOY_YS), epochs, TOY_LR]],
        timeout=60.0,
    )
    got = _losses(fitted.reads["losses"], "fit")
    want: list[float] = ours.reads["loss"]
    if len(got) != len(want) or not all(close(w, g, 1e-6) for w, g in zip(want, got, strict=True)):

        def at(losses: list[float], i: int) -> str:
            return fmt(losses[i]) if i < len(losses) else "-"

        first = next(
            (i for i, (w, g) in enumerate(zip(want, got, strict=False)) if not close(w, g, 1e-6)),
            min(len(want), len(got)),
        )
        raise Fail(
            "fit's losses differ from forward / zero_grad / backward / step on the same model",
            expected=f"{len(want)} losses; epoch {first}: {at(want, first)}",
            got=f"{len(got)} losses; epoch {first}: {at(got, first)}",
            observed={"want_losses": want[:5], "got_losses": got[:5]},
        )


@check(
    "train.fit_tense",
    depends=[*NETWORK, "train.datasets"],
    diagnoses=training_mistake,
    rests_on=TRAINING_RESTS_ON,
)
def fit_tense(ctx: Context) -> None:
    def steps(seed: int) -> list[list[Any]]:
        return [
            ["seed", seed],
            ["new", "m", "MLP", 5, [8, 5]],
            ["call", "d", "train:tense_dataset"],
            ["index", "xs", "d", 0],
            ["index", "ys", "d", 1],
            fit_until("xs", "ys", TENSE_EPOCHS, TENSE_LR, TENSE_GOAL),
        ]

    missed = _train_seeds(ctx, steps, TENSE_GOAL, 120.0, "fit")
    if missed:
        raise Fail(
            f"the tense-identity loss stays above {TENSE_GOAL}",
            expected=f"loss < {TENSE_GOAL} within {TENSE_EPOCHS} epochs at lr {TENSE_LR}, "
            f"for {MOST} of {len(SEEDS)} seeds",
            got="; ".join(missed),
        )
