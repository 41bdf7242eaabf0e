"""The checks shown after the due date (visibility other than ``visible`` in
grader/rubric_hidden.toml), registered on import like the others.

The student release leaves this folder and grader/rubric_hidden.toml out, and nothing
else of the grader names these checks: the release drops files, it never edits them.
"""

from grader.checks.hidden import graph, nn, student

__all__ = ["graph", "nn", "student"]
