"""All checks, registered on import. The rubric (grader/rubric.toml) sets the order they run in."""

from grader.checks import graph, nn, ops, quality, student, train, viz
from grader.checks.base import REGISTRY, Check, Context, Fail

__all__ = [
    "REGISTRY",
    "Check",
    "Context",
    "Fail",
    "graph",
    "nn",
    "ops",
    "quality",
    "student",
    "train",
    "viz",
]
