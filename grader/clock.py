"""Time that student code used, whatever else the machine is doing (Linux /proc).

A wall clock charges a submission for the machine's load: with eight busy loops on two
cores, code that needs 2 s of CPU takes 9 s. So every budget on student code (one
request, the submission, a run of the student's tests, a lint tool) is counted on a
``Stopwatch`` over the process tree that runs it:

    used = max(CPU time of the tree,  wall time - time the tree waited for a CPU)

The first term charges computing, at its real cost on any machine. The second charges
waiting that is the code's own doing (``time.sleep``, a lock, a blocking read), which
no CPU count sees, but not the time the code was ready to run and the machine was busy
(the scheduler's run-queue delay, ``/proc/<pid>/schedstat``; the grader's own delay is
subtracted too: it is the one reading the answer). Where ``/proc`` does not tell (not
Linux), ``used`` is the wall time.

A generous wall-time safety net stays (``net``): where it is reached before the budget
is used, the machine was too busy to tell, and that is the grader's error to report
("regrade"), never the student's timeout.
"""

from __future__ import annotations

import os
import time

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


def _children(pid: int) -> list[int]:
    found = []
    for tid in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
        found += [int(c) for c in _read(f"/proc/{pid}/task/{tid}/children").split()]
    return found


def _cpu(pid: int) -> float:
    """CPU seconds of ``pid`` (all its threads) and of its children it has reaped."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 15:
        return 0.0
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / TICK


def _waited(pid: int) -> float:
    """Seconds the threads of ``pid`` spent ready to run, waiting for a CPU."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
        parts = _read(f"/proc/{pid}/task/{tid}/schedstat").split()
        total += int(parts[1]) if len(parts) > 1 else 0
    return total / 1e9


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it, as /proc shows them now."""
    found, todo = [], [pid]
    while todo:
        here = todo.pop()
        found.append(here)
        todo += _children(here)
    return found


class Stopwatch:
    """Time used by the process tree under ``pid`` since ``start`` (see the module)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.proc = os.path.isdir(f"/proc/{pid}")
        self.start()

    def _sample(self) -> tuple[float, dict[int, float], float]:
        pids = tree(self.pid) if self.proc else []
        cpu = {p: _cpu(p) for p in pids}
        waited = sum(_waited(p) for p in pids) + _waited(os.getpid())
        return time.monotonic(), cpu, waited

    def start(self) -> None:
        """Start counting from now."""
        self.wall0, self.cpu0, self.waited0 = self._sample()

    def used(self) -> float:
        """Seconds used since ``start``: max(CPU, wall - waiting for a CPU)."""
        wall, cpu, waited = self._sample()
        if not self.proc:
            return wall - self.wall0
        # A process of the tree that ended was reaped by its parent in the tree: its CPU
        # is now in the parent's (children's times), so nothing of it is lost.
        spent = sum(max(0.0, c - self.cpu0.get(p, 0.0)) for p, c in cpu.items())
        waiting = max(0.0, (wall - self.wall0) - (waited - self.waited0))
        return max(spent, waiting)

    def wall(self) -> float:
        """Wall seconds since ``start``."""
        return time.monotonic() - self.wall0
