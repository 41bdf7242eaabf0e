"""Expected answers: run a ``Program`` in PyTorch float64 (the grader's own process)."""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable
from typing import Any

with warnings.catch_warnings():  # torch warns once that numpy is absent; we never need it
    warnings.simplefilter("ignore")
    import torch

from grader.program import Program

OPS: dict[str, Callable[..., Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "pow": operator.pow,
    "neg": operator.neg,
    "exp": torch.exp,
    "log": torch.log,
    "relu": torch.relu,
    "tanh": torch.tanh,
}


READ_ONLY = {"read_node", "read_graph", "to_dot"}  # inspect the student's graph only


class ExpectError(Exception):
    """The program uses a step PyTorch cannot mirror (a grader bug, not the student's)."""


def evaluate(program: Program) -> dict[str, tuple[float, float]]:
    """(data, grad) of every read node, as PyTorch float64 computes them."""
    env: dict[str, torch.Tensor] = {}
    leaves: set[str] = set()
    pending: dict[str, float] = {}

    def arg(a: Any) -> Any:
        return a["num"] if isinstance(a, dict) else env[a]

    reads: dict[str, tuple[float, float]] = {}
    for step in program.steps:
        kind = step[0]
        if kind == "const":
            env[step[1]] = torch.tensor(step[2], dtype=torch.float64, requires_grad=True)
            leaves.add(step[1])
        elif kind == "op":
            out = OPS[step[2]](*[arg(a) for a in step[3:]])
            out.retain_grad()
            env[step[1]] = out
        elif kind == "sum":
            total = env[step[3]]
            for item in step[2]:
                total = total + env[item]
            total.retain_grad()
            env[step[1]] = total
        elif kind == "set_grad":
            pending[step[1]] = step[2]
        elif kind in ("local_backward", "walk_backward"):
            name = step[1]
            if name not in pending:
                raise ExpectError(f"{kind} needs set_grad first")
            upstream = torch.tensor(pending[name], dtype=torch.float64)
            torch.autograd.backward([env[name]], [upstream], retain_graph=True)
        elif kind == "backward":
            # backward() sets the output's grad to 1.0 (it does not add to it); inner
            # nodes and leaves accumulate across calls, as in PyTorch.
            env[step[1]].grad = None
            torch.autograd.backward([env[step[1]]], retain_graph=True)
        elif kind == "read":
            t = env[step[1]]
            grad = 0.0 if t.grad is None else float(t.grad)
            reads[step[1]] = (float(t.detach()), grad)
        elif kind not in READ_ONLY:
            raise ExpectError(f"no PyTorch mirror for step {kind!r}")
    return reads
