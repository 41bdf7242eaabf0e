"""The program interpreter of the confined child (standard library only).

Runs in the student's process: ``serve`` answers each request line with ``handle``,
which imports the student's package and runs the request's steps with an
``Interpreter`` (build graphs, call the student's code, read back plain numbers and
strings; the helpers that read the student's objects are in ``objects.py``).
"""

from __future__ import annotations

import importlib
import json
import os
import random
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

from grader.child import limits
from grader.child.limits import blocked_imports
from grader.child.objects import (
    WalkImpossible,
    _plain,
    _text,
    leaf_parents_attr,
    learn,
    net_objects,
    nodes_under,
    number,
    order_sets,
    parents,
    parents_seen,
    walk_order,
)

MAX_DOT = 200_000


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
        still: int = 0,
    ) -> None:
        """The grader's own training loop on the student's engine (not the student's fit).

        Loss: sum of squared errors built with the student's ops; the gradients are
        reset by assigning 0.0 directly, so a broken zero_grad or fit cannot matter.
        With a ``goal`` it stops at the first epoch whose loss is below it. With
        ``trace``, ``name#trace`` holds every parameter object's data before each epoch
        (and after the last) and its grad after each backward (objects as ``net``);
        with ``still`` too, it stops once ``still`` epochs in a row changed nothing."""
        net = self.env[model]
        xs, ys = self.arg(xs), self.arg(ys)
        params = net.parameters()
        objects = net_objects(net)[0] if trace else []
        datas: list[list[float]] = []
        grads: list[list[float]] = []
        losses: list[float] = []
        if trace:
            datas.append([number(v.data, "parameter.data") for v in objects])
        for _ in range(epochs):
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
            if trace:
                datas.append([number(v.data, "parameter.data") for v in objects])
            if goal is not None and losses[-1] < goal:
                break
            if trace and still and stands_still(datas, losses, still):
                break
        self.reads[name] = losses
        if trace:
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
        still: int = 0,
    ) -> None:
        """The student's fit, ``chunk`` epochs at a time until the loss < goal.

        fit keeps no state beyond the model, so chunks equal one long call; stopping
        early only saves time. With ``trace`` each chunk is ``chunk`` calls of one epoch
        (stopping at the first epoch whose loss is below the goal),
        and ``name#trace`` holds every parameter object's data (objects as ``net``)
        before each epoch and after the last, and the data the model was fitted to.
        With ``still`` too, fit also stops once ``still`` epochs in a row changed neither
        a parameter nor the loss: every later epoch would repeat them.
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
            datas.append([number(v.data, "parameter.data") for v in objects])
        losses: list[float] = []
        while len(losses) < most and not (losses and losses[-1] < goal):
            for epochs in [1] * chunk if trace else [chunk]:
                part = fit(net, xs, ys, epochs, lr)
                if not isinstance(part, list) or len(part) != epochs:
                    raise TypeError(f"fit(..., epochs={epochs}, ...) must return {epochs} losses")
                losses.extend(_plain(list(part), "fit(...)"))
                if trace:
                    datas.append([number(v.data, "parameter.data") for v in objects])
                    if losses[-1] < goal:
                        break  # one epoch at a time: stop at the first below the goal
            if trace and still and stands_still(datas, losses, still):
                break
        self.reads[name] = losses
        if trace:
            self.reads[name + "#trace"] = {"data": datas, **fitted}

    def do_to_dot(self, name: str, root: str) -> None:
        text = importlib.import_module("minigrad.viz").to_dot(self.env[root])
        if not isinstance(text, str):
            raise TypeError(f"to_dot returned a {type(text).__name__}, not a str")
        self.reads[name] = str.__str__(text)[:MAX_DOT]


def stands_still(datas: list[list[float]], losses: list[float], epochs: int) -> bool:
    """Whether the last ``epochs`` epochs changed neither a parameter (``datas``: every
    parameter before each epoch and after the last) nor the loss."""
    if epochs < 1 or len(losses) < epochs or len(datas) != len(losses) + 1:
        return False
    return all(d == datas[-1] for d in datas[-epochs - 1 :]) and all(
        v == losses[-1] for v in losses[-epochs:]
    )


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
            "network_isolated": limits.confined,
            "hidden": ["everything outside its folder"] if limits.confined else [],
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
