"""The grader's own network arithmetic (grader/netmath.py) against PyTorch float64, the
child's reading of a network's parameters, and the shapes every read must have
(grader/shapes.py): the pieces that let the grader check a network's numbers itself."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from grader import netmath, shapes
from grader.child.objects import net_objects
from grader.netmath import Act, Layout
from grader.sandbox import StudentFault

torch = pytest.importorskip("torch")


def random_layout(sizes: list[int], seed: int, tied: bool = False) -> Layout:
    """A network of ``sizes`` with random parameters; ``tied``: every neuron of a layer
    is one object (the repeated-neuron mistake), so its places share parameters."""
    rng = random.Random(seed)
    structure: netmath.Structure = []
    count = 0
    for nin, nout in itertools.pairwise(sizes):
        layer: list[list[int]] = []
        for k in range(nout):
            if tied and k:
                layer.append(list(layer[0]))
                continue
            layer.append(list(range(count, count + nin + 1)))
            count += nin + 1
        structure.append(layer)
    data = [rng.uniform(-1.0, 1.0) for _ in range(count)]
    return Layout(structure, data, [0.0] * count, None)


def torch_loss(
    layout: Layout, act: Act, xs: list[list[float]], ys: list[list[float]]
) -> tuple[float, list[float]]:
    """The sum of squared errors and its gradient per object, by PyTorch autograd."""
    p = torch.tensor(layout.data, dtype=torch.float64, requires_grad=True)
    f = {
        "tanh": torch.tanh,
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "linear": lambda z: z,
    }
    total = torch.zeros((), dtype=torch.float64)
    last = len(layout.structure) - 1
    for x, y in zip(xs, ys, strict=True):
        values = [torch.tensor(v, dtype=torch.float64) for v in x]
        for depth, layer in enumerate(layout.structure):
            g = f[act.last if depth == last else act.hidden]
            values = [
                g(p[neuron[-1]] + sum(p[i] * v for i, v in zip(neuron, values, strict=False)))
                for neuron in layer
            ]
        total = total + sum((o - t) ** 2 for o, t in zip(values, y, strict=True))
    total.backward()
    assert p.grad is not None
    return float(total.detach()), p.grad.tolist()


CASES = [
    ([3, 4, 4, 1], Act("tanh", "tanh"), False),
    ([3, 4, 4, 1], Act("relu", "relu"), False),
    ([3, 4, 4, 1], Act("tanh", "linear"), True),
    ([5, 8, 5], Act("sigmoid", "sigmoid"), False),
    ([3, 1], Act("linear", "linear"), False),
]


@pytest.mark.parametrize(("sizes", "act", "tied"), CASES)
def test_loss_and_gradient_agree_with_pytorch(sizes: list[int], act: Act, tied: bool) -> None:
    layout = random_layout(sizes, seed=sum(sizes), tied=tied)
    rng = random.Random(7)
    xs = [[rng.uniform(-2.0, 2.0) for _ in range(sizes[0])] for _ in range(4)]
    ys = [[rng.choice([-1.0, 1.0]) for _ in range(sizes[-1])] for _ in range(4)]
    want, want_grad = torch_loss(layout, act, xs, ys)
    got, grad = netmath.sse_grad(layout, act, xs, ys)
    assert netmath.close(want, got, 1e-12)
    assert netmath.close(want, netmath.sse(layout, act, xs, ys), 1e-12)
    assert all(netmath.close(w, g, 1e-10, 1e-12) for w, g in zip(want_grad, grad, strict=True))
    if tied:  # a shared object's gradient is the sum over its places, not one place's
        assert len(layout.data) < len(layout.slots())


def test_an_output_gradient_is_a_backward_from_that_output() -> None:
    layout = random_layout([3, 4, 2], seed=3)
    act = Act("tanh", "tanh")
    x = [2.0, 3.0, -1.0]
    h = 1e-6
    grad = netmath.output_grad(layout, act, x, which=1)
    for i in range(len(layout.data)):
        up, down = list(layout.data), list(layout.data)
        up[i] += h
        down[i] -= h
        slope = (
            netmath.outputs(layout.with_data(up), act, x)[1]
            - netmath.outputs(layout.with_data(down), act, x)[1]
        ) / (2 * h)
        assert netmath.close(slope, grad[i], 1e-6, 1e-8)


def test_explain_finds_the_activation_and_refuses_made_up_outputs() -> None:
    layout = random_layout([3, 4, 4, 1], seed=11)
    x = [2.0, 3.0, -1.0]
    for act in netmath.FAMILY:
        outs = netmath.outputs(layout, act, x)
        found = netmath.explain(layout, [(x, outs)])
        assert found is not None
        assert netmath.outputs(layout, found, x) == outs
    assert netmath.explain(layout, [(x, [0.123456789])]) is None
    assert netmath.explain(layout, [(x, [0.1, 0.2])]) is None  # the wrong number of outputs


def test_structure_of_lays_out_parameters_in_the_labs_order() -> None:
    assert netmath.structure_of([2, 2, 1], list(range(9))) == [
        [[0, 1, 2], [3, 4, 5]],
        [[6, 7, 8]],
    ]
    assert netmath.structure_of([2, 2, 1], list(range(8))) is None
    assert netmath.well_formed([[[0, 1, 2], [3, 4, 5]], [[6, 7, 8]]])
    assert not netmath.well_formed([[[0, 1, 2], [3, 4]], [[6, 7, 8]]])
    assert not netmath.well_formed([[[0, 1, 2]], [[6, 7, 8]]])  # reads 2 from a width of 1
    assert not netmath.well_formed([])


# ---------------------------------------------------------------- the child's reading
class P:
    """A parameter: plain data and grad."""

    def __init__(self, data: float) -> None:
        self.data = data
        self.grad = 0.0


class Neuron:
    def __init__(self, nin: int, start: float) -> None:
        self.w = [P(start + i) for i in range(nin)]
        self.b = P(start + nin)

    def parameters(self) -> list[P]:
        return [self.b, *self.w]  # not the lab's order: the names say where each sits


class Layer:
    def __init__(self, neurons: list[Neuron]) -> None:
        self.neurons = neurons

    def parameters(self) -> list[P]:
        return [p for n in self.neurons for p in n.parameters()]


def test_a_network_is_read_by_the_labs_names_and_through_parameters() -> None:
    shared = Neuron(2, 10.0)
    layer = Layer([Neuron(2, 0.0), shared, shared])
    objects, named, listed = net_objects(layer)
    assert named == [[[0, 1, 2], [3, 4, 5], [3, 4, 5]]]
    assert listed == [2, 0, 1, 5, 3, 4, 5, 3, 4]
    assert [o.data for o in objects] == [0.0, 1.0, 2.0, 10.0, 11.0, 12.0]


def test_a_part_that_raises_or_is_not_a_number_is_left_out() -> None:
    class Broken(Layer):
        def parameters(self) -> list[P]:
            raise RuntimeError("no parameters today")

    objects, named, listed = net_objects(Broken([Neuron(1, 0.0)]))
    assert named == [[[0, 1]]] and listed is None and len(objects) == 2

    class Odd:
        def __init__(self) -> None:
            self.w = [P(1.0)]
            self.b = "not a parameter"

        def parameters(self) -> list[P]:
            return list(self.w)

    objects, named, listed = net_objects(Odd())
    assert named is None and listed == [0] and len(objects) == 1


# ---------------------------------------------------------------- shapes of reads
PROGRAM: list[list[Any]] = [
    ["seed", 1],
    ["new", "m", "MLP", 3, [4, 4, 1]],
    ["call", "out", "m", [{"num": 1.0}]],
    ["read", "out"],
    ["length", "n", "m"],
    ["net", "net", "m"],
]
GOOD: dict[str, Any] = {
    "out": {"kind": "Value", "data": 0.5, "grad": 0.0},
    "n": 2,
    "net": {"named": [[[0, 1]]], "listed": [0, 1], "data": [0.1, 0.2], "grad": [0.0, 0.0]},
}


def test_reads_in_the_promised_shapes_pass() -> None:
    shapes.check_reads(PROGRAM, GOOD, None)
    error = {"type": "ValueError", "message": "x", "step": 4}
    shapes.check_reads(PROGRAM, {"out": GOOD["out"]}, error)  # raised before the rest


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("out", 7),
        ("out", {"kind": "Value", "data": "0.5", "grad": 0.0}),
        ("out", {"kind": "list", "items": [1.0]}),
        ("n", 2.0),
        ("n", True),
        ("n", -1),
        ("net", {"named": None, "listed": [5], "data": [0.1], "grad": [0.0]}),
        ("net", {"named": [[0]], "listed": None, "data": [0.1], "grad": [0.0]}),
        ("net", {"named": None, "listed": None, "data": [0.1], "grad": []}),
    ],
)
def test_a_read_of_another_shape_is_the_students_fault(name: str, value: Any) -> None:
    with pytest.raises(StudentFault, match=f"for '{name}'"):
        shapes.check_reads(PROGRAM, {**GOOD, name: value}, None)


def test_missing_and_unasked_reads_are_the_students_fault() -> None:
    with pytest.raises(StudentFault, match="sent back no value for 'net'"):
        shapes.check_reads(PROGRAM, {"out": GOOD["out"], "n": 2}, None)
    with pytest.raises(StudentFault, match="nobody asked for"):
        shapes.check_reads(PROGRAM, {**GOOD, "extra": 1.0}, None)
