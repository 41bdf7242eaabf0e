"""Neural-network building blocks made of ``Value``s: ``Neuron``, ``Layer`` and ``MLP``.

``parameters()`` lists weights and biases in a fixed order: layer by layer, neuron by
neuron, each neuron's weights first and its bias last.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Union

from minigrad.scalar import Value

Input = Sequence[Union[Value, float]]


class Module:
    """Anything with parameters."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        """Reset the gradient of every parameter to 0.0."""
        # BEGIN SOLUTION lab03
        for p in self.parameters():
            p.grad = 0.0
        # END SOLUTION


class Neuron(Module):
    """``tanh(w . x + b)`` (or just ``w . x + b`` when ``nonlin`` is False)."""

    w: list[Value]
    b: Value
    nonlin: bool

    def __init__(self, nin: int, nonlin: bool = True) -> None:
        # BEGIN SOLUTION lab03
        self.w = [Value(random.uniform(-1.0, 1.0)) for _ in range(nin)]
        self.b = Value(random.uniform(-1.0, 1.0))
        self.nonlin = nonlin
        # END SOLUTION

    def __call__(self, x: Input) -> Value:
        # BEGIN SOLUTION lab03
        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return act.tanh() if self.nonlin else act
        # END SOLUTION

    def parameters(self) -> list[Value]:
        # BEGIN SOLUTION lab03
        return [*self.w, self.b]
        # END SOLUTION


class Layer(Module):
    """``nout`` independent neurons that all read the same input."""

    neurons: list[Neuron]

    def __init__(self, nin: int, nout: int, nonlin: bool = True) -> None:
        # BEGIN SOLUTION lab03
        self.neurons = [Neuron(nin, nonlin) for _ in range(nout)]
        # END SOLUTION

    def __call__(self, x: Input) -> Value | list[Value]:
        # BEGIN SOLUTION lab03
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs
        # END SOLUTION

    def parameters(self) -> list[Value]:
        # BEGIN SOLUTION lab03
        return [p for n in self.neurons for p in n.parameters()]
        # END SOLUTION


class MLP(Module):
    """Layers chained ``nin -> nouts[0] -> ... -> nouts[-1]``, every neuron tanh."""

    layers: list[Layer]

    def __init__(self, nin: int, nouts: list[int]) -> None:
        # BEGIN SOLUTION lab03
        sizes = [nin, *nouts]
        self.layers = [Layer(sizes[i], sizes[i + 1]) for i in range(len(nouts))]
        # END SOLUTION

    def __call__(self, x: Input) -> Value | list[Value]:
        # BEGIN SOLUTION lab03
        out: Value | list[Value] = [v if isinstance(v, Value) else Value(v) for v in x]
        for layer in self.layers:
            out = layer([out] if isinstance(out, Value) else out)
        return out
        # END SOLUTION

    def parameters(self) -> list[Value]:
        # BEGIN SOLUTION lab03
        return [p for layer in self.layers for p in layer.parameters()]
        # END SOLUTION
