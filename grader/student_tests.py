"""Grade a student's own tests (like Examplar's wheats and chaffs).

A submission may bring ``tests/test_*.py``. They run, sandboxed, against the
reference (every test must pass on a correct engine; one that fails is reported as
wrong) and against each planted-bug variant of the catalog (a variant that some
valid test fails is "caught"). Only pass/fail per test comes back from those runs.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grader import clock, workspace
from grader.child import channel
from grader.child.confine import LANDLOCK, hand_over
from grader.discover import read_tests
from grader.i18n import _
from grader.sandbox import (
    CHILD_ENV,
    Limits,
    confine_mode,
    over_disk,
    prepare_code,
    python_view,
)

REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "src" / "minigrad"
# Seconds of time used (grader/clock.py: CPU and the code's own waiting, never the
# machine's load); every engine's runs together have the rubric's ``tests_seconds``.
TEST_SECONDS = 20.0  # one test (CPU, counted in the run itself)
ENGINE_SECONDS = 120.0  # one engine's run: then it is stopped
MAX_REPLY = 4_000_000


@dataclass
class Verdict:
    tests: list[str]  # test ids that ran on the reference
    wrong: list[str]  # tests that fail on the correct engine
    # tests the sandbox stopped on the correct engine (they start a program): not counted
    refused: list[str] = field(default_factory=list)
    caught: list[str] = field(default_factory=list)  # variant ids
    missed: list[str] = field(default_factory=list)
    unrun: list[str] = field(default_factory=list)  # missed: the tests' budget ran out first


# A planted-bug engine: its id, and how to write it as a submission folder (the
# catalog, grader/mistakes/, is the instructor's: the hidden check passes it in).
Planted = tuple[str, Callable[[Path], object]]


FIXED_TIME = 1_600_000_000  # every engine's files get this mtime: no tell-tale dates


def _layout(root: Path, tests: dict[str, bytes], engines: list[tuple[str, Path]]) -> None:
    """A runner's folder: its code, the tests, engines/<token>/minigrad, mount points."""
    prepare_code(root)
    (root / "tests").mkdir()
    for name, data in tests.items():
        (root / "tests" / name).write_bytes(data)
    (root / "tests" / "pytest.ini").write_text("[pytest]\n")
    # The engine's files at the fixed path exist before any engine's copy: every run
    # rewrites them in place, so their inode numbers say nothing of this runner's layout.
    (root / "engine" / "minigrad").mkdir(parents=True)
    for path in sorted(engines[0][1].glob("*.py")) if engines else []:
        (root / "engine" / "minigrad" / path.name).write_bytes(b"")
    for token, source in engines:
        target = root / "engines" / token / "minigrad"
        target.mkdir(parents=True)
        for path in sorted(source.glob("*.py")):
            (target / path.name).write_bytes(path.read_bytes())
        for path in [*target.iterdir(), target]:
            os.utime(path, (FIXED_TIME, FIXED_TIME))
    for name in ("scratch", "work"):
        (root / name).mkdir()
    if confine_mode():  # as root, the runner and its runs are NOBODY: the tests and the
        # engines readable, the scratch (emptied per run) and the runner's work its own
        hand_over(str(root), [str(root / "scratch"), str(root / "work")])


def grade_tests(
    submission: Path,
    limits: Limits,
    planted: Sequence[Planted],
    tests: dict[str, bytes] | None = None,
) -> Verdict:
    """Run the submission's tests on the reference and on every ``planted`` engine,
    within ``limits.tests_seconds`` of time used in all (not the engine's budget).

    ``tests`` (file name -> content) is the copy taken before any student code ran (the
    sandbox's). Raises ``clock.MachineBusy`` where the machine is too busy to tell.
    """
    if tests is None:  # read once, before any of them runs (later runs use these bytes)
        tests = read_tests(submission)
    budget = limits.tests_seconds
    engines = workspace.make("minigrad-engines-")
    try:
        for vid, write in planted:
            write(engines / vid)
        every = [("reference", REFERENCE)]
        every += [(vid, engines / vid / "src" / "minigrad") for vid, _ in planted]
        # Without namespaces every runner's files are its own (inode numbers, times), so
        # one runner runs every engine, the reference first: a test sees the same files.
        one_runner = confine_mode() == LANDLOCK
        # The reference twice: once in the files' order, which gives each test's CPU
        # time, then cheapest first; every variant then runs in that same order, so the
        # runs a test could compare are alike, and a planted bug shows at its cheapest.
        plan = [every[0], every[0], *(every[1:] if one_runner else [])]
        first = _run(tests, plan, every, None, limits, budget, calibrate=True)
        on_reference = first.results.get("reference", {})
        wrong = sorted(t for t, ok in on_reference.items() if ok is False)
        valid = {t for t, ok in on_reference.items() if ok}
        refused = sorted(t for t, ok in on_reference.items() if ok is None)
        verdict = Verdict(tests=sorted(on_reference), wrong=wrong, refused=refused)
        if not valid:
            verdict.missed = [vid for vid, _ in planted]
            return verdict
        # Every engine runs the same way (all tests, the same options): the grader, not
        # the run, stops at the first valid test that fails and ignores the wrong ones.
        runs = [first]
        if not one_runner:  # two runners share the variants (and what is left of the time)
            halves = [every[1::2], every[2::2]]
            left = max(0.0, budget - first.used) / 2
            # each thread writes in this submission's language (a copy of this context each)
            contexts = [contextvars.copy_context() for _half in halves]
            with ThreadPoolExecutor(max_workers=2) as pool:
                runs += list(
                    pool.map(
                        lambda context, part: context.run(
                            _run, tests, part, every, valid, limits, left, first.order
                        ),
                        contexts,
                        halves,
                    )
                )
        results = {k: v for run in runs for k, v in run.results.items()}
        for vid, _write in planted:
            passed = results.get(vid)
            caught = passed is not None and any(
                ok is not True for test, ok in passed.items() if test in valid
            )
            (verdict.caught if caught else verdict.missed).append(vid)
            if passed is None and any(run.out_of_time for run in runs):
                verdict.unrun.append(vid)
        return verdict
    finally:
        workspace.remove(engines)


@dataclass
class _Runs:
    """What one runner found: pass/fail per test per engine that answered, the time its
    runs used, and whether its budget ran out before every engine was run."""

    results: dict[str, dict[str, bool | None]]
    used: float = 0.0
    out_of_time: bool = False
    order: list[str] | None = None  # the tests' order, cheapest first (calibrated)


def _run(
    tests: dict[str, bytes],
    engines: list[tuple[str, Path]],
    layout: list[tuple[str, Path]],
    valid: set[str] | None,
    limits: Limits,
    budget: float,
    order: list[str] | None = None,
    calibrate: bool = False,
) -> _Runs:
    """Run the tests on ``engines`` (name, folder of the package) in one runner, one
    engine after the other; pass/fail per engine that answered (None: the sandbox
    refused what the test did, such as starting a program). With ``valid``, a run is
    stopped at the first of those tests that fails; without, the first engine's passing
    tests are ``valid`` for the later ones (none: they are not run). A run is stopped
    after ENGINE_SECONDS of time used, and no engine starts once the runs used
    ``budget`` seconds. The tests run in ``order`` (test ids); with ``calibrate``, the
    first engine's run (in the files' order) only measures each test's CPU time, and
    the later runs go cheapest first (``_Runs.order``).

    Every runner's folder holds all of ``layout`` (in a random order, under random
    names), whichever engines it runs: the reference's runner looks like the others."""
    mode = confine_mode()
    tokens = {name: os.urandom(16).hex() for name, _ in layout}  # folder names: no tells
    shuffled = sorted(layout, key=lambda _: os.urandom(8))
    found = _Runs({})
    root = workspace.make("minigrad-tests-")
    try:
        _layout(root, tests, [(tokens[name], path) for name, path in shuffled])
        config = {
            "folder": str(root),
            "confine": mode,
            "view": python_view(),
            "memory_mb": max(limits.memory_mb, 2048.0),  # pytest and its plugins need room
            "output_kb": limits.output_kb,
            "disk_mb": limits.disk_mb,
            "test_seconds": TEST_SECONDS,  # CPU, counted by the run itself
            "test_wall_seconds": clock.net(TEST_SECONDS),  # pytest-timeout: a safety net
            "engine_seconds": clock.net(ENGINE_SECONDS),  # the runner's: a safety net
            "preload": preloads(tests),
        }
        runner = root / "code" / "grader" / "child" / "runner.py"
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", str(runner), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=root,
            env=CHILD_ENV,
            start_new_session=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        lines = _Objects(proc.stdout.fileno())
        net = time.monotonic() + clock.net(budget + ENGINE_SECONDS)
        try:
            if lines.next(net) != {"ready": True}:
                # The runner died before any student code ran: pytest is missing or broken.
                raise RuntimeError("the test runner could not start (is pytest installed?)")
            # From here on: the students' tests' time, in the runs the runner starts.
            watch = clock.Stopwatch(proc.pid, only_new=True)
            # Without namespaces the runs' scratch is on the host's disk (else a tmpfs of
            # the same size, inside the run's mount namespace): a watchdog caps it.
            scratch = (root / "scratch", limits.disk_mb) if mode == LANDLOCK else None
            if order is not None:
                _send_order(proc, order)
            for number, (name, _) in enumerate(engines):
                if watch.used() >= budget:
                    found.out_of_time = True
                    break
                proc.stdin.write(tokens[name].encode() + b"\n")
                proc.stdin.flush()
                calibrating = calibrate and number == 0
                known: set[str] = set() if calibrating or valid is None else valid
                run = _one_engine(proc, lines, watch, _valid(tests, known), budget, net, scratch)
                if run.end is None:
                    break  # the runner died: later engines are not run
                if calibrating:
                    found.order = run.cheapest_first()
                    if found.order is not None:
                        _send_order(proc, found.order)
                    continue
                passed = run.by_test(tests)
                found.results[name] = passed
                if valid is None:
                    valid = {test for test, ok in passed.items() if ok}
                    if not valid:
                        break
            found.used = watch.used()
        except BrokenPipeError:
            pass
        finally:
            channel.kill(proc)
    finally:
        workspace.remove(root)
    return found


def _valid(tests: dict[str, bytes], valid: set[str]) -> Callable[[str], bool]:
    """Whether a test id (as the runner reports it) is one of ``valid`` (test keys)."""
    return lambda nodeid: known_test(nodeid, tests) in valid


def _send_order(proc: subprocess.Popen[bytes], order: list[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(b"order " + json.dumps(order).encode() + b"\n")
    proc.stdin.flush()


@dataclass
class _Engine:
    """One engine's run as the runner reported it: each report (test id, passed or not,
    or None: refused by the sandbox) in order, each test's CPU seconds, and the ``end``
    item (None: the runner died first)."""

    reports: list[tuple[str, bool | None]] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    end: dict[str, object] | None = None

    def by_test(self, tests: dict[str, bytes]) -> dict[str, bool | None]:
        """Passed (True), failed (False) or refused (None) per test as the student wrote
        it (``known_test``); parametrized: the worst case counts."""
        passed: dict[str, bool | None] = {}
        for nodeid, now in self.reports:
            key = known_test(nodeid, tests)
            seen = passed.get(key, True)
            passed[key] = False if False in (seen, now) else seen and now
        return passed

    def cheapest_first(self) -> list[str] | None:
        """Every test id that ran, by its CPU time (ties: in the files' order); None when
        the list would be too long to send."""
        first_seen = {nodeid: n for n, nodeid in enumerate(self.cpu)}
        order = sorted(self.cpu, key=lambda t: (self.cpu[t], first_seen[t]))
        return order if len(json.dumps(order)) < MAX_ORDER else None


MAX_ORDER = 1_000_000  # bytes: the runner takes an order of up to 2 MB


def _one_engine(
    proc: subprocess.Popen[bytes],
    lines: _Objects,
    watch: clock.Stopwatch,
    valid: Callable[[str], bool],
    budget: float,
    net: float,
    scratch: tuple[Path, float] | None = None,
) -> _Engine:
    """Read one engine's reports until its ``end``, telling the runner to ``stop`` once
    a ``valid`` test failed, the run used ENGINE_SECONDS or the runs their ``budget``, or
    wrote more than its share to ``scratch`` (folder, megabytes)."""
    commands = proc.stdin
    assert commands is not None
    run = _Engine()
    began, stopped = watch.used(), False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            commands.write(b"stop\n")  # seen enough: this engine is caught, or late
            commands.flush()
            stopped = True

    while True:
        item = lines.next(min(time.monotonic() + 0.2, net))
        if item is None and not lines.ended:
            if time.monotonic() >= net:
                raise clock.MachineBusy(
                    _(
                        "the machine was too busy to run your tests fairly (not your fault; "
                        "grade it again)"
                    )
                )
            used = watch.used()
            flooded = scratch is not None and over_disk(*scratch)
            if used - began >= ENGINE_SECONDS or used >= budget or flooded:
                stop()
            continue
        if item is None or "end" in item:
            run.end = item
            return run
        nodeid = str(item.get("t"))
        if "cpu" in item:
            cost = item["cpu"]
            run.cpu[nodeid] = run.cpu.get(nodeid, 0.0) + (
                float(cost) if isinstance(cost, float | int) else 0.0
            )
            continue
        ok = item.get("ok") is True
        run.reports.append((nodeid, True if ok else None if item.get("refused") is True else False))
        if not ok and valid(nodeid):
            stop()


class _Objects:
    """JSON objects, one per line, read from ``fd`` (MAX_REPLY bytes in all)."""

    def __init__(self, fd: int) -> None:
        self.lines = channel.Lines(fd, MAX_REPLY, MAX_REPLY)

    @property
    def ended(self) -> bool:
        """The runner closed its end (it died) or sent more than allowed."""
        return self.lines.closed or self.lines.overflow

    def next(self, deadline: float) -> dict[str, object] | None:
        """The next object (non-objects are skipped); None at EOF, past ``deadline``
        (monotonic) or past MAX_REPLY bytes in all."""
        while (line := self.lines.read(deadline)) is not None:
            item = channel.parse(line)
            if isinstance(item, dict):
                return item
        return None


# Heavy libraries a test may check against (torch, as the reference's tests do) or use
# (hypothesis: imported inside a pytest run, pytest rewrites the asserts of its 80-odd
# modules each time, over a second per engine).
PRELOAD = ("torch", "hypothesis")


def preloads(tests: dict[str, bytes]) -> list[str]:
    """The PRELOAD libraries the test files import: the runner imports them once before
    any run, so each engine's run starts with them loaded (the same for every engine)
    instead of importing them again (torch: over a second per engine). Only a speed-up:
    a test file that hides its import just runs slower."""
    return [
        name
        for name in PRELOAD
        if any(
            re.search(rb"^\s*(import|from)\s+" + name.encode() + rb"\b", t, re.M)
            for t in tests.values()
        )
    ]


def known_test(nodeid: str, tests: dict[str, bytes]) -> str:
    """The test id as the student wrote it: ``file::function`` (parametrize ids dropped),
    every name checked against the test file's own text. A test id is shown in the
    report, and a test that reads the engine could otherwise name itself (or its
    parameters) after the reference's source."""
    parts = nodeid.split("[", 1)[0].split("::")
    file = parts[0].rsplit("/", 1)[-1]
    if file not in tests:
        return _("<a test outside your test files>")
    source = tests[file].decode("utf-8", "replace")
    for name in parts[1:]:
        if not re.search(rf"\b(?:def|class)\s+{re.escape(name)}\b", source):
            made = _("<a test made at run time>")
            return f"{file}::{made}"
    return "::".join([file, *parts[1:]])
