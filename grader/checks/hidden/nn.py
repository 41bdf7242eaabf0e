"""Lab 3, shown after the due date: the MLP's forward pass recomputed from its weights."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

from grader.checks.base import Context, Fail, NotRun, check
from grader.checks.nn import BUILT, NETWORK_OPS, X, mlp_proof, mlp_steps, nums
from grader.checks.proof import GRADIENT_CHECKS
from grader.classic import Facts, Observed, activation_mistake
from grader.i18n import _
from grader.program import close, fmt


def _activation(obs: Observed, facts: Facts) -> str | None:
    """The activation the output matched instead of tanh, as a mistake."""
    matches = obs.get("matches")
    return activation_mistake(matches) if matches in ACTIVATIONS else None


@check(
    "nn.forward",
    depends=BUILT,
    diagnoses=_activation,
    rests_on=NETWORK_OPS,
    uses=GRADIENT_CHECKS,
)
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
            _(
                "not run: the forward pass cannot be recomputed from a parameter list of the "
                "wrong length (see nn.param_count)"
            )
        )
    want = chain(weights, sizes, math.tanh)
    got, _grad = run.pair("out")
    if not close(want, got):
        others = {name: chain(weights, sizes, *acts) for name, acts in ACTIVATIONS.items()}
        raise Fail(
            _("the MLP output differs from tanh(w.x + b) chained through its own parameters"),
            expected=_("output = {value}").format(value=fmt(want)),
            got=_("output = {value}").format(value=fmt(got)),
            counterexample=run.python(),
            observed={
                "got": got,
                "matches": next((k for k, v in others.items() if close(v, got)), None),
            },
        )
    mlp_proof(ctx)  # and the network's gradients are its own too


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
        for _neuron in range(nout):
            w, b = weights[i : i + nin], weights[i + nin]
            i += nin + 1
            nxt.append(f(sum(wi * xi for wi, xi in zip(w, acts, strict=True)) + b))
        acts = nxt
    return acts[0]
