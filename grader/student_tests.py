"""Grade a student's own tests (like Examplar's wheats and chaffs).

A submission may bring ``tests/test_*.py``. They run, sandboxed, against the
reference (every test must pass on a correct engine; one that fails is reported as
wrong) and against each planted-bug variant of the catalog (a variant that some
valid test fails is "caught"). Only pass/fail per test comes back from those runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import signal
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader.sandbox import (
    CHILD_ENV,
    MAX_FILE_BYTES,
    Limits,
    confinement,
    parse_reply,
    prepare_code,
)

if TYPE_CHECKING:
    from grader.mistakes import Variant

RUNNER = Path(__file__).with_name("test_runner.py")
REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "src" / "minigrad"
TEST_SECONDS = 20  # one test
RUN_SECONDS = 600.0  # every engine together (and never past the submission budget)
ENGINE_SECONDS = 120.0  # one engine: then its run is killed
MAX_REPLY = 4_000_000


@dataclass
class Verdict:
    tests: list[str]  # test ids that ran on the reference
    wrong: list[str]  # tests that fail on the correct engine
    caught: list[str] = field(default_factory=list)  # variant ids
    missed: list[str] = field(default_factory=list)


STYLE_ONLY = {"lint-findings"}  # mistakes no test of behaviour can (or should) catch


def behavioural(variants: list[Variant]) -> list[Variant]:
    """The variants a student's tests are measured against."""
    return [v for v in variants if v.mistake not in STYLE_ONLY]


def test_files(submission: Path) -> list[Path]:
    """The submission's ``tests/test_*.py``."""
    return [p for p in test_modules(submission) if p.name.startswith("test_")]


def test_modules(submission: Path) -> list[Path]:
    """``tests/*.py`` that are copied: test files and their helpers, never conftest.py."""
    folder = submission / "tests"
    return sorted(
        p
        for p in folder.glob("*.py")
        if p.name != "conftest.py"
        and p.is_file()
        and not p.is_symlink()
        and p.stat().st_size <= MAX_FILE_BYTES
    )


def read_tests(submission: Path) -> dict[str, bytes]:
    """File name -> content of the submission's test modules (regular files only)."""
    found = {}
    for path in test_modules(submission):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as handle:
            if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                found[path.name] = handle.read(MAX_FILE_BYTES)
    return found


FIXED_TIME = 1_600_000_000  # every engine's files get this mtime: no tell-tale dates


def _layout(root: Path, tests: dict[str, bytes], engines: list[tuple[str, Path]]) -> None:
    """A runner's folder: its code, the tests, engines/<n>/minigrad, mount points."""
    prepare_code(root)
    (root / "tests").mkdir()
    for name, data in tests.items():
        (root / "tests" / name).write_bytes(data)
    (root / "tests" / "pytest.ini").write_text("[pytest]\n")
    for index, (_, source) in enumerate(engines):
        target = root / "engines" / str(index) / "minigrad"
        target.mkdir(parents=True)
        for path in sorted(source.glob("*.py")):
            (target / path.name).write_bytes(path.read_bytes())
        for path in [*target.iterdir(), target]:
            os.utime(path, (FIXED_TIME, FIXED_TIME))
    for name in ("engine", "scratch", "work"):
        (root / name).mkdir()


def grade_tests(
    submission: Path,
    limits: Limits,
    deadline: float | None = None,
    tests: dict[str, bytes] | None = None,
) -> Verdict:
    """Run the submission's tests on the reference and on every catalog variant.

    ``tests`` (file name -> content) is the copy taken before any student code ran (the
    sandbox's); ``deadline`` (monotonic) is the submission's: nothing runs past it.
    """
    from grader.mistakes import VARIANTS, materialize  # instructor-only: not released

    if tests is None:  # read once, before any of them runs (later runs use these bytes)
        tests = read_tests(submission)
    budget = deadline if deadline is not None else time.monotonic() + limits.submission_seconds
    with tempfile.TemporaryDirectory(prefix="minigrad-engines-") as tmp:
        engines = Path(tmp)
        variants = behavioural(VARIANTS)
        for variant in variants:
            materialize(variant, engines / variant.id)
        first = _run(tests, [("reference", REFERENCE, {})], limits, budget)
        on_reference = first.get("reference", {})
        wrong = sorted(t for t, ok in on_reference.items() if not ok)
        valid = [t for t, ok in on_reference.items() if ok]
        verdict = Verdict(tests=sorted(on_reference), wrong=wrong)
        if not valid:
            verdict.missed = [v.id for v in variants]
            return verdict
        # Tests named at run time cannot be deselected by name: they simply never count.
        named_wrong = [t for t in wrong if "<" not in t]
        options = {"stop_at_first_failure": True, "deselect": named_wrong}
        runs = [(v.id, engines / v.id / "src" / "minigrad", options) for v in variants]
        # Two runners share the variants: a long test suite takes half the time.
        halves = [runs[0::2], runs[1::2]]
        with ThreadPoolExecutor(max_workers=2) as pool:
            parts = list(pool.map(lambda part: _run(tests, part, limits, budget), halves))
        results = {k: v for part in parts for k, v in part.items()}
        for v in variants:
            passed = results.get(v.id)
            caught = passed is not None and any(
                not ok for test, ok in passed.items() if test in valid
            )
            (verdict.caught if caught else verdict.missed).append(v.id)
        return verdict


def _run(
    tests: dict[str, bytes],
    engines: list[tuple[str, Path, dict[str, object]]],
    limits: Limits,
    budget: float,
) -> dict[str, dict[str, bool]]:
    """Run the tests on ``engines`` (name, folder of the package, options) in one runner;
    pass/fail per engine that answered. Nothing runs past ``budget`` (monotonic time)."""
    why_not = confinement()
    with tempfile.TemporaryDirectory(prefix="minigrad-tests-") as tmp:
        root = Path(tmp)
        _layout(root, tests, [(name, path) for name, path, _ in engines])
        config = {
            "folder": str(root),
            "confine": not why_not,
            "engines": [{"name": name, **opts} for name, _, opts in engines],
            "memory_mb": max(limits.memory_mb, 2048.0),  # pytest and its plugins need room
            "output_kb": limits.output_kb,
            "test_seconds": TEST_SECONDS,
            "engine_seconds": ENGINE_SECONDS,
        }
        runner = root / "code" / "grader" / "test_runner.py"
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", str(runner), json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            cwd=root,
            env=CHILD_ENV,
            start_new_session=True,
        )
        assert proc.stdout is not None
        chunks: list[bytes] = []
        size, deadline = 0, min(budget, time.monotonic() + RUN_SECONDS)
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while size < MAX_REPLY and time.monotonic() < deadline:
                if not sel.select(deadline - time.monotonic()):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    results: dict[str, dict[str, bool]] = {}
    lines = b"".join(chunks).decode("utf-8", "replace").splitlines()
    if not lines or lines[0] != '{"ready": true}':
        # The runner died before any student code ran: pytest is missing or broken.
        raise RuntimeError("the test runner could not start (is pytest installed?)")
    names = {name for name, _, _ in engines}
    for line in lines[1 : len(engines) + 1]:
        reply = parse_reply(line.encode())
        passed = reply.get("passed") if isinstance(reply, dict) else None
        name = reply.get("engine") if isinstance(reply, dict) else None
        if isinstance(name, str) and name in names and isinstance(passed, dict):
            merged: dict[str, bool] = {}
            for nodeid, ok in passed.items():
                key = known_test(str(nodeid), tests)
                merged[key] = merged.get(key, True) and ok is True
            results[name] = merged
    return results


def known_test(nodeid: str, tests: dict[str, bytes]) -> str:
    """The test id as the student wrote it: ``file::function`` (parametrize ids dropped),
    every name checked against the test file's own text. A test id is shown in the
    report, and a test that reads the engine could otherwise name itself (or its
    parameters) after the reference's source."""
    parts = nodeid.split("[", 1)[0].split("::")
    file = parts[0].rsplit("/", 1)[-1]
    if file not in tests:
        return "<a test outside your test files>"
    source = tests[file].decode("utf-8", "replace")
    for name in parts[1:]:
        if not re.search(rf"\b(?:def|class)\s+{re.escape(name)}\b", source):
            return f"{file}::<a test made at run time>"
    return "::".join([file, *parts[1:]])
