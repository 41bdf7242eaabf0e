"""How the program interpreter reads the student's objects (standard library only).

Plain values from what student code returns (``number``, ``_plain``), where a Value
keeps its parents and the walks of its graph (``learn``, ``parents``, ``nodes_under``,
``walk_order``), the set order of Values (``order_sets``) and a network's parameter
objects (``net_objects``). Used by ``interpreter.py`` in the student's process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_TEXT = 2000  # longest string (message, DOT text is separate) sent back
MAX_GRAPH = 20_000


def _text(value: object, limit: int = MAX_TEXT) -> str:
    try:
        text = str(value)
    except Exception:  # a hostile __str__
        text = f"<unprintable {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def number(x: object, what: str) -> float:
    """The true float value of ``x``; a float subclass cannot change what is reported."""
    if type(x) is bool:
        raise TypeError(f"{what} is a bool, not a number")
    if isinstance(x, float):
        return float.__float__(x)
    if isinstance(x, int):
        return float(int.__index__(x))
    raise TypeError(f"{what} is a {type(x).__name__}, not a float")


def _plain(x: object, what: str, depth: int = 0) -> Any:
    """Plain JSON data (numbers, strings, lists) from a student return value."""
    if depth > 4:
        raise TypeError(f"{what} is nested too deeply")
    if isinstance(x, (list, tuple)):
        return [_plain(v, f"{what}[{i}]", depth + 1) for i, v in enumerate(x)]
    if isinstance(x, str):
        return str.__str__(x)[:MAX_TEXT]
    if x is None:
        return None
    return number(x, what)


# Where a Value keeps its parents: whatever attribute holds the Values it was built
# from, found by identity (``learn``) the first time an op's result is seen, in any
# container (tuple, list, set, dict keys) and under any name. Until an op has taught
# it, the walk tries the names engines seen in the wild use; a naming slip then costs
# only the checks about the name (the report says which name the lab expects).
PARENT_NAMES = ("_prev", "_children", "prev", "children", "_parents", "parents")


parents_seen: set[str] = set()  # the names the walk followed, for paste-able examples
learned: dict[type, str] = {}  # a Value class -> the attribute its parents are under


def _members(held: Any) -> list[Any] | None:
    """The objects a container holds (a dict: its keys); None for anything else."""
    if isinstance(held, (tuple, list, set, frozenset)):
        return list(held)
    if isinstance(held, dict):
        return list(held)
    return None


def _attribute_names(v: Any) -> list[str]:
    """The instance attributes of ``v`` (its ``__dict__`` and its slots), the names the
    labs and the wild use first."""
    try:
        names = [n for n in vars(v) if isinstance(n, str)]
    except TypeError:  # no __dict__: slots only
        names = []
    for klass in type(v).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else [n for n in slots if isinstance(n, str)]
    known = [n for n in PARENT_NAMES if n in names]
    return known + [n for n in dict.fromkeys(names) if n not in known]


def learn(result: Any, operands: Sequence[Any]) -> None:
    """Learn where ``result``'s class keeps its parents: the attribute holding, by
    identity, the operand Values it was built from (all of them, or for an op composed
    of others, at least one of them beside its hidden middle nodes)."""
    cls = type(result)
    want = {id(o) for o in operands if isinstance(o, cls)}
    if cls in learned or not want:
        return
    partial = None
    for name in _attribute_names(result):
        try:
            held = _members(getattr(result, name, None))
        except Exception:  # a property of the student's that raises: not the parents
            continue
        if not held or not all(isinstance(x, cls) for x in held):
            continue
        ids = {id(x) for x in held}
        if want <= ids:
            learned[cls] = name
            return
        if want & ids and partial is None:
            partial = name
    if partial is not None:
        learned[cls] = partial


def parents_attr(v: Any) -> str | None:
    """The attribute under which ``v`` keeps its parents (None: none found)."""
    attr = learned.get(type(v))
    if attr is not None and _members(getattr(v, attr, None)) is not None:
        parents_seen.add(attr)
        return attr
    for attr in PARENT_NAMES:
        found = getattr(v, attr, None)
        if found is not None and not callable(found) and not isinstance(found, (str, bytes)):
            parents_seen.add(attr)
            return attr
    return None


def leaf_parents_attr(v: Any) -> str | None:
    """``parents_attr``, or for a leaf of a class no op has taught yet, its first
    attribute holding an empty container (where a leaf keeps its no parents)."""
    attr = parents_attr(v)
    if attr is not None:
        return attr
    for name in _attribute_names(v):
        try:
            held = _members(getattr(v, name, None))
        except Exception:  # a property of the student's that raises
            continue
        if held == []:
            return name
    return None


def parents(v: Any) -> list[Any]:
    attr = parents_attr(v)
    if attr is None:
        return []
    held = getattr(v, attr)
    found = _members(held)
    return list(held) if found is None else found


def nodes_under(root: Any) -> list[Any]:
    """Every node under ``root``, each once (by identity), root first."""
    found: list[Any] = [root]
    seen = {id(root)}
    i = 0
    while i < len(found):
        for parent in parents(found[i]):
            if id(parent) not in seen:
                if len(found) >= MAX_GRAPH:
                    raise RuntimeError(f"the graph has more than {MAX_GRAPH} nodes")
                seen.add(id(parent))
                found.append(parent)
        i += 1
    return found


def walk_order(root: Any) -> list[Any]:
    """The nodes under ``root`` in an order where each comes after every node that
    uses it (a node's users all pass their gradient on before the node does)."""
    users: dict[int, int] = {}
    for node in nodes_under(root):
        for parent in parents(node):
            users[id(parent)] = users.get(id(parent), 0) + 1
    order: list[Any] = []
    ready = [root]
    while ready:
        node = ready.pop()
        order.append(node)
        for parent in parents(node):
            users[id(parent)] -= 1
            if users[id(parent)] == 0:
                ready.append(parent)
    return order


class WalkImpossible(Exception):
    """The grader's own walk cannot see or drive this engine's graph (no parents found
    that reach the operands, or a node without a ``_backward`` step): the grader then
    judges the op through the engine's own ``backward()`` instead. Not a mistake."""


# Set order. A Value's default hash is its address, which address randomisation moves
# between runs, so a set of Values (``_prev = set(...)``, a visited set) could iterate in
# another order on every run, and an engine whose result depends on that order would get
# another grade each time. The engine's Value class, when it keeps the identity hash of
# ``object``, hashes instead by the order in which its instances are first hashed in the
# request: still one hash per object (identity equality is kept), the same on every run.
# A request may ask for the "reversed" order: the grader runs a check again that way to
# find results that depend on the order.
SERIAL = "_minigrad_grader_serial"
hashing = {"sign": 1, "next": 0}


def _ordered_hash(v: Any) -> int:
    try:
        own = object.__getattribute__(v, "__dict__")
    except AttributeError:  # slots only: nowhere to keep a serial, the address it is
        return object.__hash__(v)
    serial = own.get(SERIAL)
    if type(serial) is not int:
        serial = own[SERIAL] = hashing["next"]
        hashing["next"] += 1
    return serial if hashing["sign"] > 0 else -serial - 2  # -1 is no hash in CPython


def order_sets(value_class: Any, reversed_order: bool) -> None:
    """Hash ``value_class``'s instances by serial (see above), counted from 0 for this
    request, in the given direction; a class with a ``__hash__`` of its own is left
    alone (hashing by value, the eq-hash-override mistake, stays the engine's own)."""
    hashing["sign"], hashing["next"] = (-1 if reversed_order else 1), 0
    if not isinstance(value_class, type):
        return
    own: Any = getattr(value_class, "__hash__", None)
    if own is object.__hash__:
        try:  # noqa: SIM105  (the worker imports as little as it can)
            setattr(value_class, "__hash__", _ordered_hash)  # noqa: B010
        except (TypeError, AttributeError):  # an immutable class: left as it is
            pass


def _numbers(v: Any) -> bool:
    """Whether ``v`` has a plain-number ``data`` and ``grad`` (a parameter the grader can
    read); a property of the student's that raises is a no."""
    try:
        number(v.data, "data")
        number(v.grad, "grad")
    except Exception:
        return False
    return True


def _neurons_of(net: Any) -> list[list[Any]]:
    """The network's layers as lists of neurons, read by the lab's names: an MLP's
    ``layers``, a Layer's ``neurons``, or a Neuron itself."""
    if hasattr(net, "layers"):
        return [list(layer.neurons) for layer in net.layers]
    if hasattr(net, "neurons"):
        return [list(net.neurons)]
    return [[net]]


def net_objects(net: Any) -> tuple[list[Any], list[Any] | None, list[int] | None]:
    """A network's parameter objects, each once (by identity), with where they sit:
    ``named`` (layer -> neuron -> object indices of ``[*w, b]``, read by the lab's
    names; None when they do not apply) and ``listed`` (the objects ``parameters()``
    returns, in its order; None when it cannot be called). Student code may raise
    here: a part it breaks is None, never an error of the request."""
    objects: list[Any] = []
    index: dict[int, int] = {}

    def place(v: Any) -> int:
        if id(v) not in index:
            index[id(v)] = len(objects)
            objects.append(v)
        return index[id(v)]

    named: list[Any] | None
    try:
        layers = [[[*neuron.w, neuron.b] for neuron in layer] for layer in _neurons_of(net)]
        flat = [v for layer in layers for neuron in layer for v in neuron]
        if not flat or not all(_numbers(v) for v in flat):
            raise TypeError("not parameters")
        named = [[[place(v) for v in neuron] for neuron in layer] for layer in layers]
    except Exception:  # other names: the network is read through parameters() alone
        named = None
    listed: list[int] | None
    try:
        found = list(net.parameters())
        if not all(_numbers(v) for v in found):
            raise TypeError("not parameters")
        listed = [place(v) for v in found]
    except Exception:
        listed = None
    return objects, named, listed
