"""What each kind of step promises to read back, checked before any check sees a reply.

A reply comes from the student's process, whose code can replace the worker's
interpreter and send anything of the right outline (``grader.child.driver.vet`` checks
only the outline). So every value a program reads back is checked here against the
shape its step kind promises (a ``read`` step: a ``{"kind", "data", "grad"}`` object of
floats, or a list of such pairs; a ``length`` step: a count; ...), every value the
program asked for must be there unless the student's code raised before it, and no
value may come back that nobody asked for. A mismatch is the student's code breaking
the protocol: ``StudentFault``, a failed check that says what came back, never a
grader error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from grader.i18n import N_, _
from grader.sandbox import StudentFault

Shape = Callable[[Any], bool]


def _float(x: Any) -> bool:
    return type(x) is float


def _count(x: Any) -> bool:
    return type(x) is int and x >= 0


def _floats(x: Any) -> bool:
    return type(x) is list and all(type(v) is float for v in x)


def _text(x: Any) -> bool:
    return type(x) is str


def _pair(x: Any) -> bool:
    return type(x) is dict and _float(x.get("data")) and _float(x.get("grad"))


def _read(x: Any) -> bool:
    """A Value (its class name, data and grad) or a list of them."""
    if type(x) is not dict or not _text(x.get("kind")):
        return False
    if x["kind"] == "list":
        items = x.get("items")
        return type(items) is list and all(_pair(v) for v in items)
    return _pair(x)


def _node(x: Any) -> bool:
    return (
        type(x) is dict
        and _text(x.get("op"))
        and type(x.get("prev")) is list
        and all(type(p) is int for p in x["prev"])
        and (x.get("parents_attr") is None or _text(x.get("parents_attr")))
        and (x.get("parents_kind") is None or _text(x.get("parents_kind")))
        and type(x.get("id")) is int
        and _float(x.get("data"))
    )


def _graph(x: Any) -> bool:
    if type(x) is not list:
        return False
    for node in x:
        if not (
            type(node) is dict
            and (node.get("name") is None or _text(node.get("name")))
            and _text(node.get("op"))
            and _float(node.get("data"))
            and _float(node.get("grad"))
            and type(node.get("prev")) is list
            and all(type(p) is int and 0 <= p < len(x) for p in node["prev"])
        ):
            return False
    return True


def _plain(x: Any, depth: int = 0) -> bool:
    """Numbers, strings, None and lists of them (``grader.child.objects._plain``)."""
    if x is None or type(x) in (float, str):
        return True
    return type(x) is list and depth < 5 and all(_plain(v, depth + 1) for v in x)


def _eq(x: Any) -> bool:
    return type(x) in (bool, str)


def _optional_floats(x: Any) -> bool:
    return x is None or _floats(x)


def _effects(x: Any) -> bool:
    return _floats(x) and len(x) >= 1


def _net(x: Any) -> bool:
    """Parameter objects (data, grad) and where they sit: ``named`` layer -> neuron ->
    object indices, ``listed`` the indices ``parameters()`` returned."""
    if type(x) is not dict or not _floats(x.get("data")) or not _floats(x.get("grad")):
        return False
    n = len(x["data"])
    if len(x["grad"]) != n:
        return False

    def index(i: Any) -> bool:
        return type(i) is int and 0 <= i < n

    named, listed = x.get("named"), x.get("listed")
    if named is not None and not (
        type(named) is list
        and all(
            type(layer) is list
            and all(type(neuron) is list and all(index(i) for i in neuron) for neuron in layer)
            for layer in named
        )
    ):
        return False
    return listed is None or (type(listed) is list and all(index(i) for i in listed))


def _table(x: Any) -> bool:
    return type(x) is list and all(_floats(row) for row in x)


def _sgd_trace(x: Any) -> bool:
    return type(x) is dict and _table(x.get("data")) and _table(x.get("grad"))


def _fit_trace(x: Any) -> bool:
    return (
        type(x) is dict
        and _table(x.get("data"))
        and all(x.get(k) is None or _plain(x.get(k)) for k in ("xs", "ys"))
    )


SAYS: dict[Shape, str] = {
    _read: N_("a Value's data and grad (floats), or a list of them"),
    _node: N_("a node's op, parents, id and data"),
    _graph: N_("a list of nodes (op, data, grad, parents)"),
    _plain: N_("plain numbers, strings and lists"),
    _eq: N_("True, False or a type name"),
    _count: N_("a count"),
    _floats: N_("a list of floats"),
    _optional_floats: N_("a list of floats, or nothing"),
    _effects: N_("a list of outputs (floats)"),
    _net: N_("the network's parameters (data, grad) and where they sit"),
    _sgd_trace: N_("every epoch's parameters and gradients (floats)"),
    _fit_trace: N_("every epoch's parameters (floats) and the data fitted"),
    _text: N_("a string"),
}


def promised(step: Sequence[Any]) -> list[tuple[str, Shape]]:
    """The names a step writes into the reads, each with the shape it promises."""
    kind, args = step[0], list(step[1:])
    simple: dict[str, Shape] = {
        "read": _read,
        "read_plain": _plain,
        "layer_weights": _optional_floats,
        "param_effect": _effects,
        "count_distinct": _count,
        "length": _count,
        "params_data": _floats,
        "params_grad": _floats,
        "to_dot": _text,
        "net": _net,
    }
    if kind in simple:
        return [(args[0], simple[kind])]
    if kind == "read_node":
        return [(args[0] + "#node", _node)]
    if kind == "read_graph":
        return [(args[0] + "#graph", _graph)]
    if kind == "identity":
        return [(args[0], _eq), (args[1], _count)]
    if kind == "sgd":
        traced = len(args) > 7 and args[7] is True
        return [(args[0], _floats), *([(args[0] + "#trace", _sgd_trace)] if traced else [])]
    if kind == "fit_until":
        traced = len(args) > 8 and args[8] is True
        return [(args[0], _floats), *([(args[0] + "#trace", _fit_trace)] if traced else [])]
    return []


WRITERS = frozenset(
    {
        "read",
        "read_plain",
        "layer_weights",
        "param_effect",
        "count_distinct",
        "length",
        "params_data",
        "params_grad",
        "to_dot",
        "net",
        "read_node",
        "read_graph",
        "identity",
        "sgd",
        "fit_until",
    }
)  # the step kinds that read something back (``promised``)


def check_reads(
    steps: Sequence[Sequence[Any]], reads: dict[str, Any], error: dict[str, Any] | None
) -> None:
    """Raise ``StudentFault`` unless ``reads`` holds exactly what ``steps`` promise: each
    value in the shape of the last step that writes it, every one present unless the
    student's code raised at or before its step."""
    stopped = None if error is None else error.get("step")
    wanted: dict[str, tuple[int, str, Shape]] = {}
    for i, step in enumerate(steps):
        if step[0] in WRITERS:  # most steps of a long program read nothing back
            for name, shape in promised(step):
                wanted[name] = (i, str(step[0]), shape)
    for name in reads:
        if name not in wanted:
            raise StudentFault(
                _("your code sent back a value nobody asked for ({name})").format(
                    name=repr(name[:60])
                )
            )
    for name, (i, kind, shape) in wanted.items():
        if name not in reads:
            if error is not None and (stopped is None or stopped <= i):
                continue  # the student's code raised before it could read this
            raise StudentFault(_("your code sent back no value for {name}").format(name=repr(name)))
        if not shape(reads[name]):
            raise StudentFault(
                _(
                    "your code sent back {what} for {name}, where the grader's {step} step "
                    "reads {shape}"
                ).format(
                    what=_outline(reads[name]),
                    name=repr(name),
                    step=f"`{kind}`",
                    shape=_(SAYS[shape]),
                )
            )


def _outline(x: Any) -> str:
    """What a value is, in a few words (never the value itself, which may be huge)."""
    if type(x) is list:
        return _("a list of {n}").format(n=len(x))
    if type(x) is dict:
        return _("an object with {keys}").format(keys=", ".join(sorted(map(str, x))[:6]))
    return f"{type(x).__name__} {str(x)[:40]!r}"
