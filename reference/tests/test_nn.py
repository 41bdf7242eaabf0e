"""Neuron, Layer and MLP: parameter counts and order, initialisation, forward pass."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence

import pytest
import torch
import torch_mlp
from minigrad import Value
from minigrad.nn import MLP, Layer, Module, Neuron


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(1234)


def distinct(params: Sequence[Value]) -> int:
    return len(set(map(id, params)))


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda: Neuron(3), 4, id="Neuron(3)"),
        pytest.param(lambda: Layer(3, 4), 16, id="Layer(3,4)"),
        pytest.param(lambda: MLP(3, [4, 4, 1]), 41, id="MLP(3,[4,4,1])"),
        pytest.param(lambda: MLP(5, [8, 5]), 8 * 6 + 5 * 9, id="MLP(5,[8,5])"),
    ],
)
def test_parameter_count_counts_distinct_objects(make: Callable[[], Module], expected: int) -> None:
    params = make().parameters()
    assert len(params) == expected
    assert distinct(params) == expected
    assert all(isinstance(p, Value) for p in params)


def test_base_module_has_no_parameters() -> None:
    assert Module().parameters() == []
    Module().zero_grad()  # nothing to reset, must not fail


def test_zero_grad_zeroes_every_parameter() -> None:
    model = MLP(3, [4, 4, 1])
    for i, p in enumerate(model.parameters()):
        p.grad = float(i + 1)
    model.zero_grad()
    assert [p.grad for p in model.parameters()] == [0.0] * 41


def test_layer_of_one_returns_a_value_and_of_two_a_list() -> None:
    single = Layer(3, 1)([1.0, 2.0, 3.0])
    assert isinstance(single, Value)
    pair = Layer(3, 2)([1.0, 2.0, 3.0])
    assert isinstance(pair, list)
    assert len(pair) == 2
    assert all(isinstance(v, Value) for v in pair)
    assert pair[0] is not pair[1]


def test_weights_are_in_range_and_not_all_equal() -> None:
    params = MLP(3, [4, 4, 1]).parameters()
    data = [p.data for p in params]
    assert all(-1.0 <= x <= 1.0 for x in data)
    assert len(set(data)) > 1
    assert not any(x == 0.0 for x in data)


def test_init_is_uniform_over_minus_one_to_one() -> None:
    """Weights and biases both spread over [-1, 1] (not [0, 1], not a constant)."""
    weights = Neuron(4000).parameters()[:-1]
    assert all(-1.0 <= w.data <= 1.0 for w in weights)
    assert min(w.data for w in weights) < -0.95
    assert max(w.data for w in weights) > 0.95
    assert abs(sum(w.data for w in weights) / len(weights)) < 0.05  # sd of the mean ~0.009
    biases = [n.parameters()[-1].data for n in Layer(1, 400).neurons]
    assert all(-1.0 <= b <= 1.0 for b in biases)
    assert min(biases) < -0.8 and max(biases) > 0.8


def test_neurons_of_a_layer_are_distinct_objects() -> None:
    layer = Layer(3, 4)
    assert len(set(map(id, layer.neurons))) == 4


def manual_forward(nin: int, nouts: list[int], params: list[Value], x: list[float]) -> list[float]:
    """tanh(w . x + b) layer by layer, reading the flat parameter list in the documented
    order: per layer, per neuron, the neuron's weights then its bias."""
    flat = iter(p.data for p in params)
    acts = list(x)
    sizes = [nin, *nouts]
    for fan_in, fan_out in itertools.pairwise(sizes):
        new = []
        for _ in range(fan_out):
            weights = [next(flat) for _ in range(fan_in)]
            bias = next(flat)
            new.append(math.tanh(sum(w * a for w, a in zip(weights, acts, strict=True)) + bias))
        acts = new
    assert next(flat, None) is None, "every parameter used exactly once"
    return acts


@pytest.mark.parametrize(("nin", "nouts"), [(3, [4, 4, 1]), (5, [8, 5]), (2, [3])])
def test_parameter_order_matches_a_manual_forward(nin: int, nouts: list[int]) -> None:
    model = MLP(nin, nouts)
    x = [0.5 * (i + 1) * (-1) ** i for i in range(nin)]
    out = model(x)
    outs = out if isinstance(out, list) else [out]
    expected = manual_forward(nin, nouts, model.parameters(), x)
    assert len(outs) == len(expected)
    for got, want in zip(outs, expected, strict=True):
        assert math.isclose(got.data, want, rel_tol=1e-12, abs_tol=1e-12)


def test_neuron_parameters_are_weights_then_bias() -> None:
    neuron = Neuron(3)
    params = neuron.parameters()
    x = [0.3, -1.2, 2.0]
    expected = math.tanh(
        sum(p.data * xi for p, xi in zip(params[:3], x, strict=True)) + params[3].data
    )
    assert math.isclose(neuron(x).data, expected, rel_tol=1e-12, abs_tol=1e-12)


def test_linear_neuron_skips_tanh() -> None:
    neuron = Neuron(2, nonlin=False)
    w1, w2, b = (p.data for p in neuron.parameters())
    assert math.isclose(neuron([2.0, -3.0]).data, 2.0 * w1 - 3.0 * w2 + b, rel_tol=1e-12)


@pytest.mark.parametrize("kind", ["neuron", "layer", "mlp"])
def test_callables_accept_floats_and_values_alike(kind: str) -> None:
    model: Neuron | Layer | MLP
    if kind == "neuron":
        model = Neuron(3)
    elif kind == "layer":
        model = Layer(3, 2)
    else:
        model = MLP(3, [4, 2])
    floats = [1.0, -2.0, 0.5]
    values = [Value(x) for x in floats]
    mixed: list[Value | float] = [values[0], -2.0, values[2]]
    results = [model(floats), model(values), model(mixed)]
    as_lists = [r if isinstance(r, list) else [r] for r in results]
    for outs in as_lists[1:]:
        assert [v.data for v in outs] == [v.data for v in as_lists[0]]

    # gradients flow back into Value inputs
    root = sum(as_lists[1], Value(0.0))
    root.backward()
    assert any(v.grad != 0.0 for v in values)


def test_mlp_gradients_match_torch() -> None:
    """The whole network's parameter gradients against PyTorch float64."""
    model = MLP(3, [4, 4, 1])
    x = [2.0, 3.0, -1.0]
    out = model(x)
    assert isinstance(out, Value)
    loss = (out - 1.0) ** 2
    loss.backward()

    params = [
        torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in model.parameters()
    ]
    t_loss = (torch_mlp.forward(params, x) - 1.0) ** 2
    torch.autograd.backward(t_loss)
    assert math.isclose(loss.data, float(t_loss.item()), rel_tol=1e-12, abs_tol=1e-12)
    for p, t in zip(model.parameters(), params, strict=True):
        assert t.grad is not None
        assert math.isclose(p.grad, float(t.grad.item()), rel_tol=1e-9, abs_tol=1e-12)
