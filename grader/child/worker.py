"""The only grader code that runs next to student code: inside the sandboxed child.

Started by ``grader.sandbox`` as ``python -I -S -B <folder>/code/grader/worker.py
CONFIG`` where ``<folder>`` holds ``code/`` (this file, ``confine.py`` and
``channel.py``, copied), ``pkg/minigrad`` (the submission's package, copied) and
``work/`` (its scratch). It
  1. confines itself (``grader/confine.py``: user, mount, network and PID namespaces,
     then in the forked PID 1: no capabilities, no-new-privs, Landlock, seccomp that
     still lets it fork; where the host refuses user namespaces, the same without them,
     as uid 65534 if root),
  2. keeps private copies of stdin/stdout for the protocol and points fds 0/1/2
     elsewhere (student prints go to the output log the grader opened and passed),
  3. becomes the *driver*: it forks the student's process, which closes every
     descriptor but 0/1/2 and its two pipes to the driver, sets its resource limits
     (memory, CPU time, file size = output cap, tasks), locks itself down again (a
     Landlock domain of its own: it cannot signal or trace the driver; seccomp: no
     process creation), blocks imports of numerical libraries, and only then imports
     the student's package,
  4. forwards each JSON request line to the student's process, which runs the steps
     (build graphs, call the student's code, read back plain numbers and strings);
     the driver reads one capped reply, checks that it is well-formed and answers that
     request (``vet``), and passes on its own clean copy. Garbage, a reply to another
     request or a line nobody asked for ends the student's process and becomes the
     driver's ``fault`` reply; when the student's process dies, the driver exits the
     same way, so the grader sees how it died.
It computes; it never judges. The grader compares the numbers in its own process.

What the driver cannot know and so takes from the student's process (whose code can
change it): the reads and errors (an engine's own answers anyway), ``blocked_imports``
(an engine can hide that it *tried* numpy, never use it: site-packages is not
readable), ``parents`` (wording only) and the progress mark in ``work/progress`` that
names where a hang was (a forged mark can only make the grader skip or retry the
student's own steps). What the driver states itself: ``network_isolated``, ``hidden``,
and how the student's process ended.
Standard library only: it runs with site-packages disabled.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import random
import resource
import signal
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

FORBIDDEN = frozenset(
    {"numpy", "torch", "jax", "jaxlib", "tensorflow", "scipy", "autograd", "micrograd"}
)
MAX_TEXT = 2000  # longest string (message, DOT text is separate) sent back
MAX_DOT = 200_000
MAX_GRAPH = 20_000
CONFINE_FAILED = 121  # exit status: the worker could not set itself up (grader error)
MAX_TASKS = 64  # RLIMIT_NPROC: threads of the student's process

blocked_imports: list[str] = []


class _Blocker:
    """A meta-path finder that refuses the numerical libraries the engine may not use."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in FORBIDDEN:
            if name not in blocked_imports:
                blocked_imports.append(name)
            raise ImportError(f"the minigrad grader does not allow importing {name!r}")
        return None


confined = False  # the kernel confinement of grader/confine.py holds this process


def set_limits(limits: dict[str, Any]) -> None:
    """Memory, output (file size), process-count and, when given, CPU-time limits."""
    memory = int(limits["memory_mb"] * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if "cpu_seconds" in limits:
        cpu = math.ceil(limits["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    out = int(limits["output_kb"] * 1024)
    resource.setrlimit(resource.RLIMIT_FSIZE, (out, out))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Processes (threads count too) of this uid in this user namespace (without one: of
    # this uid, hence the "tasks" it already runs); process creation is refused by the
    # seccomp filter anyway, this bounds threads.
    tasks = MAX_TASKS + int(limits.get("tasks", 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))
    # CPython ignores SIGXFSZ at startup, so a write past the cap would only raise
    # OSError in the student's code; restore the default so the cap stops the child.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)


def redirect_stdio(log_fd: int) -> tuple[int, int]:
    """Keep private copies of stdin and stdout for the protocol; then read nothing
    from fd 0 and send fds 1 and 2 (the student's prints) to ``log_fd``, the output log
    the grader opened (its size is capped by the output limit). Returns (requests fd,
    replies fd)."""
    requests, replies = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    if log_fd > 2:
        os.close(log_fd)
    return requests, replies


def enter_confinement(folder: str) -> str:
    """The start of a confined process (grader/confine.py): new namespaces, then fork.

    Three processes: this one stays outside the new PID namespace; its child is PID 1
    there (the kernel kills everything in the namespace when it dies, and ignores
    signals to it that it has no handler for, so it runs no student code); PID 1's child
    runs the student's code. The two grader processes run no student code: each waits
    for its child and the outer one exits the way the student's process did (status or
    signal), so the grader sees how it died. Returns the folder's path as the student's
    process sees it.
    """
    from grader.child import confine

    confine.enter_namespaces()
    confine.bind_layout(folder)
    status_r, status_w = os.pipe()
    outer = os.fork()
    if outer:
        os.close(status_w)
        _detach_stdio()
        os.waitpid(outer, 0)
        raw = os.read(status_r, 16)
        exit_like(int(raw) if raw.isdigit() else 256)
    confine.die_with_parent()
    os.close(status_r)
    inner = os.fork()
    if inner:  # PID 1
        _detach_stdio()
        _, status = os.waitpid(inner, 0)
        os.write(status_w, str(status).encode())
        os._exit(0)
    os.close(status_w)
    confine.die_with_parent()
    return confine.RUN


def _detach_stdio() -> None:
    """Let go of the protocol pipes: they reach EOF when the student's process dies."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


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


OP_TABLE: dict[str, Any] = {}  # grader.optable.OPS, loaded by main()


class OpReturnedNone(TypeError):
    """An op gave back None: most often ``return out`` is indented inside ``_backward``."""


class Interpreter:
    """Runs the steps of one request against the student's package (the parent builds
    them with grader.program.Program)."""

    def __init__(self) -> None:
        self.env: dict[str, Any] = {}
        self.reads: dict[str, Any] = {}
        self.leaves: list[str] = []  # the names made by ``const`` steps

    def arg(self, a: Any) -> Any:
        if isinstance(a, dict):
            return a["num"]
        if isinstance(a, list):
            return [self.arg(v) for v in a]
        return self.env[a]

    def value(self, x: float) -> Any:
        return importlib.import_module("minigrad.scalar").Value(x)

    def step(self, s: Sequence[Any]) -> None:
        kind = s[0]
        handler: Callable[..., None] = getattr(self, "do_" + kind)
        handler(*s[1:])

    # -- building and running graphs ----------------------------------------------
    def do_const(self, name: str, x: float) -> None:
        self.env[name] = self.value(x)
        self.leaves.append(name)

    def do_op(self, name: str, op: str, *args: Any) -> None:
        operands = [self.arg(a) for a in args]
        result = OP_TABLE[op].apply(*operands)
        if result is None:
            raise OpReturnedNone(f"the {op} op returned None instead of a Value")
        learn(result, operands)
        self.env[name] = result

    def do_sum(self, name: str, items: list[Any], start: Any) -> None:
        """``sum(items, start)`` with Python's builtin, as a student loop would."""
        self.env[name] = sum((self.arg(i) for i in items), self.arg(start))

    def do_index(self, name: str, source: str, i: int) -> None:
        self.env[name] = self.env[source][i]

    def do_set_grad(self, name: str, g: float) -> None:
        self.env[name].grad = g

    def do_set_data(self, name: str, x: float) -> None:
        self.env[name].data = x

    def do_local_backward(self, name: str) -> None:
        self.env[name]._backward()

    def do_walk_backward(self, name: str) -> None:
        """The grader's own backward walk from ``name``: every node between it and the
        leaves, each node's ``_backward`` called once, output first. It needs neither the
        student's ``backward()`` nor one node per op (composed ops pass through it).

        Every Value the program made with ``const`` must be under ``name`` and every node
        with parents must have a ``_backward``: else ``WalkImpossible`` (the grader then
        uses the engine's own ``backward()``)."""
        order = walk_order(self.env[name])
        reached = {id(node) for node in order}
        unseen = [k for k in self.leaves if id(self.env[k]) not in reached]
        if unseen:
            raise WalkImpossible(f"{', '.join(unseen)} cannot be reached from {name}")
        steps = []
        for node in order:
            step = getattr(node, "_backward", None)
            if not callable(step):
                if parents(node):
                    raise WalkImpossible("a node of the graph has no _backward")
                continue
            steps.append(step)
        for step in steps:
            step()

    def do_unwrap(self, name: str) -> None:
        """A one-element list or tuple stands for its element (a Layer of one neuron
        that returns a list is checked on its own, not in every network check)."""
        obj = self.env[name]
        if isinstance(obj, (list, tuple)) and len(obj) == 1:
            self.env[name] = obj[0]

    def do_first(self, name: str, source: str) -> None:
        """The first output of a network: its only Value, or the first of a list."""
        obj = self.env[source]
        self.env[name] = obj[0] if isinstance(obj, (list, tuple)) else obj

    def do_backward(self, name: str) -> None:
        self.env[name].backward()

    # -- reading results -----------------------------------------------------------
    def do_read(self, name: str) -> None:
        """Data and grad of a Value, or of each Value in a list."""
        obj = self.env[name]
        if isinstance(obj, (list, tuple)):
            self.reads[name] = {
                "kind": "list",
                "items": [self._pair(v, f"{name}[{i}]") for i, v in enumerate(obj)],
            }
        else:
            self.reads[name] = {"kind": type(obj).__name__, **self._pair(obj, name)}

    def _pair(self, v: Any, name: str) -> dict[str, float]:
        return {
            "data": number(v.data, f"{name}.data"),
            "grad": number(v.grad, f"{name}.grad"),
        }

    def do_read_node(self, name: str) -> None:
        """Parents, op and data of a Value, for inspecting the recorded graph."""
        v = self.env[name]
        attr = leaf_parents_attr(v)
        self.reads[name + "#node"] = {
            "op": _text(getattr(v, "_op", None)),
            "prev": sorted(id(p) for p in parents(v)),
            "parents_attr": attr,
            "parents_kind": None if attr is None else _text(type(getattr(v, attr)).__name__),
            "id": id(v),
            "data": number(v.data, f"{name}.data"),
        }

    def do_read_graph(self, name: str) -> None:
        """Every node under a Value: op, data, grad and parent positions (iterative walk)."""
        root = self.env[name]
        names = {id(v): k for k, v in self.env.items() if not isinstance(v, (list, tuple))}
        nodes = nodes_under(root)
        index = {id(v): i for i, v in enumerate(nodes)}
        self.reads[name + "#graph"] = [
            {
                "name": names.get(id(v)),
                "op": _text(getattr(v, "_op", None)),
                "data": number(v.data, "node.data"),
                "grad": number(v.grad, "node.grad"),
                "prev": sorted(index[id(p)] for p in parents(v)),
            }
            for v in nodes
        ]

    def do_identity(self, eq_name: str, size_name: str, a: str, b: str) -> None:
        """Whether ``a == b`` and how many members ``{a, b}`` has (identity expected)."""
        eq = self.env[a] == self.env[b]
        self.reads[eq_name] = eq if type(eq) is bool else _text(type(eq).__name__)
        self.reads[size_name] = len({self.env[a], self.env[b]})

    def do_read_plain(self, name: str) -> None:
        self.reads[name] = _plain(self.env[name], name)

    def do_layer_weights(self, name: str, model: str) -> None:
        """The weights layer by layer, neuron by neuron, (w..., b), read through the
        names the lab gives (``layers``, ``neurons``, ``w``, ``b``) whatever the order of
        parameters(); None when the network does not use those names."""
        try:
            self.reads[name] = [
                number(v.data, "weight.data")
                for layer in self.env[model].layers
                for neuron in layer.neurons
                for v in [*neuron.w, neuron.b]
            ]
        except Exception:  # other names: the grader falls back on parameters()
            self.reads[name] = None

    def do_net(self, name: str, model: str) -> None:
        """A network's parameters as objects (see ``net_objects``): where each sits by
        the lab's names, which ``parameters()`` lists, and each one's data and grad."""
        objects, named, listed = net_objects(self.env[model])
        self.reads[name] = {
            "named": named,
            "listed": listed,
            "data": [number(v.data, "parameter.data") for v in objects],
            "grad": [number(v.grad, "parameter.grad") for v in objects],
        }

    def do_param_effect(self, name: str, model: str, x: list[Any], delta: float) -> None:
        """For each parameter in turn: the model's output on ``x`` with that parameter's
        data moved by ``delta`` (restored afterwards), and once unmoved (last)."""
        net = self.env[model]
        inputs = self.arg(x)
        effects = []
        for p in list(net.parameters()):
            p.data += delta
            try:
                effects.append(number(_single(net(inputs)).data, "output.data"))
            finally:
                p.data -= delta
        effects.append(number(_single(net(inputs)).data, "output.data"))
        self.reads[name] = effects

    def do_count_distinct(self, name: str, source: str) -> None:
        self.reads[name] = len({id(v) for v in self.env[source]})

    def do_length(self, name: str, source: str) -> None:
        self.reads[name] = len(self.env[source])

    # -- networks and training -----------------------------------------------------
    def do_seed(self, s: int) -> None:
        random.seed(s)

    def do_new(self, name: str, cls: str, *args: Any) -> None:
        module = importlib.import_module("minigrad.nn")
        self.env[name] = getattr(module, cls)(*args)

    def do_call(self, name: str, fn: str, *args: Any) -> None:
        """``name = fn(*args)``: fn is an env object or ``module:function``."""
        if ":" in fn:
            module, attr = fn.split(":")
            target = getattr(importlib.import_module(f"minigrad.{module}"), attr)
        else:
            target = self.env[fn]
        self.env[name] = target(*[self.arg(a) for a in args])

    def do_method(self, name: str, obj: str, method: str) -> None:
        self.env[name] = getattr(self.env[obj], method)()

    def do_params_data(self, name: str, source: str) -> None:
        self.reads[name] = [
            number(p.data, f"parameter {i}") for i, p in enumerate(self.env[source])
        ]

    def do_params_grad(self, name: str, source: str) -> None:
        self.reads[name] = [
            number(p.grad, f"parameter {i}.grad") for i, p in enumerate(self.env[source])
        ]

    def do_sgd(
        self,
        name: str,
        model: str,
        xs: list[Any],
        ys: list[Any],
        epochs: int,
        lr: float,
        goal: float | None = None,
        trace: bool = False,
    ) -> None:
        """The grader's own training loop on the student's engine (not the student's fit).

        Loss: sum of squared errors built with the student's ops; the gradients are
        reset by assigning 0.0 directly, so a broken zero_grad or fit cannot matter.
        With a ``goal`` it stops at the first epoch whose loss is below it. With
        ``trace``, ``name#trace`` holds every parameter object's data before each epoch
        (and after the last) and its grad after each backward (objects as ``net``)."""
        net = self.env[model]
        xs, ys = self.arg(xs), self.arg(ys)
        params = net.parameters()
        objects = net_objects(net)[0] if trace else []
        datas: list[list[float]] = []
        grads: list[list[float]] = []
        losses = []
        for _ in range(epochs):
            if trace:
                datas.append([number(v.data, "parameter.data") for v in objects])
            loss = self.value(0.0)
            for x, y in zip(xs, ys, strict=True):
                out = net(x)
                outs = out if isinstance(out, list) else [out]
                targets = y if isinstance(y, list) else [y]
                for o, t in zip(outs, targets, strict=True):
                    diff = o - t
                    loss = loss + diff * diff
            for p in params:
                p.grad = 0.0
            loss.backward()
            if trace:
                grads.append([number(v.grad, "parameter.grad") for v in objects])
            for p in params:
                p.data -= lr * p.grad
            losses.append(number(loss.data, "loss.data"))
            if goal is not None and losses[-1] < goal:
                break
        self.reads[name] = losses
        if trace:
            datas.append([number(v.data, "parameter.data") for v in objects])
            self.reads[name + "#trace"] = {"data": datas, "grad": grads}

    def do_fit_until(
        self,
        name: str,
        model: str,
        xs: Any,
        ys: Any,
        chunk: int,
        most: int,
        lr: float,
        goal: float,
        trace: bool = False,
    ) -> None:
        """The student's fit, ``chunk`` epochs at a time until the loss < goal.

        fit keeps no state beyond the model, so chunks equal one long call; stopping
        early only saves time. With ``trace`` each chunk is ``chunk`` calls of one epoch,
        and ``name#trace`` holds every parameter object's data (objects as ``net``)
        before each epoch and after the last, and the data the model was fitted to.
        """
        fit = importlib.import_module("minigrad.train").fit
        net = self.env[model]
        xs, ys = self.arg(xs), self.arg(ys)
        objects = net_objects(net)[0] if trace else []
        datas: list[list[float]] = []
        fitted: dict[str, Any] = {}
        if trace:
            for key, rows in (("xs", xs), ("ys", ys)):
                try:
                    fitted[key] = _plain(list(rows), key)
                except Exception:  # not plain numbers: the grader says it cannot check
                    fitted[key] = None
        losses: list[float] = []
        while len(losses) < most and not (losses and losses[-1] < goal):
            for epochs in [1] * chunk if trace else [chunk]:
                if trace:
                    datas.append([number(v.data, "parameter.data") for v in objects])
                part = fit(net, xs, ys, epochs, lr)
                if not isinstance(part, list) or len(part) != epochs:
                    raise TypeError(f"fit(..., epochs={epochs}, ...) must return {epochs} losses")
                losses.extend(_plain(list(part), "fit(...)"))
        self.reads[name] = losses
        if trace:
            datas.append([number(v.data, "parameter.data") for v in objects])
            self.reads[name + "#trace"] = {"data": datas, **fitted}

    def do_to_dot(self, name: str, root: str) -> None:
        text = importlib.import_module("minigrad.viz").to_dot(self.env[root])
        if not isinstance(text, str):
            raise TypeError(f"to_dot returned a {type(text).__name__}, not a str")
        self.reads[name] = str.__str__(text)[:MAX_DOT]


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


def _single(out: Any) -> Any:
    return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out


def _error(exc: BaseException, step: int | None) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": _text(exc), "step": step}


PROGRESS = "progress"  # grader.hangs.PROGRESS: where the grader looks after a timeout
_progress_fd = -1
NEEDS_MODULE = {"new": "nn", "fit_until": "train", "to_dot": "viz"}


def _mark(request_id: object, where: str) -> None:
    """Record what this request is doing now, for the grader to name a hang."""
    global _progress_fd
    try:
        if _progress_fd < 0:
            _progress_fd = os.open(PROGRESS, os.O_WRONLY | os.O_CREAT, 0o600)
        os.pwrite(_progress_fd, f"{request_id} {where}".encode().ljust(64), 0)
    except (OSError, ValueError):
        pass  # the student's code closed or replaced it: the grader says less


def _modules(steps: Sequence[Any]) -> list[str]:
    needed = {"scalar"}
    for s in steps:
        if s[0] in NEEDS_MODULE:
            needed.add(NEEDS_MODULE[s[0]])
        elif s[0] == "call" and ":" in str(s[2]):
            needed.add(str(s[2]).split(":")[0])
    return [m for m in ("scalar", "nn", "train", "viz") if m in needed]


def handle(request: dict[str, Any]) -> dict[str, Any]:
    rid = request.get("id")
    if request.get("kind") == "hello":
        modules: dict[str, Any] = {}
        for mod in ("scalar", "nn", "train", "viz"):
            _mark(rid, "import " + mod)
            try:
                importlib.import_module(f"minigrad.{mod}")
                modules[mod] = None
            except BaseException as exc:  # SyntaxError, SystemExit, ... all reported
                modules[mod] = _error(exc, None)
        return {
            "modules": modules,
            "blocked_imports": list(blocked_imports),
            "network_isolated": confined,
            "hidden": ["everything outside its folder"] if confined else [],
        }
    steps = request["steps"]
    for mod in _modules(steps):  # imported first, so that a hang here is named as such
        if f"minigrad.{mod}" not in sys.modules:
            _mark(rid, "import " + mod)
            try:  # noqa: SIM105  (the worker imports as little as it can)
                importlib.import_module(f"minigrad.{mod}")
            except BaseException:  # the step that needs it raises it again, as data
                pass
    scalar = sys.modules.get("minigrad.scalar")
    order_sets(getattr(scalar, "Value", None), request.get("order") == "reversed")
    program = Interpreter()
    last: tuple[object, object] = ("", "")
    for i, s in enumerate(steps):
        tag = (s[0], s[3] if s[0] == "method" else s[2] if s[0] in ("op", "call", "new") else "")
        if s[0] in ("local_backward", "walk_backward"):
            tag = (s[0], s[1])
        if tag != last:
            _mark(rid, f"step {i}")
            last = tag
        try:
            program.step(s)
        except BaseException as exc:  # the student's exception is data, not our crash
            return {
                "reads": program.reads,
                "error": _error(exc, i),
                "blocked_imports": list(blocked_imports),
                "parents": sorted(parents_seen),
            }
    return {
        "reads": program.reads,
        "error": None,
        "blocked_imports": list(blocked_imports),
        "parents": sorted(parents_seen),
    }


def serve(requests_fd: int, replies_fd: int) -> None:
    """The student's process: answer each request line on ``requests_fd`` with one reply
    line on ``replies_fd`` (the driver's pipes: it vets every reply)."""
    requests = os.fdopen(requests_fd, "rb")
    replies = os.fdopen(replies_fd, "wb")
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    # Private references, taken before the student's package is imported (at the first
    # request): student code that rebinds the worker's names (``handle``, ``json.dumps``,
    # the module's globals) changes nothing here. Cheap, not a wall: code in this process
    # can still reach these objects, which is why the grader checks every number itself.
    answer = types.FunctionType(handle.__code__, dict(globals()), "handle")
    loads, dumps = json.loads, json.dumps
    for line in requests:
        request = loads(line)
        try:
            reply = {"id": request["id"], "ok": True, **answer(request)}
            data = dumps(reply, allow_nan=True)
        except BaseException as exc:  # e.g. a reply that cannot be serialised
            data = dumps({"id": request["id"], "ok": False, "error": _error(exc, None)})
        replies.write(data.encode() + b"\n")
        replies.flush()


# ---------------------------------------------------------------- the driver
# Student code runs in a process of its own that never holds the grader's pipes. The
# driver (this process, grader code only) forwards each request, reads one reply, keeps
# it only if it is well-formed and answers that request, and passes on its own clean
# copy; anything else ends the student's process and becomes the driver's report.
MAX_LINE = 16_000_000  # grader.sandbox.MAX_REPLY_BYTES
MAX_NAMES = 64  # entries of blocked_imports / parents
FAULT = "wrote over the grader's reply channel"


class Faulty(Exception):
    """A reply that cannot be the worker's: the student's code wrote it (or broke it)."""


def vet(reply: Any, request: dict[str, Any]) -> dict[str, Any]:
    """A clean copy of ``reply`` (only the keys of the protocol, every type checked,
    strings capped) if it answers ``request``; else raise ``Faulty`` saying why. The
    grader runs the same check on what the driver passes on."""
    if not isinstance(reply, dict):
        raise Faulty("a line that is not a reply")
    if type(reply.get("id")) is not int or reply["id"] != request.get("id"):
        raise Faulty("a reply to another request")
    if reply.get("ok") is not True:
        if reply.get("ok") is not False:
            raise Faulty("a reply that says neither ok nor not ok")
        return {"id": reply["id"], "ok": False, "error": _vet_error(reply.get("error"))}
    clean: dict[str, Any] = {"id": reply["id"], "ok": True}
    clean["blocked_imports"] = _names(reply.get("blocked_imports", []), "blocked_imports")
    if request.get("kind") == "hello":
        modules = reply.get("modules")
        if not isinstance(modules, dict) or not set(modules) <= set(MODULE_NAMES):
            raise Faulty("a hello reply without its modules")
        clean["modules"] = {
            m: None if modules[m] is None else _vet_error(modules[m]) for m in modules
        }
        clean["network_isolated"] = reply.get("network_isolated") is True
        clean["hidden"] = _names(reply.get("hidden", []), "hidden")
        return clean
    if not isinstance(reply.get("reads"), dict):
        raise Faulty("a reply without reads")
    clean["reads"] = reply["reads"]
    error = reply.get("error")
    clean["error"] = None if error is None else _vet_error(error, len(request["steps"]))
    clean["parents"] = _names(reply.get("parents", []), "parents")
    return clean


MODULE_NAMES = ("scalar", "nn", "train", "viz")


def _vet_error(error: Any, steps: int = 0) -> dict[str, Any]:
    """A clean error: its type, message and the step (of ``steps``) it happened at."""
    if not isinstance(error, dict):
        raise Faulty("an error that is not an object")
    kind, message, step = error.get("type"), error.get("message"), error.get("step")
    if not isinstance(kind, str) or not isinstance(message, str):
        raise Faulty("an error without its type and message")
    if step is not None and (type(step) is not int or not 0 <= step < steps):
        raise Faulty("an error at a step the request does not have")
    return {"type": kind[:200], "message": message[: MAX_TEXT + 3], "step": step}


def _names(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_NAMES:
        raise Faulty(f"{what} that is not a short list")
    if not all(isinstance(v, str) for v in value):
        raise Faulty(f"{what} that are not all names")
    return [v[:200] for v in value]


class Driver:
    """The trusted end of the worker: holds the grader's pipes, drives the student's."""

    def __init__(
        self, requests_fd: int, replies_fd: int, student: Callable[[int, int], None]
    ) -> None:
        from grader.child.channel import Lines

        self.requests = Lines(requests_fd, MAX_LINE)
        self.replies_fd = replies_fd
        down_r, self.down = os.pipe()
        up, up_w = os.pipe()
        keep = (down_r, up_w)
        self.pid = os.fork()
        if self.pid == 0:  # the student's process: none of the driver's descriptors
            status = 1
            try:
                most = max(1 << 16, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
                for low, high in zip((2, *sorted(keep)), (*sorted(keep), most), strict=True):
                    os.closerange(low + 1, high)
                student(down_r, up_w)
                status = 0
            finally:
                os._exit(status)
        os.close(down_r)
        os.close(up_w)
        self.student = Lines(up, MAX_LINE)

    def run(self) -> None:
        from grader.child.channel import parse

        while (line := self.requests.read()) is not None:
            request = json.loads(line)  # from the grader: trusted
            try:
                if self.student.pending():
                    raise Faulty("a line nobody asked for")
                try:
                    _write_all(self.down, line + b"\n")
                except BrokenPipeError:  # it died: the read below sees how
                    os.close(self.down)
                    self.down = os.open(os.devnull, os.O_WRONLY)
                answer = self.student.read()
                if answer is None:
                    if self.student.overflow:
                        raise Faulty(f"a reply longer than {MAX_LINE} bytes")
                    self._exit_like_student()
                clean = vet(parse(answer or b""), request)
                if request.get("kind") == "hello":  # facts the driver knows, not the student
                    clean["network_isolated"] = confined
                    clean["hidden"] = ["everything outside its folder"] if confined else []
            except Faulty as why:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                self._send({"id": request["id"], "ok": False, "fault": f"{FAULT} ({why})"})
                os._exit(0)
            self._send(clean)
        os.close(self.down)  # the grader is done: so is the student's process
        os.waitpid(self.pid, 0)

    def _send(self, reply: dict[str, Any]) -> None:
        _write_all(self.replies_fd, json.dumps(reply, allow_nan=True).encode() + b"\n")

    def _exit_like_student(self) -> None:
        """The student's process died: end this one the same way (the grader says how)."""
        _, status = os.waitpid(self.pid, 0)
        exit_like(status)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def exit_like(status: int) -> None:
    """Exit with the wait ``status`` of another process: its code, or its signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def main() -> None:
    config = json.loads(sys.argv[1])
    global confined
    root = config["folder"]
    from grader.child import pyview

    pyview.apply(config.get("view", {}))  # the installation, where NOBODY can read it
    # The op table, from the grader's copy beside this file, before any confinement
    # and before the student's package is on the path (nothing of it can stand in).
    from grader.optable import OPS

    OP_TABLE.update(OPS)
    # Likewise the driver's reader: the folder this file was loaded from is hidden
    # once the confinement has bound the sandbox's folder elsewhere.
    import grader.child.channel  # noqa: F401  (imported again by the driver)

    mode = config["confine"]  # confine.NAMESPACES, confine.LANDLOCK or "" (unconfined)
    reads: list[str] = []
    tasks = 0
    try:
        from grader.child import confine

        if mode and os.geteuid() == 0:  # RLIMIT_NPROC counts every task of the uid:
            tasks = confine.tasks_of(confine.NOBODY)  # leave room for those it has now
        elif mode == confine.LANDLOCK:
            tasks = confine.tasks_of(os.getuid())
        if mode == confine.NAMESPACES:
            root = enter_confinement(root)
        os.chdir(os.path.join(root, "work"))
        requests_fd, replies_fd = redirect_stdio(config["log_fd"])
        code, pkg, work = (os.path.join(root, name) for name in ("code", "pkg", "work"))
        if mode:
            reads = confine.allowed_reads([code, pkg])
            confine.lock_down(read=[code, pkg], write=[work], processes=True, mode=mode)
            confined = True
    except BaseException:  # no student code has run: the grader's failure, not theirs
        os._exit(CONFINE_FAILED)

    def student(requests: int, replies: int) -> None:
        try:
            set_limits({**config, "tasks": tasks})
            confine.die_with_parent()
            if confined:
                confine.lock_again(reads, [work])
        except BaseException:
            os._exit(CONFINE_FAILED)
        sys.setrecursionlimit(1000)  # the default, whatever the parent had
        sys.path.insert(0, pkg)
        sys.meta_path.insert(0, _Blocker())
        serve(requests, replies)

    Driver(requests_fd, replies_fd, student).run()


if __name__ == "__main__":
    # Started by path with -I: the grader package is two folders above (grader/child/).
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    main()
