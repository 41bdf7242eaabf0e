"""The grader's own MLP, in plain floats: forward, loss and gradients from a network's
reported parameters, so that what the student's code reports about a network can be
checked against what those parameters really compute (``grader.checks.proof``).

A network is a ``Layout``: its parameter objects (each with the ``data`` and ``grad``
the student's process read from it) and where each sits: layer by layer, neuron by
neuron, ``[w..., b]``. One object may sit in several places (a neuron object repeated
across a layer shares its weights); its gradient is then the sum over those places.
Standard library only, and no torch: grading a correct submission stays cheap.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Structure = list[list[list[int]]]  # layer -> neuron -> object ids [w..., b]


def _relu(z: float) -> float:
    return z if z > 0.0 else 0.0


def _sigmoid(z: float) -> float:
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _linear(z: float) -> float:
    return z


# name -> (f(z), f'(z) from z and y = f(z)); ReLU's slope at 0 is 0, as in the course.
ACTIVATIONS: dict[str, tuple[Callable[[float], float], Callable[[float, float], float]]] = {
    "tanh": (math.tanh, lambda z, y: 1.0 - y * y),
    "relu": (_relu, lambda z, y: 1.0 if z > 0.0 else 0.0),
    "sigmoid": (_sigmoid, lambda z, y: y * (1.0 - y)),
    "linear": (_linear, lambda z, y: 1.0),
}


@dataclass(frozen=True)
class Act:
    """The activation of the hidden layers and of the last one."""

    hidden: str
    last: str

    @property
    def name(self) -> str:
        return self.hidden if self.last == self.hidden else f"{self.hidden}-{self.last}-output"


# Activations seen in student networks, the lab's first: the same everywhere, or a
# linear last layer.
FAMILY = [Act(a, a) for a in ACTIVATIONS] + [Act(a, "linear") for a in ACTIVATIONS if a != "linear"]


@dataclass(frozen=True)
class Layout:
    """A network's parameters as reported: each object's value and gradient, the places
    it sits in, and (when readable) the objects ``parameters()`` lists, in its order."""

    structure: Structure
    data: list[float]
    grad: list[float]
    listed: list[int] | None

    @property
    def sizes(self) -> list[int]:
        """[inputs, width of each layer]."""
        return [len(self.structure[0][0]) - 1, *(len(layer) for layer in self.structure)]

    def slots(self) -> list[int]:
        """Every place's object, layer by layer, neuron by neuron, [w..., b]."""
        return [i for layer in self.structure for neuron in layer for i in neuron]

    def with_data(self, data: list[float]) -> Layout:
        return Layout(self.structure, data, self.grad, self.listed)


def structure_of(sizes: Sequence[int], ids: Sequence[int]) -> Structure | None:
    """``ids`` cut into layers of neurons ``[w..., b]`` for a network of ``sizes``
    (inputs, then each layer's width); None when the count does not fit."""
    if sum((a + 1) * b for a, b in itertools.pairwise(sizes)) != len(ids):
        return None
    layers: Structure = []
    i = 0
    for nin, nout in itertools.pairwise(sizes):
        layer = []
        for _ in range(nout):
            layer.append(list(ids[i : i + nin + 1]))
            i += nin + 1
        layers.append(layer)
    return layers


def well_formed(structure: Structure) -> bool:
    """Layers of neurons whose weight counts chain: each layer reads the one before."""
    if not structure or not all(structure):
        return False
    width = len(structure[0][0]) - 1
    for layer in structure:
        if width < 1 or any(len(neuron) != width + 1 for neuron in layer):
            return False
        width = len(layer)
    return True


Weights = list[list[tuple[list[float], float]]]  # layer -> neuron -> (weights, bias)
Cache = list[tuple[list[float], list[float], list[float]]]  # per layer: input, z, y


def weights(layout: Layout) -> Weights:
    """Each neuron's weights and bias as numbers, layer by layer."""
    data = layout.data
    return [
        [([data[i] for i in neuron[:-1]], data[neuron[-1]]) for neuron in layer]
        for layer in layout.structure
    ]


def _acts(layout: Layout, act: Act, which: int) -> list[Callable[..., float]]:
    """Each layer's activation (``which`` 0) or its slope (1)."""
    last = len(layout.structure) - 1
    return [
        ACTIVATIONS[act.last if depth == last else act.hidden][which] for depth in range(last + 1)
    ]


def _forward(net: Weights, fs: list[Callable[..., float]], x: Sequence[float]) -> Cache:
    values = list(x)
    cache: Cache = []
    for layer, f in zip(net, fs, strict=True):
        # b + w0*x0 + w1*x1 + ...: the lab's sum(..., b), in its order
        zs = [sum(map(operator.mul, w, values), b) for w, b in layer]
        ys = [f(z) for z in zs]
        cache.append((values, zs, ys))
        values = ys
    return cache


def _backward(
    net: Weights,
    slopes: list[Callable[..., float]],
    cache: Cache,
    upstream: Sequence[float],
    into: list[list[list[float]]],
) -> None:
    """Add d(sum of upstream * outputs) / d place to ``into`` (layer -> neuron ->
    [d/dw..., d/db])."""
    g = list(upstream)
    for depth in range(len(net) - 1, -1, -1):
        values, zs, ys = cache[depth]
        slope = slopes[depth]
        ds = [gj * slope(z, y) for gj, z, y in zip(g, zs, ys, strict=True)]
        rows = into[depth]
        for j, d in enumerate(ds):
            if d != 0.0:
                row = rows[j]
                rows[j] = [r + d * v for r, v in zip(row, values, strict=False)] + [row[-1] + d]
        if depth:  # what flows to the layer below: d/d input k = sum over j of d_j * w_jk
            g = [
                sum(map(operator.mul, ds, column))
                for column in zip(*(w for w, _ in net[depth]), strict=True)
            ]


def _zeros(net: Weights) -> list[list[list[float]]]:
    return [[[0.0] * (len(w) + 1) for w, _ in layer] for layer in net]


def _per_object(layout: Layout, places: list[list[list[float]]]) -> list[float]:
    """Gradients by place summed into one per object (an object may sit in several)."""
    grad = [0.0] * len(layout.data)
    for layer, rows in zip(layout.structure, places, strict=True):
        for neuron, row in zip(layer, rows, strict=True):
            for i, g in zip(neuron, row, strict=True):
                grad[i] += g
    return grad


def forward(layout: Layout, act: Act, x: Sequence[float]) -> tuple[list[float], Cache]:
    """The network's outputs for input ``x`` (and what backward needs)."""
    cache = _forward(weights(layout), _acts(layout, act, 0), x)
    return cache[-1][2], cache


def outputs(layout: Layout, act: Act, x: Sequence[float]) -> list[float]:
    return forward(layout, act, x)[0]


def output_grad(layout: Layout, act: Act, x: Sequence[float], which: int = 0) -> list[float]:
    """d output[which] / d object, for each object (a backward() from that output)."""
    net = weights(layout)
    cache = _forward(net, _acts(layout, act, 0), x)
    upstream = [0.0] * len(cache[-1][2])
    upstream[which] = 1.0
    places = _zeros(net)
    _backward(net, _acts(layout, act, 1), cache, upstream, places)
    return _per_object(layout, places)


def sse(
    layout: Layout, act: Act, xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]]
) -> float:
    """Sum over the examples of the squared errors of every output."""
    net, fs = weights(layout), _acts(layout, act, 0)
    total = 0.0
    for x, y in zip(xs, ys, strict=True):
        outs = _forward(net, fs, x)[-1][2]
        for o, t in zip(outs, y, strict=True):
            total += (o - t) * (o - t)
    return total


def sse_grad(
    layout: Layout, act: Act, xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]]
) -> tuple[float, list[float]]:
    """The sum of squared errors and its gradient, one entry per object."""
    net, fs, slopes = weights(layout), _acts(layout, act, 0), _acts(layout, act, 1)
    places = _zeros(net)
    total = 0.0
    for x, y in zip(xs, ys, strict=True):
        cache = _forward(net, fs, x)
        diffs = [o - t for o, t in zip(cache[-1][2], y, strict=True)]
        total += sum(d * d for d in diffs)
        _backward(net, slopes, cache, [2.0 * d for d in diffs], places)
    return total, _per_object(layout, places)


def close(want: float, got: float, rel: float = 1e-9, tol: float = 1e-9) -> bool:
    """Equal within ``rel`` (relative) or ``tol`` (absolute); nan and inf only to
    themselves."""
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return want == got
    return math.isclose(want, got, rel_tol=rel, abs_tol=tol)


def explain(layout: Layout, cases: Sequence[tuple[Sequence[float], Sequence[float]]]) -> Act | None:
    """The first activation of ``FAMILY`` under which the network computes every
    ``(input, outputs)`` case; None when none does."""
    for act in FAMILY:
        if all(
            len(outs) == len(want := outputs(layout, act, x))
            and all(close(w, o) for w, o in zip(want, outs, strict=True))
            for x, outs in cases
        ):
            return act
    return None
