"""Which step of a request hung, and which later requests need that same step.

A request is a list of steps (``grader.program``). Each step is classified into a
*kind* (``op:add``, ``backward``, ``import:nn``, ...) with a label a student reads
("a + b", "backward()", "importing minigrad/nn.py"). When the student's code does not
finish a step in time, the sandbox remembers its kind; a later request that needs the
same kind is not sent at all (its check is reported "not run"), so a submission with
an endless loop in ``backward()`` waits out one timeout, not one per check.

The worker tells where it is by writing ``"<request id> step <i>"`` or ``"<request id>
import <module>"`` to the file ``progress`` in its folder (``PROGRESS``) before each new
kind of step; the grader reads it only after a timeout or a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grader.i18n import _
from grader.optable import OPS
from grader.program import Program

PROGRESS = "progress"
MODULES = ("scalar", "nn", "train", "viz")
READS = {
    "read",
    "read_node",
    "read_graph",
    "read_plain",
    "identity",
    "count_distinct",
    "length",
    "params_data",
    "params_grad",
    "index",
    "set_grad",
    "set_data",
    "layer_weights",
    "unwrap",
    "first",
}


def import_kind(module: str) -> tuple[str, str]:
    return f"import:{module}", _("importing {file}").format(file=f"minigrad/{module}.py")


def _op_label(op: str) -> str:
    return OPS[op].label if op in OPS else f"a.{op}()"


def _backward_of(op: str) -> str:
    return _("the _backward() of {op}").format(op=_op_label(op))


def _forward() -> str:
    return _("a forward pass (calling a Neuron, Layer or MLP)")


def _classes(steps: Sequence[Sequence[Any]]) -> dict[str, str]:
    """Env name -> class name, for objects built by ``new`` steps; op -> op name too."""
    made: dict[str, str] = {}
    for s in steps:
        if s and s[0] == "new" and len(s) > 2:
            made[str(s[1])] = str(s[2])
        elif s and s[0] == "op" and len(s) > 2:
            made[str(s[1])] = f"op:{s[2]}"
    return made


def step_kind(steps: Sequence[Sequence[Any]], i: int) -> tuple[str, str] | None:
    """(kind, label) of step ``i`` (None for steps that cannot hang: seeds)."""
    s = steps[i]
    kind = str(s[0]) if s else ""
    if kind == "const":
        return "const", "Value(x)"
    if kind == "op" and len(s) > 2:
        return f"op:{s[2]}", _op_label(str(s[2]))
    if kind == "sum":
        return "sum", _("sum() of Values")
    if kind in ("local_backward", "walk_backward") and len(s) > 1:
        made = _classes(steps[:i]).get(str(s[1]), "")
        op = made.removeprefix("op:") if made.startswith("op:") else "?"
        label = _backward_of(op) if op != "?" else "_backward()"
        return f"local_backward:{op}", label
    if kind == "backward":
        return "backward", "backward()"
    if kind == "new" and len(s) > 2:
        return f"new:{s[2]}", f"{s[2]}(...)"
    if kind == "call" and len(s) > 2:
        target = str(s[2])
        if ":" in target:
            return f"call:{target}", f"{target.split(':')[-1]}()"
        return "forward", _forward()
    if kind == "method" and len(s) > 3:
        return f"method:{s[3]}", f".{s[3]}()"
    if kind == "net":  # reads the network's parameters, parameters() among them
        return "method:parameters", ".parameters()"
    if kind == "param_effect":
        return "forward", _forward()
    if kind == "sgd":
        return "sgd", _("training (forward and backward passes)")
    if kind == "fit_until":
        return "fit", "fit()"
    if kind == "to_dot":
        return "to_dot", "to_dot()"
    if kind in READS:
        return "read", _("reading .data, .grad or the graph")
    return None


def modules(steps: Sequence[Sequence[Any]]) -> list[str]:
    """The student's modules a request imports (in import order)."""
    needed = {"scalar"}
    for s in steps:
        kind = s[0] if s else ""
        if kind == "new":
            needed.add("nn")
        elif kind == "call" and len(s) > 2 and ":" in str(s[2]):
            needed.add(str(s[2]).split(":")[0])
        elif kind == "fit_until":
            needed.add("train")
        elif kind == "to_dot":
            needed.add("viz")
    return [m for m in MODULES if m in needed]


LONG = 1000  # a program this long is built once and sent to every submission as is
LONG_KEPT = 8  # how many long programs' needs are remembered at most
# (their labels are in the language of the submission that worked them out: the sandbox
# reads only the kinds of what a request needs; a label it shows comes from ``where``)
_LONG_NEEDS: dict[tuple[int, int], tuple[list[Any], dict[str, str]]] = {}


def needs(payload: dict[str, Any]) -> dict[str, str]:
    """Every kind a request needs to finish: kind -> label (for a long program, worked
    out once per grader process: its steps list is the same object every time)."""
    if payload.get("kind") == "hello":
        return dict(import_kind(m) for m in MODULES)
    steps = payload.get("steps")
    if not isinstance(steps, list):
        return {}
    if len(steps) < LONG:
        return _needs(steps)
    key = (id(steps), len(steps))
    if key not in _LONG_NEEDS or _LONG_NEEDS[key][0] is not steps:
        if len(_LONG_NEEDS) >= LONG_KEPT:  # a long program built afresh each time is
            _LONG_NEEDS.clear()  # not kept alive for the whole batch
        _LONG_NEEDS[key] = (steps, _needs(steps))  # holding the list keeps its id unique
    return dict(_LONG_NEEDS[key][1])


def _needs(steps: list[Any]) -> dict[str, str]:
    found = dict(import_kind(m) for m in modules(steps))
    for i, step in enumerate(steps):
        kind = step_kind(steps, i)
        if kind is not None:
            found.setdefault(*kind)
        if step and step[0] in ("sgd", "fit_until"):  # both run the model and backward()
            found.setdefault("forward", _forward())
            found.setdefault("backward", "backward()")
        if step and step[0] == "sum":  # Python's sum() adds with the student's a + b
            found.setdefault("op:add", _op_label("add"))
        if step and step[0] in ("backward", "sgd", "fit_until"):
            # backward() runs the _backward() of every op before it; a model's forward
            # pass (a Neuron: w * x summed, plus b) always records products and sums
            ops = [str(s[2]) for s in steps[:i] if s and s[0] == "op"]
            if step[0] != "backward" or any(
                s and s[0] == "call" and ":" not in str(s[2]) for s in steps[:i]
            ):
                ops += ["mul", "add"]
            for op in dict.fromkeys(ops):
                found.setdefault(f"local_backward:{op}", _backward_of(op))
    return found


def where(payload: dict[str, Any], progress: str, request_id: int) -> tuple[str, str, str] | None:
    """(kind, label, code) of the step the worker was on, from its progress record.

    ``code`` is the line of Python that step stands for (empty for imports). None when
    the record is missing, garbled or from another request.
    """
    parts = progress.split()
    if len(parts) != 3 or parts[0] != str(request_id):
        return None
    if parts[1] == "import" and parts[2] in MODULES:
        kind, label = import_kind(parts[2])
        return kind, label, ""
    steps = payload.get("steps")
    if parts[1] != "step" or not parts[2].isdigit() or not isinstance(steps, list):
        return None
    i = int(parts[2])
    if i >= len(steps):
        return None
    found = step_kind(steps, i)
    if found is None:
        return None
    try:
        code = Program([list(s) for s in steps[: i + 1]]).python().splitlines()[-1]
        code = code.split("  #")[0]
    except (IndexError, KeyError, TypeError, ValueError):
        code = ""
    return found[0], found[1], code
