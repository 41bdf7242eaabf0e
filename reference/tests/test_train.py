"""The two datasets, the loss, one SGD step against torch, and training to convergence.

Thresholds were chosen from measured runs (seeds 0-9) with a wide margin:
- toy, MLP(3, [4, 4, 1]), lr 0.05, 100 epochs: final loss 0.0045-0.0088 (threshold 0.05);
- tense, MLP(5, [8, 5]), lr 0.05, 300 epochs: final loss 0.005-0.033, below 0.5 from
  epoch 23-47 on (threshold 0.5, as in lab04-training.md);
- lr 10: the tanh units saturate, the gradients vanish and the loss gets stuck high:
  toy about 8 (half the targets wrong), tense 24-32, above where it started.
"""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch_mlp
from minigrad import Value
from minigrad.nn import MLP
from minigrad.train import TENSES, fit, one_hot, squared_error, tense_dataset, toy_dataset

SEEDS = range(5)


def test_toy_dataset_is_the_course_one() -> None:
    xs, ys = toy_dataset()
    assert xs == [[2, 3, -1], [3, -1, 0.5], [0.5, 1, 1], [1, 1, -1]]
    assert ys == [1, -1, -1, 1]


def test_one_hot() -> None:
    assert one_hot(0, 3) == [1.0, 0.0, 0.0]
    assert one_hot(2, 5) == [0.0, 0.0, 1.0, 0.0, 0.0]


def test_tense_dataset_is_five_one_hot_inputs_to_their_own_tense() -> None:
    assert TENSES == ["work", "worked", "will work", "is working", "has worked"]
    xs, ys = tense_dataset()
    assert len(xs) == len(ys) == 5
    identity = [[1.0 if i == j else 0.0 for j in range(5)] for i in range(5)]
    for x, y in zip(xs, ys, strict=True):
        assert len(x) == len(y) == 5
        assert sorted(x) == sorted(y) == [0.0, 0.0, 0.0, 0.0, 1.0]
        assert x.index(1.0) == y.index(1.0), "each form maps to its own tense"
    assert sorted(xs) == sorted(identity)


def test_squared_error_value_and_gradient() -> None:
    p = Value(0.25)
    loss = squared_error(p, -1.0)
    loss.backward()
    assert loss.data == (0.25 + 1.0) ** 2
    assert p.grad == 2 * (0.25 + 1.0)

    preds = [Value(0.5), Value(-0.5), Value(2.0)]
    loss = squared_error(preds, [1.0, 0.0, 2.0])
    loss.backward()
    assert loss.data == 0.25 + 0.25 + 0.0
    assert [v.grad for v in preds] == [-1.0, -1.0, 0.0]


def torch_sgd(
    params: list[float], xs: list[list[float]], ys: list[float], steps: int, lr: float
) -> tuple[list[float], list[float]]:
    """Full-batch SGD on MLP(3, [4, 4, 1]) in torch float64, reading the flat parameter
    list as per layer / per neuron / weights then bias. Returns (losses, final params)."""
    ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    losses = []
    for _ in range(steps):
        total = torch.tensor(0.0, dtype=torch.float64)
        for x, y in zip(xs, ys, strict=True):
            total = total + (torch_mlp.forward(ts, x) - y) ** 2
        for t in ts:
            t.grad = None
        torch.autograd.backward(total)
        with torch.no_grad():
            for t in ts:
                assert t.grad is not None
                t -= lr * t.grad
        losses.append(float(total.item()))
    return losses, [float(t.item()) for t in ts]


def test_fit_does_plain_sgd_like_torch() -> None:
    """Three epochs of fit == three torch SGD steps: catches a missing zero_grad (grads
    would pile up from the second epoch on) and a wrong update sign."""
    random.seed(7)
    model = MLP(3, [4, 4, 1])
    xs, ys = toy_dataset()
    start = [p.data for p in model.parameters()]
    losses = fit(model, xs, ys, epochs=3, lr=0.1)
    expected_losses, expected_params = torch_sgd(start, xs, ys, steps=3, lr=0.1)
    assert len(losses) == 3
    for got, want in zip(losses, expected_losses, strict=True):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    for p, want in zip(model.parameters(), expected_params, strict=True):
        assert math.isclose(p.data, want, rel_tol=1e-9, abs_tol=1e-12)


def test_fit_returns_one_float_per_epoch() -> None:
    random.seed(0)
    xs, ys = toy_dataset()
    losses = fit(MLP(3, [4, 4, 1]), xs, ys, epochs=7, lr=0.05)
    assert len(losses) == 7
    assert all(type(loss) is float for loss in losses)
    assert fit(MLP(3, [4, 4, 1]), xs, ys, epochs=0, lr=0.05) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_toy_loss_falls_near_zero_within_100_epochs(seed: int) -> None:
    random.seed(seed)
    xs, ys = toy_dataset()
    losses = fit(MLP(3, [4, 4, 1]), xs, ys, epochs=100, lr=0.05)
    assert len(losses) == 100
    assert losses[0] > 1.0
    assert losses[0] > losses[-1]
    assert losses[-1] < 0.05


@pytest.mark.parametrize("seed", SEEDS)
def test_tense_identity_reaches_half_within_300_epochs(seed: int) -> None:
    random.seed(seed)
    xs, ys = tense_dataset()
    model = MLP(5, [8, 5])
    # fit keeps no state beyond the model, so 25-epoch chunks equal one 300-epoch call;
    # stopping once the loss is below 0.5 keeps the suite fast.
    losses: list[float] = []
    while len(losses) < 300 and not (losses and losses[-1] < 0.5):
        losses += fit(model, xs, ys, epochs=25, lr=0.05)
    assert len(losses) <= 300
    assert losses[0] > losses[-1]
    assert losses[-1] < 0.5
    # and the trained net picks the right tense for every form
    for x, y in zip(xs, ys, strict=True):
        out = model(x)
        assert isinstance(out, list)
        logits = [v.data for v in out]
        assert logits.index(max(logits)) == y.index(1.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_learning_rate_10_does_not_converge_on_toy(seed: int) -> None:
    random.seed(seed)
    xs, ys = toy_dataset()
    losses = fit(MLP(3, [4, 4, 1]), xs, ys, epochs=100, lr=10.0)
    assert losses[-1] > 0.5
    assert min(losses) > 0.5  # never even passes through a good solution


@pytest.mark.parametrize("seed", SEEDS)
def test_learning_rate_10_makes_tense_loss_grow(seed: int) -> None:
    random.seed(seed)
    xs, ys = tense_dataset()
    losses = fit(MLP(5, [8, 5]), xs, ys, epochs=30, lr=10.0)
    assert losses[-1] > 0.5
    assert losses[-1] > losses[0]
