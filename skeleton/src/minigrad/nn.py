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
        raise NotImplementedError("TODO lab03: Module.zero_grad, see labs/lab03-nn.md")


class Neuron(Module):
    """``tanh(w . x + b)`` (or just ``w . x + b`` when ``nonlin`` is False)."""

    w: list[Value]
    b: Value
    nonlin: bool

    def __init__(self, nin: int, nonlin: bool = True) -> None:
        raise NotImplementedError("TODO lab03: Neuron.__init__, see labs/lab03-nn.md")

    def __call__(self, x: Input) -> Value:
        raise NotImplementedError("TODO lab03: Neuron.__call__, see labs/lab03-nn.md")

    def parameters(self) -> list[Value]:
        raise NotImplementedError("TODO lab03: Neuron.parameters, see labs/lab03-nn.md")


class Layer(Module):
    """``nout`` independent neurons that all read the same input."""

    neurons: list[Neuron]

    def __init__(self, nin: int, nout: int, nonlin: bool = True) -> None:
        raise NotImplementedError("TODO lab03: Layer.__init__, see labs/lab03-nn.md")

    def __call__(self, x: Input) -> Value | list[Value]:
        raise NotImplementedError("TODO lab03: Layer.__call__, see labs/lab03-nn.md")

    def parameters(self) -> list[Value]:
        raise NotImplementedError("TODO lab03: Layer.parameters, see labs/lab03-nn.md")


class MLP(Module):
    """Layers chained ``nin -> nouts[0] -> ... -> nouts[-1]``, every neuron tanh."""

    layers: list[Layer]

    def __init__(self, nin: int, nouts: list[int]) -> None:
        raise NotImplementedError("TODO lab03: MLP.__init__, see labs/lab03-nn.md")

    def __call__(self, x: Input) -> Value | list[Value]:
        raise NotImplementedError("TODO lab03: MLP.__call__, see labs/lab03-nn.md")

    def parameters(self) -> list[Value]:
        raise NotImplementedError("TODO lab03: MLP.parameters, see labs/lab03-nn.md")
