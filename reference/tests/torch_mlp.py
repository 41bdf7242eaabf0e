"""MLP(3, [4, 4, 1]) in PyTorch float64, for checking the reference against."""

from __future__ import annotations

import torch

SHAPE = [(3, 4), (4, 4), (4, 1)]


def forward(params: list[torch.Tensor], x: list[float]) -> torch.Tensor:
    """The network's output for input ``x``, reading the flat parameter list in the
    course's order: per layer, per neuron, the weights then the bias; every neuron tanh."""
    flat = iter(params)
    acts = [torch.tensor(v, dtype=torch.float64) for v in x]
    for fan_in, fan_out in SHAPE:
        new = []
        for _ in range(fan_out):
            ws = [next(flat) for _ in range(fan_in)]
            b = next(flat)
            new.append(torch.tanh(sum((w * a for w, a in zip(ws, acts, strict=True)), b)))
        acts = new
    return acts[0]
