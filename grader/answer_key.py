"""The answer key: every expected value the checks need, computed once per grader version.

The checks' programs are fixed (hypothesis is derandomized), so their expected values
(PyTorch float64, ``grader.expect``) are the same for every submission. The key stores
them, keyed by a hash of each program's steps, together with the random-graph programs
of the random-graph check in the order hypothesis generates them. ``expect.evaluate``
looks a program up here first; only a miss (a counterexample being shrunk, a drawing
of a failed graph, a check changed since the key was built) imports torch.

A key belongs to one version of the grader: ``grader_hash`` digests the code of the
checks, the rubrics, ``expect.py``, ``program.py`` and the pinned versions of torch and
hypothesis (requirements/grade.txt); a key for another hash is ignored.
Where it lives:
  * ``grader/answer_key.json``: shipped with the student release (public checks only);
  * ``.cache/answer-key-<hash>.json`` in the repository, else in ``$XDG_CACHE_HOME``
    (``~/.cache``) ``/minigrad-lab/``: built by ``grader.keybuild.ensure()`` (``python -m
    grader`` calls it) by grading the reference engine once and recording every
    ``evaluate`` call (``recording`` below).
Read-only places are fine: a key that cannot be saved is kept in memory for the run.
Set ``MINIGRAD_ANSWER_KEY=off`` to ignore every key (everything is computed afresh).

    python -m grader.keybuild          build the key now (if stale) and say where it is
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GRADER = Path(__file__).resolve().parent
ROOT = GRADER.parent
REFERENCE = ROOT / "reference" / "src" / "minigrad"
SHIPPED = "answer_key.json"  # inside grader/
FORMAT = "answer-key-1"
ENV = "MINIGRAD_ANSWER_KEY"
Reads = dict[str, tuple[float, float]]


def grader_hash(grader: Path = GRADER) -> str:
    """Digest of what decides the programs and their expected values."""
    files = sorted((grader / "checks").rglob("*.py")) + [
        grader / name
        for name in ("rubric.toml", "rubric_hidden.toml", "expect.py", "program.py", "optable.py")
    ]
    # the pinned torch and hypothesis: the values and the random graphs depend on them
    files.append(grader.parent / "requirements" / "grade.txt")
    digest = hashlib.sha256(FORMAT.encode())
    for path in files:
        digest.update(path.relative_to(grader.parent).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"")
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def steps_hash(steps: list[list[Any]]) -> str:
    text = json.dumps(steps, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def enabled() -> bool:
    return os.environ.get(ENV, "").lower() not in ("off", "0", "no")


def cache_dirs() -> list[Path]:
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return [ROOT / ".cache", Path(xdg) / "minigrad-lab"]


@dataclass
class Key:
    """Expected reads per program (by steps hash) and the random-graph programs."""

    hash: str
    values: dict[str, Reads] = field(default_factory=dict)
    checks: dict[str, list[str]] = field(default_factory=dict)  # steps hash -> check ids
    dags: list[list[list[Any]]] | None = None
    dags_check: str = ""  # the check that runs them

    def to_json(self, with_checks: bool = True) -> str:
        data: dict[str, Any] = {
            "format": FORMAT,
            "hash": self.hash,
            "values": {
                h: {name: list(pair) for name, pair in reads.items()}
                for h, reads in sorted(self.values.items())
            },
            "dags": self.dags,
            "dags_check": self.dags_check,
        }
        if with_checks:
            data["checks"] = dict(sorted(self.checks.items()))
        return json.dumps(data, separators=(",", ":"), allow_nan=True)

    @classmethod
    def from_json(cls, text: str) -> Key:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError("another format")
        values = {
            h: {name: (float(pair[0]), float(pair[1])) for name, pair in reads.items()}
            for h, reads in data["values"].items()
        }
        checks = dict(data.get("checks") or {})
        dags_check = str(data.get("dags_check") or "")
        return cls(str(data["hash"]), values, checks, data.get("dags"), dags_check)


_loaded: Key | None = None
_looked = False


def read_key(path: Path, wanted: str) -> Key | None:
    try:
        key = Key.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return key if key.hash == wanted else None


def find(wanted: str | None = None) -> Key | None:
    """The key of this grader version from the shipped file or the caches (None: none)."""
    wanted = wanted or grader_hash()
    for path in [GRADER / SHIPPED] + [d / f"answer-key-{wanted}.json" for d in cache_dirs()]:
        key = read_key(path, wanted)
        if key is not None:
            return key
    return None


def current() -> Key | None:
    """The key used by ``expect.evaluate`` in this process (found once)."""
    global _loaded, _looked
    if not enabled():
        return None
    if not _looked:
        _loaded, _looked = find(), True
    return _loaded


def use(key: Key | None) -> None:
    """Make ``key`` the one this process uses (tests; a key that could not be saved)."""
    global _loaded, _looked
    _loaded, _looked = key, True


def lookup(steps: list[list[Any]]) -> Reads | None:
    key = current()
    if _recorder is not None:
        _recorder.note(steps)
    if key is None:
        return None
    return key.values.get(steps_hash(steps))


def dags() -> list[list[list[Any]]] | None:
    key = current()
    return None if key is None else key.dags


# -- building -----------------------------------------------------------------------
_recorder: Recorder | None = None


def record(steps: list[list[Any]], reads: Reads) -> None:
    """A value computed afresh: kept for the key being built, if any."""
    if _recorder is not None:
        _recorder.key.values[steps_hash(steps)] = dict(reads)


def record_dags(programs: list[list[list[Any]]]) -> None:
    """Every program hypothesis tried, in order, when it found no counterexample."""
    if _recorder is not None and _recorder.check:
        _recorder.key.dags, _recorder.key.dags_check = programs, _recorder.check


class Recorder:
    """The key being built, and the check now running (set by the builder)."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.check = ""

    def note(self, steps: list[list[Any]]) -> None:
        ids = self.key.checks.setdefault(steps_hash(steps), [])
        if self.check and self.check not in ids:
            ids.append(self.check)


@contextmanager
def recording(key: Key) -> Iterator[Recorder]:
    """While it lasts, every expected value is computed afresh and kept in ``key``
    (the builder, grader/keybuild.py, names the running check on the recorder)."""
    global _recorder, _loaded, _looked
    before = (_loaded, _looked)
    _loaded, _looked = None, True  # compute everything afresh
    _recorder = Recorder(key)
    try:
        yield _recorder
    finally:
        _recorder = None
        _loaded, _looked = before


def save(key: Key) -> Path | None:
    """Write ``key`` into the first writable cache folder (None: nowhere writable)."""
    for folder in cache_dirs():
        path = folder / f"answer-key-{key.hash}.json"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".answer-key-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(key.to_json())
            os.replace(tmp, path)
        except OSError:
            continue
        return path
    return None
