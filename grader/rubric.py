"""The rubric: points, visibility and messages per check, read from rubric.toml and,
where the grader has the hidden checks, rubric_hidden.toml (each of its checks placed
``after`` the check it names, or at the end)."""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from grader import i18n
from grader.i18n import ENGLISH
from grader.sandbox import Limits

RUBRIC_PATH = Path(__file__).with_name("rubric.toml")
HIDDEN_NAME = "rubric_hidden.toml"  # next to the rubric; the student release has none
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}


class RubricError(ValueError):
    """rubric.toml is malformed (a grader problem, reported as such): a one-line message."""


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
class RosterColumns:
    """The [roster] table: which roster columns hold the login and the repository, when
    their headers are not among the names the roster reader knows (grader/roster.py)."""

    login_column: str = ""
    repo_column: str = ""
    repo_template: str = ""  # e.g. https://github.com/my-course/minigrad-{login}


@dataclass(frozen=True)
class Rubric:
    labs: dict[str, str]
    items: dict[str, Item]
    limits: Limits
    late: Late = field(default_factory=Late)
    zone: tzinfo = UTC  # [course] time_zone: what a date or time without an offset means
    roster: RosterColumns = field(default_factory=RosterColumns)
    language: str = ENGLISH  # [course] language: what reports are written in by default

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
    labs = {str(k): str(v) for k, v in _table(raw, "labs", None, path).items()}
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
        except (TypeError, ValueError, AttributeError) as exc:
            raise RubricError(f"{path}: a [[check]] has a malformed value: {exc}") from exc
        if item.id in items:
            raise RubricError(f"{path}: check {item.id!r} appears twice")
        if item.lab not in labs:
            raise RubricError(f"{path}: check {item.id!r} names unknown lab {item.lab!r}")
        if item.visibility not in VISIBILITIES:
            raise RubricError(f"{path}: check {item.id!r} has visibility {item.visibility!r}")
        items[item.id] = item
    course = _table(raw, "course", {"time_zone", "language"}, path)
    zone = _zone(course, path)
    try:
        language = i18n.check(str(course.get("language", ENGLISH)), "[course] language")
    except i18n.LanguageError as exc:
        raise RubricError(f"{path}: {exc}") from None
    return Rubric(
        labs,
        items,
        _limits(_table(raw, "limits", {f.name for f in fields(Limits)}, path), path),
        _late(_table(raw, "late", {"deadline", "penalty_per_day", "cap"}, path), path, zone),
        zone,
        _roster(_table(raw, "roster", {f.name for f in fields(RosterColumns)}, path), path),
        language,
    )


def _table(raw: dict[str, Any], name: str, keys: set[str] | None, path: Path) -> dict[str, Any]:
    """The rubric's table ``name`` ({} when absent), holding only ``keys`` (None: any)."""
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise RubricError(f"{path}: [{name}] must be a table")
    unknown = set(table) - keys if keys is not None else set()
    if keys is not None and unknown:
        raise RubricError(
            f"{path}: [{name}] has unknown keys {sorted(unknown)} (known: {sorted(keys)})"
        )
    return table


def _limits(raw: dict[str, Any], path: Path) -> Limits:
    try:
        values = {k: float(v) for k, v in raw.items()}
    except (TypeError, ValueError) as exc:
        raise RubricError(f"{path}: [limits]: every limit is a number ({exc})") from exc
    return Limits(**values)


# A date, optionally a time (hours and minutes, seconds, fractions), optionally an offset.
_WHEN = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?"
    r" ?(?P<offset>Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
TIME_EXAMPLE = "2026-12-01 23:59"


def parse_time(text: str, zone: tzinfo = UTC) -> datetime:
    """A date and time as people type them, in ``zone`` unless it carries an offset.

    ``2026-12-01`` (the end of that day: 23:59:59), ``2026-12-01 23:59``,
    ``2026-12-01T23:59:30``, each optionally followed by an offset (``Z``, ``+01:00``,
    ``-0500``). Anything else raises ValueError with one line and one correct example.
    """
    given = text.strip()
    found = _WHEN.fullmatch(given)
    try:
        if found is None:
            raise ValueError(given)
        day = date.fromisoformat(found["date"])
        clock = time.fromisoformat(found["time"]) if found["time"] else time(23, 59, 59)
        offset = found["offset"]
        where: tzinfo = zone if not offset else _offset(offset)
    except ValueError:
        raise ValueError(
            f"{given!r} is not a date and time: write it like {TIME_EXAMPLE} (a date alone "
            "means 23:59:59 that day; without an offset such as +01:00 it is in the course's "
            f"time zone, {zone})"
        ) from None
    return datetime.combine(day, clock, tzinfo=where)


def _offset(text: str) -> tzinfo:
    if text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError(text)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _zone(raw: dict[str, Any], path: Path) -> tzinfo:
    name = str(raw.get("time_zone", "UTC")).strip() or "UTC"
    try:
        return UTC if name.upper() == "UTC" else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RubricError(
            f"{path}: [course] time_zone {name!r} is not a time zone this machine knows: "
            "write an IANA name such as Europe/Madrid, or UTC"
        ) from None


def _roster(raw: dict[str, Any], path: Path) -> RosterColumns:
    values = {k: str(v).strip() for k, v in raw.items()}
    template = values.get("repo_template", "")
    if template and "{login}" not in template:
        raise RubricError(
            f"{path}: [roster] repo_template must hold {{login}}, e.g. "
            "https://github.com/my-course/minigrad-{login}"
        )
    return RosterColumns(**values)


def _late(raw: dict[str, Any], path: Path, zone: tzinfo = UTC) -> Late:
    try:
        text = str(raw.get("deadline", "")).strip()
        deadline = parse_time(text, zone) if text else None
        per_day = float(raw.get("penalty_per_day", 0.0))
        cap = float(raw.get("cap", 100.0))
    except (TypeError, ValueError) as exc:
        raise RubricError(f"{path}: [late]: {exc}") from exc
    if per_day < 0 or not 0 <= cap <= 100:
        raise RubricError(f"{path}: [late]: penalty_per_day must be >= 0 and cap in 0..100")
    return Late(deadline, per_day, cap)


def _course_rubric() -> Rubric:
    """The course's rubric. A malformed one stops any grader command at once, with one
    line and exit status 2 (the instructor's file to fix, not a crash of the grader)."""
    try:
        return load()
    except RubricError as exc:
        print(f"grader: {' '.join(str(exc).split())}", file=sys.stderr)
        raise SystemExit(2) from None


RUBRIC = _course_rubric()
