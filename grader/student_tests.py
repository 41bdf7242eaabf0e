"""Grade a student's own tests (like Examplar's wheats and chaffs).

A submission may bring ``tests/test_*.py``. They run, sandboxed, against the
reference (every test must pass on a correct engine; one that fails is reported as
wrong) and against each planted-bug variant of the catalog (a variant that some
valid test fails is "caught"). Only pass/fail per test comes back from those runs.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import subprocess
import sys
import threading
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
    engines = workspace.make("minigrad-engines-")
    try:
        for vid, write in planted:
            write(engines / vid)
        every = [("reference", REFERENCE)]
        every += [(vid, engines / vid / "src" / "minigrad") for vid, _ in planted]
        plan = _Plan(tests, every, limits.tests_seconds)
        # Without namespaces every runner's files are its own (inode numbers, times), so
        # one runner runs every engine, the reference first: a test sees the same files.
        count = 1 if confine_mode() == LANDLOCK else 2
        runners: list[_Runner] = []
        try:
            for _ in range(count):  # started together: they warm up at the same time
                runners.append(_Runner(tests, every, limits))
            for runner in runners:
                runner.wait_ready()
            plan.watches = [runner.watch for runner in runners]
            # each thread writes in this submission's language (a copy of this context each)
            contexts = [contextvars.copy_context() for _ in runners]
            with ThreadPoolExecutor(max_workers=len(runners)) as pool:
                jobs = [
                    pool.submit(context.run, _drive, plan, runner, number)
                    for number, (context, runner) in enumerate(zip(contexts, runners, strict=True))
                ]
                for job in jobs:
                    job.result()  # MachineBusy, or a bug of ours, raised here
            alive = [runner for runner in runners if not runner.dead]
            if alive:
                plan.finish(alive[0])
        finally:
            for runner in runners:
                runner.close()
        return plan.verdict([vid for vid, _ in planted])
    finally:
        workspace.remove(engines)


class _Plan:
    """Which engine runs next, and what the runs found, shared by the runners.

    The reference runs twice: first in the files' order, which gives each test's CPU
    time (the calibration), then cheapest first; every variant runs in that same order,
    so the runs a test could compare are alike, and a planted bug shows at its cheapest.
    The tests that pass on the reference's second run are the valid ones; a variant is
    caught when one of them fails on it. With two runners the first calibrates and then
    takes variants while the second runs the reference again: until that run ends, a
    variant's run stops at the first failing test that passed in the calibration (almost
    always the same tests), and a variant stopped by a test that then turns out not to
    be valid runs again (``finish``). Every engine runs the same way (all tests, the
    same options): the grader, not the run, stops it."""

    def __init__(self, tests: dict[str, bytes], every: list[tuple[str, Path]], budget: float):
        self.tests, self.budget = tests, budget
        self.variants = [name for name, _ in every[1:]]
        self.lock = threading.Condition()
        self.sampling = threading.Lock()  # never held while taking ``lock``
        self.calibrated = False  # the calibration run ended (or could not run)
        self.order: list[str] | None = None
        self.provisional: set[str] = set()  # passed in the calibration
        self.valid: set[str] | None = None  # passed on the reference's second run
        self.reference: dict[str, bool | None] | None = None
        self.results: dict[str, dict[str, bool | None]] = {}
        self.unsure: set[str] = set()  # stopped by a test that passed in the calibration
        self.out_of_time = False
        self.watches: list[clock.Stopwatch] = []

    def used(self, watch: clock.Stopwatch | None = None) -> float:
        """The time every runner's runs used so far (or ``watch``'s runner's): one thread
        at a time samples the watches, which both runners' threads read."""
        with self.sampling:
            return watch.used() if watch else sum(each.used() for each in self.watches)

    def calibrated_by(self, run: _Engine) -> None:
        with self.lock:
            if run.end is None:  # the runner died: nothing to compare with
                self._nothing_to_compare()
            else:
                self.order = run.cheapest_first()
                self.provisional = {t for t, ok in run.by_test(self.tests).items() if ok}
            self.calibrated = True
            self.lock.notify_all()

    def referenced_by(self, run: _Engine) -> None:
        with self.lock:
            self.reference = {} if run.end is None else run.by_test(self.tests)
            self.valid = {t for t, ok in self.reference.items() if ok}
            if not self.valid:
                self.variants.clear()  # nothing can catch them
            self.lock.notify_all()

    def settle(self) -> None:
        """A runner stopped (done, dead or raising): whatever it was to settle is settled
        now, so the other never waits for it."""
        with self.lock:
            self.calibrated = True
            if self.valid is None and self.reference is None and not self.provisional:
                self._nothing_to_compare()
            self.lock.notify_all()

    def _nothing_to_compare(self) -> None:
        """No reference results (its runner died or raised): no variant can be caught."""
        self.reference, self.valid = {}, set()
        self.variants.clear()

    def abandon(self) -> None:
        """Start no more runs: a runner's thread raised, and so will the grading."""
        with self.lock:
            self.variants.clear()
            self.lock.notify_all()

    def wait(self, ready: Callable[[], bool]) -> None:
        with self.lock:
            while not ready():
                self.lock.wait()

    def next_variant(self) -> tuple[str, set[str], bool] | None:
        """The next variant to run and the tests that stop its run (final or not);
        None when none is left (or none can be caught). Waits for the reference's
        second run when the calibration found no passing test."""
        self.wait(lambda: self.valid is not None or bool(self.provisional))
        with self.lock:
            if not self.variants:
                return None
            if self.used() >= self.budget:
                self.out_of_time = True
                return None
            final = self.valid is not None
            return self.variants.pop(0), (self.valid if final else self.provisional) or set(), final

    def found(self, name: str, run: _Engine, final: bool) -> None:
        with self.lock:
            self.results[name] = run.by_test(self.tests)
            if not final and run.stopped_by is not None:
                self.unsure.add(name)

    def finish(self, runner: _Runner) -> None:
        """Run again, with the valid tests known, each variant that a calibration-only
        test stopped and no valid test caught (in practice: a test whose verdict on the
        reference depends on the order the tests run in)."""
        valid = self.valid or set()
        again = [
            name
            for name in sorted(self.unsure)
            if not any(ok is not True for t, ok in self.results[name].items() if t in valid)
        ]
        for name in again:
            if self.used() >= self.budget:
                self.out_of_time = True
                del self.results[name]
                continue
            run = runner.run(name, valid, self)
            if run.end is None:
                del self.results[name]
                break
            self.results[name] = run.by_test(self.tests)

    def verdict(self, planted: list[str]) -> Verdict:
        on_reference = self.reference or {}
        valid = self.valid or set()
        verdict = Verdict(
            tests=sorted(on_reference),
            wrong=sorted(t for t, ok in on_reference.items() if ok is False),
            refused=sorted(t for t, ok in on_reference.items() if ok is None),
        )
        if not valid:
            verdict.missed = list(planted)
            return verdict
        for vid in planted:
            passed = self.results.get(vid)
            caught = passed is not None and any(
                ok is not True for test, ok in passed.items() if test in valid
            )
            (verdict.caught if caught else verdict.missed).append(vid)
            if passed is None and self.out_of_time:
                verdict.unrun.append(vid)
        return verdict


def _drive(plan: _Plan, runner: _Runner, number: int) -> None:
    """One runner's share: the first calibrates (and, alone, runs the reference again
    too), the second runs the reference again; then both take variants until none is
    left, the time is up or the runner died. Whatever happens, the other runner is
    never left waiting for this one."""
    try:
        alone = len(plan.watches) == 1
        if number == 0:
            plan.calibrated_by(runner.run("reference", set(), plan, calibrate=True))
        plan.wait(lambda: plan.calibrated)
        if plan.reference is not None:
            return  # the calibration could not run: nothing to compare with
        if plan.order is not None:
            runner.send_order(plan.order)
        if number == 1 or alone:
            plan.referenced_by(runner.run("reference", set(), plan))
        while (job := plan.next_variant()) is not None:
            name, stops, final = job
            run = runner.run(name, stops, plan)
            if run.end is None:
                return  # the runner died: the other takes what is left
            plan.found(name, run, final)
    except BaseException:
        plan.abandon()  # the grade fails (MachineBusy, a bug of ours): no more runs
        raise
    finally:
        plan.settle()


class _Runner:
    """One test runner (grader/child/runner.py) in a folder of its own, which runs one
    engine at a time; its folder holds every engine (in a random order, under random
    names), whichever it runs: the reference's runner looks like the others."""

    def __init__(self, tests: dict[str, bytes], every: list[tuple[str, Path]], limits: Limits):
        self.tests = tests
        self.mode = confine_mode()
        self.tokens = {name: os.urandom(16).hex() for name, _ in every}  # folder names: no tells
        shuffled = sorted(every, key=lambda _: os.urandom(8))
        self.root = workspace.make("minigrad-tests-")
        try:
            _layout(self.root, tests, [(self.tokens[name], path) for name, path in shuffled])
            self.proc = self._start(limits, preloads(tests))
        except BaseException:
            workspace.remove(self.root)
            raise
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.commands = self.proc.stdin
        self.lines = _Objects(self.proc.stdout.fileno())
        self.net = time.monotonic() + clock.net(limits.tests_seconds + ENGINE_SECONDS)
        # Without namespaces the runs' scratch is on the host's disk (else a tmpfs of the
        # same size, inside the run's mount namespace): a watchdog caps it.
        self.scratch = (self.root / "scratch", limits.disk_mb) if self.mode == LANDLOCK else None
        self.dead = False

    def _start(self, limits: Limits, preload: list[str]) -> subprocess.Popen[bytes]:
        """Start the runner on this folder (it confines itself, then says it is ready)."""
        config = {
            "folder": str(self.root),
            "confine": self.mode,
            "view": python_view(),
            "memory_mb": max(limits.memory_mb, 2048.0),  # pytest and its plugins need room
            "output_kb": limits.output_kb,
            "disk_mb": limits.disk_mb,
            "test_seconds": TEST_SECONDS,  # CPU, counted by the run itself
            "test_wall_seconds": clock.net(TEST_SECONDS),  # pytest-timeout: a safety net
            "engine_seconds": clock.net(ENGINE_SECONDS),  # the runner's: a safety net
            "preload": preload,
        }
        runner = self.root / "code" / "grader" / "child" / "runner.py"
        return subprocess.Popen(
            [sys.executable, "-I", "-B", str(runner), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.root,
            env=CHILD_ENV,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        """Wait for the runner to start; from then on its runs' time is counted."""
        if self.lines.next(self.net) != {"ready": True}:
            # The runner died before any student code ran: pytest is missing or broken.
            raise RuntimeError("the test runner could not start (is pytest installed?)")
        self.watch = clock.Stopwatch(self.proc.pid, only_new=True)

    def send_order(self, order: list[str]) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.commands.write(b"order " + json.dumps(order).encode() + b"\n")
            self.commands.flush()

    def run(self, name: str, stops: set[str], plan: _Plan, calibrate: bool = False) -> _Engine:
        """Run the tests on engine ``name``: stopped at the first failing test of
        ``stops`` (none while calibrating); ``end`` None: the runner died."""
        if self.dead:
            return _Engine()
        try:
            self.commands.write(self.tokens[name].encode() + b"\n")
            self.commands.flush()
            run = _one_engine(self, _valid(self.tests, stops), plan)
        except BrokenPipeError:
            run = _Engine()
        self.dead = run.end is None
        return run

    def close(self) -> None:
        try:
            channel.kill(self.proc)
        finally:
            workspace.remove(self.root)


def _valid(tests: dict[str, bytes], valid: set[str]) -> Callable[[str], bool]:
    """Whether a test id (as the runner reports it) is one of ``valid`` (test keys)."""
    return lambda nodeid: known_test(nodeid, tests) in valid


@dataclass
class _Engine:
    """One engine's run as the runner reported it: each report (test id, passed or not,
    or None: refused by the sandbox) in order, each test's CPU seconds, and the ``end``
    item (None: the runner died first)."""

    reports: list[tuple[str, bool | None]] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    end: dict[str, object] | None = None
    stopped_by: str | None = None  # the failing test the run was stopped at

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


def _one_engine(runner: _Runner, valid: Callable[[str], bool], plan: _Plan) -> _Engine:
    """Read one engine's reports until its ``end``, telling the runner to ``stop`` once
    a ``valid`` test failed, the run used ENGINE_SECONDS or the runs their ``budget``, or
    wrote more than its share to ``scratch`` (folder, megabytes)."""
    commands = runner.commands
    run = _Engine()
    began, stopped = plan.used(runner.watch), False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            commands.write(b"stop\n")  # seen enough: this engine is caught, or late
            commands.flush()
            stopped = True

    while True:
        item = runner.lines.next(min(time.monotonic() + 0.2, runner.net))
        if item is None and not runner.lines.ended:
            if time.monotonic() >= runner.net:
                raise clock.MachineBusy(
                    _(
                        "the machine was too busy to run your tests fairly (not your fault; "
                        "grade it again)"
                    )
                )
            late = plan.used(runner.watch) - began >= ENGINE_SECONDS or plan.used() >= plan.budget
            if late or (runner.scratch is not None and over_disk(*runner.scratch)):
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
        if not ok and valid(nodeid) and not stopped:
            run.stopped_by = nodeid
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
