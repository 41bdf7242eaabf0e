"""The rubric: points, visibility and messages per check, read from rubric.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.sandbox import Limits

RUBRIC_PATH = Path(__file__).with_name("rubric.toml")
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
class Rubric:
    labs: dict[str, str]
    items: dict[str, Item]
    limits: Limits

    def max_score(self, lab: str | None = None) -> float:
        return sum(
            i.points
            for i in self.items.values()
            if (lab is None or i.lab == lab) and not i.extra_credit
        )


def load(path: Path = RUBRIC_PATH) -> Rubric:
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(f"cannot read {path}: {exc}") from exc
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
    return Rubric(labs, items, limits)


RUBRIC = load()
