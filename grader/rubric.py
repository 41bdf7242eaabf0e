"""The rubric: points, visibility and messages per check, read from rubric.toml and,
where the grader has the hidden checks, rubric_hidden.toml (each of its checks placed
``after`` the check it names, or at the end)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from grader.sandbox import Limits

RUBRIC_PATH = Path(__file__).with_name("rubric.toml")
HIDDEN_NAME = "rubric_hidden.toml"  # next to the rubric; the student release has none
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}


class RubricError(ValueError):
    """rubric.toml is malformed (a grader problem, reported as such)."""


@dataclass(frozen=True)
class Item:
    id: str
    lab: str
    points: float
    visibility: str
    name: str
    message: str
    reread: str
    extra_credit: bool = False  # counts on top of the maximum (Gradescope: max_score 0)


@dataclass(frozen=True)
class Late:
    """The [late] table: the deadline and the penalty for a commit made after it."""

    deadline: datetime | None = None  # None: no deadline, no penalty
    penalty_per_day: float = 0.0  # percent of the earned points, per started day late
    cap: float = 100.0  # the penalty never exceeds this percent


@dataclass(frozen=True)
class Rubric:
    labs: dict[str, str]
    items: dict[str, Item]
    limits: Limits
    late: Late = field(default_factory=Late)

    def max_score(self, lab: str | None = None) -> float:
        return sum(
            i.points
            for i in self.items.values()
            if (lab is None or i.lab == lab) and not i.extra_credit
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(f"cannot read {path}: {exc}") from exc


def merged(path: Path = RUBRIC_PATH) -> dict[str, Any]:
    """The rubric's tables with those of rubric_hidden.toml next to it, if there is one."""
    raw = _read(path)
    hidden_path = path.with_name(HIDDEN_NAME)
    if not hidden_path.is_file():
        return raw
    hidden = _read(hidden_path)
    raw["labs"] = {**raw.get("labs", {}), **hidden.get("labs", {})}
    checks: list[dict[str, Any]] = list(raw.get("check", []))
    for entry in hidden.get("check", []):
        entry = dict(entry)
        after = entry.pop("after", None)
        ids = [str(c.get("id")) for c in checks]
        if after is None:
            checks.append(entry)
        elif after in ids:
            checks.insert(ids.index(after) + 1, entry)
        else:
            raise RubricError(
                f"{hidden_path}: check {entry.get('id')!r} is after unknown {after!r}"
            )
    raw["check"] = checks
    return raw


def load(path: Path = RUBRIC_PATH) -> Rubric:
    raw = merged(path)
    labs = dict(raw.get("labs", {}))
    items: dict[str, Item] = {}
    for entry in raw.get("check", []):
        try:
            item = Item(
                id=str(entry["id"]),
                lab=str(entry["lab"]),
                points=float(entry["points"]),
                visibility=str(entry.get("visibility", "visible")),
                name=str(entry["name"]),
                message=str(entry.get("message", "")),
                reread=str(entry.get("reread", "")),
                extra_credit=bool(entry.get("extra_credit", False)),
            )
        except KeyError as exc:
            raise RubricError(f"{path}: a [[check]] lacks {exc}") from exc
        if item.id in items:
            raise RubricError(f"{path}: check {item.id!r} appears twice")
        if item.lab not in labs:
            raise RubricError(f"{path}: check {item.id!r} names unknown lab {item.lab!r}")
        if item.visibility not in VISIBILITIES:
            raise RubricError(f"{path}: check {item.id!r} has visibility {item.visibility!r}")
        items[item.id] = item
    limits = Limits(**{k: float(v) for k, v in raw.get("limits", {}).items()})
    return Rubric(labs, items, limits, _late(raw.get("late", {}), path))


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset (``2026-12-01T23:59:00+01:00``, ``...Z``)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time such as 2026-12-01T23:59+00:00"
        ) from exc
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset: write it as {text.strip()}+00:00 or Z")
    return when


def _late(raw: Any, path: Path) -> Late:
    if not isinstance(raw, dict):
        raise RubricError(f"{path}: [late] must be a table")
    unknown = set(raw) - {"deadline", "penalty_per_day", "cap"}
    if unknown:
        raise RubricError(f"{path}: [late] has unknown keys {sorted(unknown)}")
    try:
        text = str(raw.get("deadline", "")).strip()
        deadline = parse_time(text) if text else None
        per_day = float(raw.get("penalty_per_day", 0.0))
        cap = float(raw.get("cap", 100.0))
    except ValueError as exc:
        raise RubricError(f"{path}: [late]: {exc}") from exc
    if per_day < 0 or not 0 <= cap <= 100:
        raise RubricError(f"{path}: [late]: penalty_per_day must be >= 0 and cap in 0..100")
    return Late(deadline, per_day, cap)


RUBRIC = load()
