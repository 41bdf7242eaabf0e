"""Lab 3: Neuron, Layer and MLP built on the student's Value."""

from __future__ import annotations

from typing import Any

from grader.checks.base import Context, Fail, NotRun, Run, check
from grader.diagnose import Facts, Observed
from grader.program import close, fmt

# Only true roots: a wrong gradient in an op does not stop a network from being built,
# and checks that depend on it fail (or pass) on their own merits. A network whose
# output is a one-element list is judged once (nn.build, nn.layer_single); the other
# checks take the element, so the slip is not charged again in every check.
BUILT = ["nn.build"]
# The ops a network computes with: a network check failing with no diagnosis of its own
# is charged to the first of them that fails its own check.
NETWORK_OPS = ("ops.add", "ops.mul", "ops.tanh")
X = [2.0, 3.0, -1.0]
NEG_X = [-x for x in X]
SHIFT = 0.5  # how far a parameter moves to see whether the output follows


def nums(xs: list[float]) -> list[dict[str, float]]:
    return [{"num": x} for x in xs]


def mlp_steps(seed: int = 1, nin: int = 3, nouts: tuple[int, ...] = (4, 4, 1)) -> list[list[Any]]:
    return [["seed", seed], ["new", "m", "MLP", nin, list(nouts)]]


def _build(obs: Observed, facts: Facts) -> str | None:
    return {4: "last-layer-dropped", 1: "layer-always-list"}.get(obs.get("list_of", 0))


@check("nn.build", diagnoses=_build, rests_on=NETWORK_OPS)
def build(ctx: Context) -> None:
    run = ctx.run_steps(
        [
            *mlp_steps(),
            ["call", "out", "m", nums(X)],
            ["read", "out"],
            ["call", "back", "m", nums(NEG_X)],
            ["read", "back"],
        ]
    )
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
    if not _responds(ctx, run, [*mlp_steps(), ["param_effect", "e", "m", nums(X), SHIFT]]):
        raise Fail(
            "MLP(3, [4, 4, 1]) computes a constant: its output moves neither with its "
            "input nor with any of its parameters",
            expected="an output that depends on x and on the weights",
            got=f"out = {fmt(run.pair('out')[0])} for x = {X} and for x = {NEG_X}, "
            "and whichever parameter moves",
            counterexample=run.python(),
        )


def _responds(ctx: Context, run: Run, effect: list[list[Any]] | None) -> bool:
    """Whether the network's outputs ``out`` (for X) and ``back`` (for -X) differ, or,
    when they do not, moving one of its parameters (the ``effect`` program) moves the
    output: a network that computes a constant earns nothing for its shape."""
    first, second = run.reads["out"], run.reads["back"]
    items = [first] if first.get("kind") != "list" else first.get("items", [])
    others = [second] if second.get("kind") != "list" else second.get("items", [])
    for one, two in zip(items, others, strict=False):
        pair = isinstance(one, dict) and isinstance(two, dict)
        if pair and not close(float(one.get("data", 0.0)), float(two.get("data", 0.0)), 1e-12):
            return True
    if effect is None:
        return False
    *moved, base = ctx.run_steps(effect).reads["e"]
    return any(not close(out, base, 1e-12) for out in moved)


PARAM_COUNTS: dict[tuple[object, object], str] = {
    ("Neuron", 3): "bias-missing",
    ("MLP", 36): "last-layer-dropped",
}


def _param_count(obs: Observed, facts: Facts) -> str | None:
    return PARAM_COUNTS.get((obs.get("class"), obs.get("count")))


@check("nn.param_count", depends=BUILT, diagnoses=_param_count)
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


EMPTY = "not run: parameters() is empty, so there is nothing to judge (see nn.param_count)"


@check("nn.distinct_params", depends=BUILT, diagnoses="repeated-neuron")
def distinct_params(ctx: Context) -> None:
    run = ctx.run_steps(
        [
            *mlp_steps(),
            ["method", "ps", "m", "parameters"],
            ["length", "n", "ps"],
            ["count_distinct", "k", "ps"],
        ]
    )
    if not run.reads["n"]:
        raise NotRun(EMPTY, blocked_by="nn.param_count")
    if run.reads["k"] != run.reads["n"]:
        raise Fail(
            "some parameters are the same object listed more than once",
            expected=f"{run.reads['n']} distinct objects",
            got=f"{run.reads['k']} distinct objects",
        )


def _bias(obs: Observed, facts: Facts) -> str | None:
    """The bias is missing only where the weights do move the output (on a non-zero
    input): a neuron that computes a constant has another problem."""
    return "bias-missing" if obs.get("weights_move") else None


@check("nn.bias_included", depends=BUILT, diagnoses=_bias, rests_on=NETWORK_OPS)
def bias_included(ctx: Context) -> None:
    # With an all-zero input the weights cannot move the output: only the bias can.
    # Raising each parameter in turn by 0.5 must therefore change the output for one
    # of them, whatever the activation (tanh, or ReLU with a bias that starts at 0).
    steps = [["seed", 3], ["new", "n", "Neuron", 3]]
    run = ctx.run_steps([*steps, ["param_effect", "e", "n", nums([0.0, 0.0, 0.0]), SHIFT]])
    *moved, base = run.reads["e"]
    if not any(not close(out, base, 1e-12) for out in moved):
        *on_x, at_x = ctx.run_steps([*steps, ["param_effect", "e", "n", nums(X), SHIFT]]).reads["e"]
        raise Fail(
            "with input [0, 0, 0] only the bias can move a neuron's output, "
            "and moving each parameter changes nothing",
            expected="the bias among Neuron(3).parameters()",
            got=f"{len(moved)} parameters; the output stays {fmt(base)} whichever moves",
            counterexample=run.python(),
            observed={"weights_move": any(not close(out, at_x, 1e-12) for out in on_x)},
        )


@check(
    "nn.zero_grad",
    depends=[*BUILT, "graph.backward_runs"],
    diagnoses="zero-grad-noop",
    rests_on=NETWORK_OPS,
)
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


def _layer_single(obs: Observed, facts: Facts) -> str | None:
    return "layer-always-list" if obs.get("kind") == "list" else None


@check("nn.layer_single", diagnoses=_layer_single, rests_on=NETWORK_OPS)
def layer_single(ctx: Context) -> None:
    responds = False
    for nout, want in ((1, "a Value"), (2, "a list of 2 Values")):
        run = ctx.run_steps(
            [
                ["seed", 1],
                ["new", "l", "Layer", 3, nout],
                ["call", "out", "l", nums(X)],
                ["read", "out"],
                ["call", "back", "l", nums(NEG_X)],
                ["read", "back"],
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
        moved = [
            ["seed", 1],
            ["new", "l", "Layer", 3, 1],
            ["param_effect", "e", "l", nums(X), SHIFT],
        ]
        responds = responds or _responds(ctx, run, moved if nout == 1 else None)
    if not responds:
        raise Fail(
            "Layer(3, 1) and Layer(3, 2) compute constants: their outputs are the same "
            f"for x = {X} and for x = {NEG_X}, and whichever parameter moves",
            expected="outputs that depend on the input and the weights",
            got="the same outputs",
        )


def _weights_random(obs: Observed, facts: Facts) -> str | None:
    return "zero-init" if obs.get("distinct", 2) <= 1 else None


@check("nn.weights_random", depends=BUILT, diagnoses=_weights_random)
def weights_random(ctx: Context) -> None:
    run = ctx.run_steps(
        [*mlp_steps(), ["method", "ps", "m", "parameters"], ["params_data", "w", "ps"]]
    )
    weights: list[float] = run.reads["w"]
    if not weights:
        raise NotRun(EMPTY, blocked_by="nn.param_count")
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
