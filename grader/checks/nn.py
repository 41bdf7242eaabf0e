"""Lab 3: Neuron, Layer and MLP built on the student's Value."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from grader.checks.base import Context, Fail, NotRun, check
from grader.program import close, fmt

# Only true roots: a wrong gradient in an op does not stop a network from being built,
# and checks that depend on it fail (or pass) on their own merits. A network whose
# output is a one-element list is judged once (nn.build, nn.layer_single); the other
# checks take the element, so the slip is not charged again in every check.
BUILT = ["nn.build"]
X = [2.0, 3.0, -1.0]


def nums(xs: list[float]) -> list[dict[str, float]]:
    return [{"num": x} for x in xs]


def mlp_steps(seed: int = 1, nin: int = 3, nouts: tuple[int, ...] = (4, 4, 1)) -> list[list[Any]]:
    return [["seed", seed], ["new", "m", "MLP", nin, list(nouts)]]


@check("nn.build")
def build(ctx: Context) -> None:
    run = ctx.run_steps([*mlp_steps(), ["call", "out", "m", nums(X)], ["read", "out"]])
    kind = run.reads["out"].get("kind")
    if kind == "list":
        count = len(run.reads["out"].get("items", []))
        raise Fail(
            "MLP(3, [4, 4, 1]) must return one Value, not a list",
            expected="a Value",
            got=f"a list of {count}",
            counterexample=run.python(),
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


BIAS_SHIFT = 0.5


@check("nn.bias_included", depends=BUILT)
def bias_included(ctx: Context) -> None:
    # With an all-zero input the weights cannot move the output: only the bias can.
    # Raising each parameter in turn by 0.5 must therefore change the output for one
    # of them, whatever the activation (tanh, or ReLU with a bias that starts at 0).
    steps = [["seed", 3], ["new", "n", "Neuron", 3]]
    run = ctx.run_steps([*steps, ["param_effect", "e", "n", nums([0.0, 0.0, 0.0]), BIAS_SHIFT]])
    *moved, base = run.reads["e"]
    if not any(not close(out, base, 1e-12) for out in moved):
        raise Fail(
            "with input [0, 0, 0] only the bias can move a neuron's output, "
            "and moving each parameter changes nothing",
            expected="the bias among Neuron(3).parameters()",
            got=f"{len(moved)} parameters; the output stays {fmt(base)} whichever moves",
            counterexample=run.python(),
        )


@check("nn.zero_grad", depends=[*BUILT, "graph.backward_runs"])
def zero_grad(ctx: Context) -> None:
    run = ctx.run_steps(
        [
            *mlp_steps(),
            ["call", "out", "m", nums(X)],
            ["unwrap", "out"],
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


@check("nn.layer_single")
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
            ["layer_weights", "lw", "m"],
            ["call", "out", "m", nums(X)],
            ["unwrap", "out"],
            ["read", "out"],
        ]
    )
    sizes = [3, 4, 4, 1]
    by_name = run.reads["lw"]  # None where the network does not use the lab's names
    plain = isinstance(by_name, list) and all(type(x) is float for x in by_name)
    weights: list[float] = by_name if plain and by_name else run.reads["w"]
    if len(weights) != sum((a + 1) * b for a, b in itertools.pairwise(sizes)):
        raise NotRun(
            "not run: the forward pass cannot be recomputed from a parameter list of the "
            "wrong length (see nn.param_count)"
        )
    want = chain(weights, sizes, math.tanh)
    got, _ = run.pair("out")
    if not close(want, got):
        others = {name: chain(weights, sizes, *acts) for name, acts in ACTIVATIONS.items()}
        raise Fail(
            "the MLP output differs from tanh(w.x + b) chained through its own parameters",
            expected=f"output = {fmt(want)}",
            got=f"output = {fmt(got)}",
            counterexample=run.python(),
            observed={
                "got": got,
                "matches": next((k for k, v in others.items() if close(v, got)), None),
            },
        )


def relu(v: float) -> float:
    return max(0.0, v)


def linear(v: float) -> float:
    return v


# Other activations seen in student networks: (hidden layers, last layer).
ACTIVATIONS: dict[str, tuple[Callable[[float], float], Callable[[float], float]]] = {
    "linear": (linear, linear),
    "relu": (relu, relu),
    "relu-linear-output": (relu, linear),
    "tanh-linear-output": (math.tanh, linear),
}


def chain(
    weights: list[float],
    sizes: list[int],
    act: Callable[[float], float],
    last: Callable[[float], float] | None = None,
) -> float:
    """The MLP output computed from its parameter list, with activation ``act`` (and
    ``last`` on the output layer, when it differs)."""
    acts = X
    i = 0
    pairs = list(itertools.pairwise(sizes))
    for layer, (nin, nout) in enumerate(pairs):
        f = last if last is not None and layer == len(pairs) - 1 else act
        nxt = []
        for _ in range(nout):
            w, b = weights[i : i + nin], weights[i + nin]
            i += nin + 1
            nxt.append(f(sum(wi * xi for wi, xi in zip(w, acts, strict=True)) + b))
        acts = nxt
    return acts[0]
