"""Time that student code used, whatever else the machine is doing (Linux /proc).

A wall clock charges a submission for the machine's load: with eight busy loops on two
cores, code that needs 2 s of CPU takes 9 s. So every budget on student code (one
request, the submission, a run of the student's tests, a lint tool) is counted on a
``Stopwatch`` over the process tree that runs it:

    used = max(CPU time,  wall time - time spent waiting for a CPU)

for each process of the tree that runs student code (its leaves). The first term
charges computing, at its real cost on any machine. The second charges waiting that is
the code's own doing (``time.sleep``, a lock, a blocking read), which no CPU count sees,
but not the time the code was ready to run and the machine was busy (the scheduler's
run-queue delay, ``/proc/<pid>/schedstat``). Where ``/proc`` does not tell (not Linux),
``used`` is the wall time.

A generous wall-time safety net stays (``net``): where it is reached before the budget
is used, the machine was too busy to tell, and that is the grader's error to report
("regrade"), never the student's timeout.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
NET_FACTOR = 10.0  # the wall-time safety net: this many times the budget ...
NET_MIN_SECONDS = 60.0  # ... and never less than this


class MachineBusy(Exception):
    """The wall-time safety net was reached before the student's code used its budget:
    the machine is too busy to grade fairly (the grader's problem; regrade)."""


def net(budget: float) -> float:
    """The wall-time safety net for a budget of ``budget`` seconds of used time."""
    return max(NET_MIN_SECONDS, NET_FACTOR * budget)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _threads(pid: int) -> list[str]:
    """The thread ids of ``pid``; none once it has ended (it may end while we look)."""
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def _children(pid: int) -> list[int]:
    found = []
    for tid in _threads(pid):
        found += [int(c) for c in _read(f"/proc/{pid}/task/{tid}/children").split()]
    return found


def _cpu(pid: int) -> tuple[float, float] | None:
    """(CPU seconds of ``pid``'s own threads, its start in seconds since boot); None
    once it has ended (a zombie waits for its parent without running)."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK, int(fields[19]) / TICK


def _waited(pid: int) -> float:
    """Seconds the threads of ``pid`` spent ready to run, waiting for a CPU."""
    total = 0
    for tid in _threads(pid):
        parts = _read(f"/proc/{pid}/task/{tid}/schedstat").split()
        total += int(parts[1]) if len(parts) > 1 else 0
    return total / 1e9


def leaves(pid: int) -> list[int]:
    """The processes below ``pid`` that have no child: the ones that run student code
    (the grader's own processes above them only wait for them)."""
    found, todo = [], _children(pid)
    while todo:
        here = todo.pop()
        below = _children(here)
        todo += below
        if not below:
            found.append(here)
    return found


def _now() -> float:
    """Seconds since boot, as /proc counts a process's start."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass
class _Seen:
    """One process's counters at the start (or its birth) and when last seen."""

    cpu0: float
    waited0: float
    wall0: float
    cpu: float
    waited: float
    wall: float

    def used(self) -> float:
        return max(self.cpu - self.cpu0, (self.wall - self.wall0) - (self.waited - self.waited0))


class Stopwatch:
    """Time used by student code in the process tree under ``pid`` since ``start``.

    Counted on the tree's leaves (the processes without children: the student's, or a
    run of the student's tests), each from the start or from its birth, until it is
    last seen; the grader's processes above them (the worker's driver, the test runner
    waiting for the grader) are not the student's time."""

    def __init__(self, pid: int, below: bool = True, only_new: bool = False) -> None:
        """``below``: count the processes below ``pid`` (``pid`` is grader code that
        waits for them); else ``pid`` itself (a tool the grader runs). ``only_new``:
        only processes started after ``start`` (the runs of a test runner, which waits
        for the grader between them)."""
        self.pid, self.below, self.only_new = pid, below, only_new
        self.proc = os.path.isdir(f"/proc/{pid}")
        self.seen: dict[int, _Seen] = {}
        self.alive: set[int] | None = None  # the leaves alive at the last sample (None: none yet)
        self.start()

    def _sample(self, born_after: float | None) -> None:
        now = _now()
        self.alive = set()
        for leaf in (leaves(self.pid) if self.below else [self.pid]) if self.proc else []:
            alive = _cpu(leaf)
            if alive is None:
                continue
            cpu, born = alive
            waited = _waited(leaf)
            self.alive.add(leaf)
            seen = self.seen.get(leaf)
            if seen is None and born_after is not None and born >= born_after:
                seen = self.seen[leaf] = _Seen(0.0, 0.0, born, cpu, waited, now)
            elif seen is None and self.only_new:
                continue  # there at the start: not counted
            elif seen is None:  # there at the start: counted from now on
                seen = self.seen[leaf] = _Seen(cpu, waited, now, cpu, waited, now)
            seen.cpu, seen.waited, seen.wall = cpu, waited, now

    def start(self) -> None:
        """Start counting from now.

        After the first sample, the processes alive at the last one are counted on from
        the counters read then, without walking the tree again: a request starts where
        the previous one ended (one walk per request, not two). What they used in
        between is the student's own; a process born in between is counted from when
        it is first seen."""
        self.began, self.wall0 = _now(), time.monotonic()
        if self.only_new or self.alive is None:
            self.seen = {}
            self._sample(None)
            return
        self.seen = {
            pid: _Seen(s.cpu, s.waited, self.began, s.cpu, s.waited, self.began)
            for pid, s in self.seen.items()
            if pid in self.alive
        }

    def used(self) -> float:
        """Seconds used since ``start``: per leaf, max(CPU, wall - waiting for a CPU)."""
        if not self.proc:
            return time.monotonic() - self.wall0
        self._sample(self.began)
        return sum(seen.used() for seen in self.seen.values())

    def wall(self) -> float:
        """Wall seconds since ``start``."""
        return time.monotonic() - self.wall0
