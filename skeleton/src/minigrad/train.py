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
    raise NotImplementedError("TODO lab04: one_hot, see labs/lab04-training.md")


def tense_dataset() -> Dataset:
    """The tense-identity task: each of the five forms of "work" (one-hot input) maps
    to its own tense (one-hot target over five logits)."""
    raise NotImplementedError("TODO lab04: tense_dataset, see labs/lab04-training.md")


def squared_error(pred: Value | list[Value], target: float | list[float]) -> Value:
    """Sum of squared differences between a prediction and its target."""
    raise NotImplementedError("TODO lab04: squared_error, see labs/lab04-training.md")


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
    raise NotImplementedError("TODO lab04: fit, see labs/lab04-training.md")
