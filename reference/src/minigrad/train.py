"""Training with plain stochastic gradient descent, and the course's two datasets."""

from __future__ import annotations

from collections.abc import Sequence

from minigrad.nn import MLP
from minigrad.scalar import Value

Dataset = tuple[list[list[float]], list[list[float]]]

TENSES = ["work", "worked", "will work", "is working", "has worked"]


def toy_dataset() -> tuple[list[list[float]], list[float]]:
    """Four points in R^3 and their targets (+1 or -1)."""
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    return xs, ys


def one_hot(i: int, n: int) -> list[float]:
    """A list of ``n`` zeros with a 1.0 at index ``i``."""
    # BEGIN SOLUTION lab04
    return [1.0 if j == i else 0.0 for j in range(n)]
    # END SOLUTION


def tense_dataset() -> Dataset:
    """The tense-identity task: each of the five forms of "work" (one-hot input) maps
    to its own tense (one-hot target over five logits)."""
    # BEGIN SOLUTION lab04
    n = len(TENSES)
    xs = [one_hot(i, n) for i in range(n)]
    ys = [one_hot(i, n) for i in range(n)]
    return xs, ys
    # END SOLUTION


def squared_error(pred: Value | list[Value], target: float | list[float]) -> Value:
    """Sum of squared differences between a prediction and its target."""
    # BEGIN SOLUTION lab04
    preds = pred if isinstance(pred, list) else [pred]
    targets = target if isinstance(target, list) else [target]
    return sum(((p - t) ** 2 for p, t in zip(preds, targets, strict=True)), Value(0.0))
    # END SOLUTION


def fit(
    model: MLP,
    xs: list[list[float]],
    ys: Sequence[float | list[float]],
    epochs: int,
    lr: float,
) -> list[float]:
    """Full-batch gradient descent on the sum-of-squared-error loss.

    Each epoch: forward over every example, zero the gradients, backward, then
    ``p.data -= lr * p.grad`` for every parameter. Returns the loss of each epoch
    (measured before that epoch's update).
    """
    # BEGIN SOLUTION lab04
    losses: list[float] = []
    for _ in range(epochs):
        loss = sum((squared_error(model(x), y) for x, y in zip(xs, ys, strict=True)), Value(0.0))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses
    # END SOLUTION
