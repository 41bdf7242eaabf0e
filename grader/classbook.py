"""The class record: ``<out>/class.json``, one entry per graded submission, merged run by run.

Grading writes each submission's reports into ``<out>/<name>/`` and then merges its
entry into ``class.json``: the entries of this run replace those of the same names,
every other entry is kept as it was. ``grades.csv`` (grader/render/grades.py),
``summary.md`` and ``index.html`` are rebuilt from the whole record, so grading one
student again into a class ``--out`` updates that student's rows and leaves every other
row as it was, byte for byte.

An entry is the submission's ``Graded`` (without the bulky per-check observations and
printed output, which stay in its own reports) plus who the student is: ``student_id``
and ``email`` from the roster or from ``nox -s collect``'s record, and ``attempted``:
the labs the student worked on (see ``attempted_labs``), which the class statistics
count pass rates over. The record also keeps the class's roster (grader/roster.py), so
that regrades and gradebook exports know every student on it, graded or not.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from grader.i18n import _
from grader.results import FAILED, PASSED, Graded, Outcome, effective_status
from grader.roster import Roster

RECORD = "class.json"
VERSION = 1
_OUTCOME_FIELDS = {f.name for f in fields(Outcome)}
_GRADED_FIELDS = {f.name for f in fields(Graded)}
SKELETON = Path(__file__).resolve().parent.parent / "skeleton"  # the bundled one
STUB = re.compile(r"TODO (lab\d+)\b")  # the skeleton's NotImplementedError("TODO lab01: ...")
MAX_BYTES = 200_000  # read of each engine file, to count its stubs


def entry(
    graded: Graded,
    student_id: str = "",
    email: str = "",
    attempted: Collection[str] | None = None,
) -> dict[str, Any]:
    """The class record's entry for one graded submission (plain JSON data)."""
    data = asdict(graded)
    data["path"] = str(Path(graded.path).resolve())  # the similarity check rereads it
    data["output_tail"] = ""
    for o in data["outcomes"]:
        o["observed"] = {}
    data["student_id"] = student_id
    data["email"] = email
    data["attempted"] = None if attempted is None else sorted(attempted)
    return data


def attempted_of(data: Mapping[str, Any]) -> list[str] | None:
    """The labs an entry attempted (None when the record does not say: count them all)."""
    labs = data.get("attempted")
    return [str(lab) for lab in labs] if isinstance(labs, list) else None


def _stubs(package: Path) -> Counter[str]:
    """How many ``TODO labNN`` stubs each lab has in the ``.py`` files of ``package``
    (read as text, regular files only, never run)."""
    found: Counter[str] = Counter()
    if package.is_symlink() or not package.is_dir():
        return found
    for path in sorted(package.glob("*.py")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as handle:
            text = handle.read(MAX_BYTES).decode("utf-8", errors="replace")
        found.update(STUB.findall(text))
    return found


def attempted_labs(graded: Graded, skeleton: Path = SKELETON) -> list[str]:
    """The labs a graded submission worked on: a lab with stubs in the skeleton is
    attempted when fewer of them are left in the submission's engine; a lab without
    any (given code, the tests bonus) when one of its checks ran (passed or failed,
    not "not run"). Nothing for a submission that was not graded."""
    if effective_status(graded) != "graded":
        return []
    given = _stubs(skeleton / "src" / "minigrad")
    left = _stubs(Path(graded.path) / "src" / "minigrad")
    ran = {o.lab for o in graded.outcomes if o.status in (PASSED, FAILED) and not o.blocked_by}
    return sorted(
        lab for lab in graded.labs if (left[lab] < given[lab] if given[lab] else lab in ran)
    )


def graded_of(data: Mapping[str, Any]) -> Graded:
    """The ``Graded`` an entry was made from (less what ``entry`` leaves out)."""
    values = {k: v for k, v in data.items() if k in _GRADED_FIELDS}
    values["outcomes"] = [
        Outcome(**{k: v for k, v in o.items() if k in _OUTCOME_FIELDS})
        for o in data.get("outcomes", [])
    ]
    return Graded(**values)


def load(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The entries of ``out_dir/class.json`` by name (empty when absent or unreadable)."""
    try:
        data = json.loads((out_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    students = data.get("students")
    if not isinstance(students, dict):
        return {}
    good: dict[str, dict[str, Any]] = {}
    for name, value in students.items():
        try:
            graded_of(value)
        except (TypeError, AttributeError):
            continue  # an entry this version cannot read is regraded, not guessed at
        good[str(name)] = value
    return good


def load_roster(out_dir: Path) -> Roster | None:
    """The roster stored with ``out_dir/class.json`` (None when there is none)."""
    try:
        data = json.loads((out_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Roster.from_json(data.get("roster")) if isinstance(data, dict) else None


def merge(
    out_dir: Path,
    new: Mapping[str, dict[str, Any]],
    roster: Roster | None = None,
    drop: Collection[str] = (),
) -> dict[str, dict[str, Any]]:
    """Merge this run's entries into ``out_dir/class.json`` (leaving out the entries
    named in ``drop``; ``roster`` replaces the stored roster, None keeps it); return the
    whole record."""
    record = {k: v for k, v in load(out_dir).items() if k not in drop}
    roster = roster or load_roster(out_dir)
    record.update(new)
    record = dict(sorted(record.items()))
    out_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"version": VERSION, "students": record}
    if roster is not None:
        data["roster"] = roster.to_json()
    text = json.dumps(data, indent=1, sort_keys=True)
    (out_dir / RECORD).write_text(text + "\n", encoding="utf-8")
    return record


def blank_reason(g: Graded) -> str:
    """Why a submission has no grade ('' when it has one): never a silent 0."""
    status = effective_status(g)
    if status == "graded":
        return ""
    if status == "invalid":
        return _("not graded: {problem}").format(problem=g.problem)
    problem = g.problem or _("see its report")
    return _("grader error, regrade it: {problem}").format(problem=problem)
