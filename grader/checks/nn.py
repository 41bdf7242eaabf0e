"""Lab 3: Neuron, Layer and MLP built on the student's Value."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from grader.checks.base import Context, Fail, check
from grader.program import close, fmt

# Only true roots: a wrong gradient in an op does not stop a network from being built,
# and checks that depend on it fail (or pass) on their own merits.
ENGINE = ["ops.construct"]
BUILT = ["nn.build"]
X = [2.0, 3.0, -1.0]


def nums(xs: list[float]) -> list[dict[str, float]]:
    return [{"num": x} for x in xs]


def mlp_steps(seed: int = 1, nin: int = 3, nouts: tuple[int, ...] = (4, 4, 1)) -> list[list[Any]]:
    return [["seed", seed], ["new", "m", "MLP", nin, list(nouts)]]


@check("nn.build", depends=ENGINE)
def build(ctx: Context) -> None:
    run = ctx.run_steps([*mlp_steps(), ["call", "out", "m", nums(X)], ["read", "out"]])
    kind = run.reads["out"].get("kind")
    if kind == "list":
        count = len(run.reads["out"].get("items", []))
        raise Fail(
            "MLP(3, [4, 4, 1]) must return one Value, not a list",
            expected="a Value",
            got=f"a list of {count}",
            observed={"list_of": count},
        )
    run.pair("out")


@check("nn.param_count", depends=BUILT)
def param_count(ctx: Context) -> None:
    cases: list[tuple[str, list[Any], int]] = [
        ("Neuron", [3], 4),
        ("Layer", [3, 4], 16),
        ("MLP", [3, [4, 4, 1]], 41),
    ]
    for cls, args, want in cases:
        run = ctx.run_steps(
            [
                ["seed", 1],
                ["new", "m", cls, *args],
                ["method", "ps", "m", "parameters"],
                ["length", "n", "ps"],
            ]
        )
        if run.reads["n"] != want:
            shown = ", ".join(map(str, args))
            raise Fail(
                f"{cls}({shown}).parameters() has the wrong length",
                expected=f"{want} parameters",
                got=f"{run.reads['n']} parameters",
                observed={"class": cls, "count": run.reads["n"], "want": want},
            )


@check("nn.distinct_params", depends=BUILT)
def distinct_params(ctx: Context) -> None:
    run = ctx.run_steps(
        [
            *mlp_steps(),
            ["method", "ps", "m", "parameters"],
            ["length", "n", "ps"],
            ["count_distinct", "k", "ps"],
        ]
    )
    if run.reads["k"] != run.reads["n"]:
        raise Fail(
            "some parameters are the same object listed more than once",
            expected=f"{run.reads['n']} distinct objects",
            got=f"{run.reads['k']} distinct objects",
        )


@check("nn.bias_included", depends=[*BUILT, "graph.backward_runs"])
def bias_included(ctx: Context) -> None:
    # With an all-zero input only the bias gets a gradient; it must be a parameter.
    run = ctx.run_steps(
        [
            ["seed", 3],
            ["new", "n", "Neuron", 3],
            ["call", "out", "n", nums([0.0, 0.0, 0.0])],
            ["backward", "out"],
            ["method", "ps", "n", "parameters"],
            ["params_grad", "g", "ps"],
        ]
    )
    grads: list[float] = run.reads["g"]
    if not any(g != 0.0 for g in grads):
        raise Fail(
            "with input [0, 0, 0] only the bias has a gradient, and no parameter has one",
            expected="the bias among Neuron(3).parameters()",
            got=f"parameter grads {[fmt(g) for g in grads]}",
        )


@check("nn.zero_grad", depends=[*BUILT, "graph.backward_runs"])
def zero_grad(ctx: Context) -> None:
    run = ctx.run_steps(
        [
            *mlp_steps(),
            ["call", "out", "m", nums(X)],
            ["backward", "out"],
            ["method", "ps", "m", "parameters"],
            ["params_grad", "before", "ps"],
            ["method", "_", "m", "zero_grad"],
            ["params_grad", "after", "ps"],
        ]
    )
    before: list[float] = run.reads["before"]
    after: list[float] = run.reads["after"]
    if not any(before):
        raise Fail("backward() through the MLP left every parameter gradient at 0")
    if any(after):
        raise Fail(
            "after zero_grad() some parameters still have a gradient",
            expected="every parameter grad = 0.0",
            got=f"{sum(g != 0.0 for g in after)} of {len(after)} parameters have grad != 0",
        )


@check("nn.layer_single", depends=ENGINE)
def layer_single(ctx: Context) -> None:
    for nout, want in ((1, "a Value"), (2, "a list of 2 Values")):
        run = ctx.run_steps(
            [
                ["seed", 1],
                ["new", "l", "Layer", 3, nout],
                ["call", "out", "l", nums(X)],
                ["read", "out"],
            ]
        )
        out = run.reads["out"]
        got = f"a list of {len(out['items'])} Values" if out.get("kind") == "list" else "a Value"
        if got != want:
            raise Fail(
                f"Layer(3, {nout}) returns the wrong kind of result",
                expected=want,
                got=got,
                observed={"nout": nout, "kind": out.get("kind")},
            )


@check("nn.weights_random", depends=BUILT)
def weights_random(ctx: Context) -> None:
    run = ctx.run_steps(
        [*mlp_steps(), ["method", "ps", "m", "parameters"], ["params_data", "w", "ps"]]
    )
    weights: list[float] = run.reads["w"]
    outside = [w for w in weights if not -1.0 <= w <= 1.0]
    if outside or len(set(weights)) < len(weights) // 2:
        observed = {"distinct": len(set(weights)), "count": len(weights)}
        raise Fail(
            "weights must start as different random numbers in [-1, 1]",
            expected="random.uniform(-1, 1) for every weight and bias",
            got=f"{len(set(weights))} different values among {len(weights)}"
            + (f", {len(outside)} outside [-1, 1]" if outside else ""),
            observed=observed,
        )


@check("nn.forward", depends=BUILT)
def forward(ctx: Context) -> None:
    run = ctx.run_steps(
        [
            *mlp_steps(),
            ["method", "ps", "m", "parameters"],
            ["params_data", "w", "ps"],
            ["call", "out", "m", nums(X)],
            ["read", "out"],
        ]
    )
    weights: list[float] = run.reads["w"]
    sizes = [3, 4, 4, 1]
    if len(weights) != sum((a + 1) * b for a, b in itertools.pairwise(sizes)):
        raise Fail("cannot recompute the forward pass: wrong number of parameters")
    want = chain(weights, sizes, math.tanh)
    got, _ = run.pair("out")
    if not close(want, got):
        raise Fail(
            "the MLP output differs from tanh(w.x + b) chained through its own parameters",
            expected=f"output = {fmt(want)}",
            got=f"output = {fmt(got)}",
            observed={"got": got, "linear": chain(weights, sizes, lambda v: v)},
        )


def chain(weights: list[float], sizes: list[int], act: Callable[[float], float]) -> float:
    """The MLP output computed from its parameter list, with activation ``act``."""
    acts = X
    i = 0
    for nin, nout in itertools.pairwise(sizes):
        nxt = []
        for _ in range(nout):
            w, b = weights[i : i + nin], weights[i + nin]
            i += nin + 1
            nxt.append(act(sum(wi * xi for wi, xi in zip(w, acts, strict=True)) + b))
        acts = nxt
    return acts[0]
