"""Lab 3: Neuron, Layer and MLP built on the student's Value."""

from __future__ import annotations

from typing import Any

from grader.checks import proof
from grader.checks.base import Context, Fail, NotRun, Run, check
from grader.checks.proof import GRADIENT_CHECKS, Proof, outs_of, prove
from grader.classic import Facts, Observed
from grader.i18n import N_, _
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


nums = proof.nums
SIZES = [3, 4, 4, 1]  # MLP(3, [4, 4, 1]): the network most checks build


def mlp_steps(seed: int = 1, nin: int = 3, nouts: tuple[int, ...] = (4, 4, 1)) -> list[list[Any]]:
    return [["seed", seed], ["new", "m", "MLP", nin, list(nouts)]]


def mlp_proof(ctx: Context) -> Proof:
    """MLP(3, [4, 4, 1]) after random.seed(1): its output and (strict) its gradients
    reproduced by the grader (a request of its own, once per submission)."""
    return prove(ctx, 1, "MLP", [3, [4, 4, 1]], X, SIZES)


def effect_steps(build: list[list[Any]], model: str, x: list[float]) -> list[list[Any]]:
    """``build``, then the model's output with each parameter moved in turn (``e``), and
    its parameters (``net``), for the grader to check the one against the other."""
    return [*build, ["param_effect", "e", model, nums(x), SHIFT], ["net", "net", model]]


def _build(obs: Observed, facts: Facts) -> str | None:
    return {4: "last-layer-dropped", 1: "layer-always-list"}.get(obs.get("list_of", 0))


@check("nn.build", diagnoses=_build, rests_on=NETWORK_OPS, uses=GRADIENT_CHECKS)
def build(ctx: Context) -> None:
    run = ctx.run_steps(
        [
            *mlp_steps(),
            ["call", "out", "m", nums(X)],
            ["read", "out"],
            ["call", "back", "m", nums(NEG_X)],
            ["read", "back"],
            ["net", "net", "m"],
        ]
    )
    kind = run.reads["out"].get("kind")
    if kind == "list":
        count = len(run.reads["out"].get("items", []))
        raise Fail(
            _("{call} must return one Value, not a list").format(call="MLP(3, [4, 4, 1])"),
            expected=_("a Value"),
            got=_("a list of {n}").format(n=count),
            counterexample=run.python(),
            observed={"list_of": count},
        )
    moved = _responds(ctx, run, effect_steps(mlp_steps(), "m", X))
    if moved is None:
        raise Fail(
            _(
                "{call} computes a constant: its output moves neither with its input nor "
                "with any of its parameters"
            ).format(call="MLP(3, [4, 4, 1])"),
            expected=_("an output that depends on x and on the weights"),
            got=_("{out} for {x} and for {neg_x}, and whichever parameter moves").format(
                out=f"out = {fmt(run.pair('out')[0])}", x=f"x = {X}", neg_x=f"x = {NEG_X}"
            ),
            counterexample=run.python(),
        )
    # The numbers are the network's own: its outputs (and the moved ones, when they
    # told it from a constant) from its parameters, its gradients from another build.
    cases = [(X, outs_of(run.reads["out"])), (NEG_X, outs_of(run.reads["back"]))]
    proof.explained(proof.own(run, SIZES), cases, run)
    if isinstance(moved, Run):
        proof.effects_hold(moved, X, SIZES, SHIFT)
    mlp_proof(ctx)


def _responds(ctx: Context, run: Run, effect: list[list[Any]] | None) -> Run | bool | None:
    """Whether the network's outputs ``out`` (for X) and ``back`` (for -X) differ
    (False: no more to check), or, when they do not, moving one of its parameters (the
    ``effect`` program) moves the output (that program's run, whose numbers the grader
    then checks): a network that computes a constant (None) earns nothing for its
    shape."""
    for one, two in zip(outs_of(run.reads["out"]), outs_of(run.reads["back"]), strict=False):
        if not close(one, two, 1e-12):
            return False
    if effect is None:
        return None
    moved = ctx.run_steps(effect)
    *others, base = moved.reads["e"]
    return moved if any(not close(out, base, 1e-12) for out in others) else None


PARAM_COUNTS: dict[tuple[object, object], str] = {
    ("Neuron", 3): "bias-missing",
    ("MLP", 36): "last-layer-dropped",
}


def _param_count(obs: Observed, facts: Facts) -> str | None:
    return PARAM_COUNTS.get((obs.get("class"), obs.get("count")))


@check("nn.param_count", depends=BUILT, diagnoses=_param_count, uses=GRADIENT_CHECKS)
def param_count(ctx: Context) -> None:
    cases: list[tuple[str, list[Any], int, list[int]]] = [
        ("Neuron", [3], 4, [3, 1]),
        ("Layer", [3, 4], 16, [3, 4]),
        ("MLP", [3, [4, 4, 1]], 41, SIZES),
    ]
    for cls, args, want, sizes in cases:
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
                _("{call} has the wrong length").format(call=f"{cls}({shown}).parameters()"),
                expected=_("{n} parameters").format(n=want),
                got=_("{n} parameters").format(n=run.reads["n"]),
                observed={"class": cls, "count": run.reads["n"], "want": want},
            )
        # The count of a real network's parameter objects, not a number reported.
        network = prove(ctx, 1, cls, args, X, sizes)
        proof.same_count(f"{cls}(...).parameters()", len(network.layout.listed or []), want)


EMPTY = N_("not run: parameters() is empty, so there is nothing to judge (see nn.param_count)")


@check("nn.distinct_params", depends=BUILT, diagnoses="repeated-neuron", uses=GRADIENT_CHECKS)
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
        raise NotRun(_(EMPTY), blocked_by="nn.param_count")
    n, k = run.reads["n"], run.reads["k"]
    if k == n:  # the student's process says so: the grader counts for itself
        listed = mlp_proof(ctx).layout.listed or []
        proof.same_count("MLP(3, [4, 4, 1]).parameters()", len(listed), n)
        k = len(set(listed))
    if k != n:
        raise Fail(
            _("some parameters are the same object listed more than once"),
            expected=_("{n} distinct objects").format(n=n),
            got=_("{n} distinct objects").format(n=k),
        )


def _bias(obs: Observed, facts: Facts) -> str | None:
    """The bias is missing only where the weights do move the output (on a non-zero
    input): a neuron that computes a constant has another problem."""
    return "bias-missing" if obs.get("weights_move") else None


@check(
    "nn.bias_included",
    depends=BUILT,
    diagnoses=_bias,
    rests_on=NETWORK_OPS,
    uses=GRADIENT_CHECKS,
)
def bias_included(ctx: Context) -> None:
    # With an all-zero input the weights cannot move the output: only the bias can.
    # Raising each parameter in turn by 0.5 must therefore change the output for one
    # of them, whatever the activation (tanh, or ReLU with a bias that starts at 0).
    steps = [["seed", 3], ["new", "n", "Neuron", 3]]
    run = ctx.run_steps(effect_steps(steps, "n", [0.0, 0.0, 0.0]))
    *moved, base = run.reads["e"]
    if not any(not close(out, base, 1e-12) for out in moved):
        *on_x, at_x = ctx.run_steps([*steps, ["param_effect", "e", "n", nums(X), SHIFT]]).reads["e"]
        raise Fail(
            _(
                "with input {x} only the bias can move a neuron's output, and moving each "
                "parameter changes nothing"
            ).format(x="[0, 0, 0]"),
            expected=_("the bias among {call}").format(call="Neuron(3).parameters()"),
            got=_("{n} parameters; the output stays {out} whichever moves").format(
                n=len(moved), out=fmt(base)
            ),
            counterexample=run.python(),
            observed={"weights_move": any(not close(out, at_x, 1e-12) for out in on_x)},
        )
    proof.effects_hold(run, [0.0, 0.0, 0.0], [3, 1], SHIFT)
    prove(ctx, 3, "Neuron", [3], X, [3, 1])


@check(
    "nn.zero_grad",
    depends=[*BUILT, "graph.backward_runs"],
    diagnoses="zero-grad-noop",
    rests_on=NETWORK_OPS,
    uses=GRADIENT_CHECKS,
)
def zero_grad(ctx: Context) -> None:
    run = ctx.run_steps(
        [
            *mlp_steps(),
            ["call", "out", "m", nums(X)],
            ["unwrap", "out"],
            ["backward", "out"],
            ["read", "out"],
            ["net", "net", "m"],
            ["method", "ps", "m", "parameters"],
            ["params_grad", "before", "ps"],
            ["method", "_", "m", "zero_grad"],
            ["params_grad", "after", "ps"],
        ]
    )
    before: list[float] = run.reads["before"]
    after: list[float] = run.reads["after"]
    if not any(before):
        raise Fail(_("backward() through the MLP left every parameter gradient at 0"))
    if any(after):
        raise Fail(
            _("after zero_grad() some parameters still have a gradient"),
            expected=_("every parameter grad = 0.0"),
            got=_("{k} of {n} parameters have grad != 0").format(
                k=sum(g != 0.0 for g in after), n=len(after)
            ),
        )
    # The gradients it found are those backward() left: the network's output is its
    # parameters' own and (strict) so are their gradients.
    layout = proof.own(run, SIZES)
    proof.same_values(
        _("the gradients read differ from the network's own parameters read in the same run"),
        [layout.grad[i] for i in layout.listed or []],
        before,
    )
    act = proof.explained(layout, [(X, outs_of(run.reads["out"]))], run)
    if proof.strict(ctx):
        proof.gradients_hold(layout, act, X, run)


def _layer_single(obs: Observed, facts: Facts) -> str | None:
    return "layer-always-list" if obs.get("kind") == "list" else None


@check("nn.layer_single", diagnoses=_layer_single, rests_on=NETWORK_OPS, uses=GRADIENT_CHECKS)
def layer_single(ctx: Context) -> None:
    responds = False
    checked: list[tuple[int, Run, Run | bool | None]] = []
    for nout, want in ((1, None), (2, 2)):
        run = ctx.run_steps(
            [
                ["seed", 1],
                ["new", "l", "Layer", 3, nout],
                ["call", "out", "l", nums(X)],
                ["read", "out"],
                ["call", "back", "l", nums(NEG_X)],
                ["read", "back"],
                ["net", "net", "l"],
            ]
        )
        out = run.reads["out"]
        got = len(out["items"]) if out.get("kind") == "list" else None
        if got != want:
            raise Fail(
                _("{call} returns the wrong kind of result").format(call=f"Layer(3, {nout})"),
                expected=_kind(want),
                got=_kind(got),
                observed={"nout": nout, "kind": out.get("kind")},
            )
        moved = effect_steps([["seed", 1], ["new", "l", "Layer", 3, 1]], "l", X)
        effects = _responds(ctx, run, moved if nout == 1 and not responds else None)
        responds = responds or effects is not None
        checked.append((nout, run, effects))
    if not responds:
        raise Fail(
            _(
                "{one} and {two} compute constants: their outputs are the same for {x} and "
                "for {neg_x}, and whichever parameter moves"
            ).format(one="Layer(3, 1)", two="Layer(3, 2)", x=f"x = {X}", neg_x=f"x = {NEG_X}"),
            expected=_("outputs that depend on the input and the weights"),
            got=_("the same outputs"),
        )
    for nout, run, effects in checked:
        cases = [(X, outs_of(run.reads["out"])), (NEG_X, outs_of(run.reads["back"]))]
        proof.explained(proof.own(run, [3, nout]), cases, run)
        if isinstance(effects, Run):
            proof.effects_hold(effects, X, [3, 1], SHIFT)
        prove(ctx, 1, "Layer", [3, nout], X, [3, nout])


def _kind(items: int | None) -> str:
    """What a layer returned: a Value (None) or a list of ``items`` Values."""
    if items is None:
        return _("a Value")
    return _("a list of {n} Values").format(n=items)


def _weights_random(obs: Observed, facts: Facts) -> str | None:
    return "zero-init" if obs.get("distinct", 2) <= 1 else None


@check("nn.weights_random", depends=BUILT, diagnoses=_weights_random, uses=GRADIENT_CHECKS)
def weights_random(ctx: Context) -> None:
    run = ctx.run_steps(
        [
            *mlp_steps(),
            ["method", "ps", "m", "parameters"],
            ["params_data", "w", "ps"],
            ["net", "net", "m"],
        ]
    )
    weights: list[float] = run.reads["w"]
    if not weights:
        raise NotRun(_(EMPTY), blocked_by="nn.param_count")
    outside = [w for w in weights if not -1.0 <= w <= 1.0]
    if outside or len(set(weights)) < len(weights) // 2:
        observed = {"distinct": len(set(weights)), "count": len(weights)}
        raise Fail(
            _("weights must start as different random numbers in [-1, 1]"),
            expected=_("random.uniform(-1, 1) for every weight and bias"),
            got=(
                _("{k} different values among {n}, {out} outside [-1, 1]")
                if outside
                else _("{k} different values among {n}")
            ).format(k=len(set(weights)), n=len(weights), out=len(outside)),
            observed=observed,
        )
    # The weights of a network whose output and gradients the grader reproduces.
    layout = proof.own(run, SIZES)
    proof.same_values(
        _("the weights read differ from the network's own parameters read in the same run"),
        [layout.data[i] for i in layout.listed or []],
        weights,
    )
    mlp_proof(ctx)
