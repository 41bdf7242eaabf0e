"""Late penalties: the ``[late]`` rules of the rubric applied from the graded commit's time."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from grader.results import Graded
from grader.rubric import Late, parse_time

DAY = 86400.0


def penalty(rules: Late, when: datetime, earned: float) -> dict[str, Any] | None:
    """The late record for work committed at ``when`` that earned ``earned`` points.

    None without a deadline. Every started day after the deadline costs
    ``penalty_per_day`` percent of the earned points, up to ``cap`` percent.
    """
    if rules.deadline is None:
        return None
    seconds = (when - rules.deadline).total_seconds()
    days = math.ceil(seconds / DAY) if seconds > 0 else 0
    percent = min(days * rules.penalty_per_day, rules.cap)
    return {
        "deadline": rules.deadline.isoformat(),
        "committed": when.isoformat(),
        "days": days,
        "percent": percent,
        "points": round(earned * percent / 100.0, 2),
    }


def apply(graded: Graded, rules: Late, commit: dict[str, Any] | None) -> Graded:
    """Record the graded commit on ``graded`` and the late penalty its time earns."""
    if not commit or not commit.get("commit"):
        return graded
    graded.commit = {
        "sha": str(commit["commit"]),
        "time": str(commit.get("commit_time", "")),
        "source": str(commit.get("repo", "")),
    }
    try:
        when = parse_time(str(commit.get("commit_time", "")))
    except ValueError:
        return graded  # no usable time: never guess a penalty
    if graded.status == "graded":
        graded.late = penalty(rules, when, graded.score)
    return graded
