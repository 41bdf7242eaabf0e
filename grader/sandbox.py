"""Isolate: copy a submission's package into a fresh temp dir and drive it in a child.

The child is ``python -I -S -B grader/worker.py`` with a scrubbed environment, its own
process group, and the limits of the rubric (see ``worker.py`` for what it does on its
side). This module never imports student code: it only exchanges JSON lines with the
child and turns every way the child can misbehave into a ``StudentFault`` that the
checks report as the student's problem.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from grader import hangs

WORKER = Path(__file__).with_name("worker.py")
REPOSITORY = WORKER.parent.parent  # the course repository: reference/, the catalog
MAX_FILE_BYTES = 1_000_000  # a larger .py file in a submission is not copied
MAX_REPLY_BYTES = 16_000_000
# The whole environment of a process that runs student code (fixed hashing: the same
# set order, so the same reports, on every run).
CHILD_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
MODULES = ("scalar", "nn", "train", "viz")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission (from the rubric's [limits] table)."""

    request_seconds: float = 10.0
    submission_seconds: float = 30.0
    memory_mb: float = 1024.0
    output_kb: float = 1024.0


PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    """Adopt every orphan our descendants leave behind (Linux), so none can escape.

    A process the student starts in a new session (setsid, double fork) leaves the
    sandbox's process group; as a subreaper, this process becomes its parent when
    its own parent dies, and ``reap_orphans`` can find and kill it.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _children() -> list[tuple[int, int]]:
    """(pid, process group) of every child of this process, from /proc."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[1]) == me:
            found.append((int(entry), int(fields[2])))
    return found


def reap_orphans() -> int:
    """Kill and reap adopted orphans: children of ours outside our own process group.

    Our legitimate children (pool workers, finished tool runs) share our process
    group; anything else that is our child was adopted from a sandbox.
    """
    own_group, killed = os.getpgrp(), 0
    for pid, group in _children():
        if group == own_group:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return killed


class StudentFault(Exception):
    """The student's code made a request fail: it hung, died, or broke the protocol."""


class BudgetExhausted(StudentFault):
    """The submission used up its total time budget; later checks are not run."""


class StepSkipped(StudentFault):
    """Not sent: the request needs a step the student's code already failed to finish."""


CRASH_MEMO_SECONDS = 1.0  # a crash that slow is not retried for the same kind of step


def _running(spot: tuple[str, str, str]) -> str:
    """'running `c = a + b`' or 'importing minigrad/nn.py', for a message."""
    return f"running `{spot[2]}`" if spot[2] else spot[1]


def copy_package(submission: Path, dest: Path) -> list[str]:
    """Copy ``submission/src/minigrad/*.py`` (regular files only) into ``dest/minigrad``.

    Returns notes about what was left out. Nothing else of the submission is copied:
    no conftest, no config, no plugins, no data files.
    """
    source = submission / "src" / "minigrad"
    target = dest / "minigrad"
    target.mkdir(parents=True)
    notes = []
    for path in sorted(source.glob("*.py")):
        if path.is_symlink() or not path.is_file():
            notes.append(f"{path.name} was not copied: only regular files are graded")
        elif path.stat().st_size > MAX_FILE_BYTES:
            notes.append(f"{path.name} was not copied: larger than {MAX_FILE_BYTES} bytes")
        else:
            shutil.copyfile(path, target / path.name)
    if not (target / "__init__.py").exists():
        (target / "__init__.py").write_text("")
    return notes


class Sandbox:
    """A temp dir holding the submission's package, and the child that runs it."""

    def __init__(self, submission: Path, limits: Limits) -> None:
        _become_subreaper()
        self.limits = limits
        self.root = Path(tempfile.mkdtemp(prefix="minigrad-sandbox-"))
        self.notes = copy_package(submission, self.root / "pkg")
        self.package_dir = self.root / "pkg" / "minigrad"
        self.deadline = time.monotonic() + limits.submission_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self.next_id = 0
        self.events: list[str] = []  # what went wrong, for the report
        # kind of step (grader.hangs) -> why later requests needing it are not sent
        self.stuck: dict[str, str] = {}

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the child --------------------------------------------------------------------
    def _start(self) -> subprocess.Popen[bytes]:
        limits = {
            "memory_mb": self.limits.memory_mb,
            "cpu_seconds": self.limits.submission_seconds,
            "output_kb": self.limits.output_kb,
            "hide": [str(REPOSITORY), tempfile.gettempdir()],
        }
        return subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", str(WORKER), json.dumps(limits)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.root,
            env=CHILD_ENV,
            start_new_session=True,
        )

    def _kill(self) -> None:
        """Kill the child and anything it left behind in its process group."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream:
                stream.close()
        self.process = None

    def close(self) -> None:
        self._kill()
        if reap_orphans():
            self.events.append("left processes running after grading; they were killed")
        shutil.rmtree(self.root, ignore_errors=True)

    def output_tail(self, limit: int = 1500) -> str:
        """The end of what the student's code printed so far."""
        try:
            data = (self.root / "output.log").read_bytes()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace")

    def _death(self, code: int) -> str:
        if code == -signal.SIGXFSZ:
            return f"printed more than {self.limits.output_kb:g} KB of output and was stopped"
        if code == -signal.SIGXCPU:
            return "used up its CPU time limit and was stopped"
        if code == -signal.SIGKILL:
            return "was killed (most likely it ran out of memory)"
        if code < 0:
            return f"died from signal {signal.Signals(-code).name}"
        return f"exited with status {code} (os._exit or a crash of the interpreter)"

    # -- requests ---------------------------------------------------------------------
    def request(self, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one request; return the child's reply or raise StudentFault.

        A request that needs a kind of step the student's code already failed to finish
        (timed out, or crashed slowly) is not sent: ``StepSkipped`` says which and why.
        """
        needed = hangs.needs(payload)
        for kind in needed:
            if kind in self.stuck:
                raise StepSkipped(f"not run: {self.stuck[kind]}")
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise BudgetExhausted(
                f"the submission used up its {self.limits.submission_seconds:g} s time budget"
            )
        if self.process is None or self.process.poll() is not None:
            self._kill()
            self.process = self._start()
        proc = self.process
        assert proc.stdin is not None and proc.stdout is not None
        self.next_id += 1
        message = {"id": self.next_id, **payload}
        limit = min(timeout or self.limits.request_seconds, remaining)
        sent = time.monotonic()
        try:
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            pass  # the child died while starting; the read below says how
        line, closed = self._read_line(proc, limit)
        if line is None:
            code = None
            if closed:
                try:
                    code = proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    code = None
            self._kill()
            spot = self._where(payload, message["id"])
            at = f": it was still {_running(spot)}" if spot else ""
            if code is None:
                what = f"did not answer within {limit:g} s{at} (an endless loop?) and was stopped"
                if spot:
                    self.stuck.setdefault(
                        spot[0], f"your code did not finish {spot[1]} within {limit:g} s"
                    )
            else:
                what = self._death(code) + (f" while {_running(spot)}" if spot else "")
                slow = time.monotonic() - sent >= CRASH_MEMO_SECONDS
                if spot and (slow or spot[0].startswith("import:")):
                    where = spot[1] if spot[0].startswith("import:") else f"running {spot[1]}"
                    self.stuck.setdefault(spot[0], f"your code crashed while {where}")
            self.events.append(what)
            raise StudentFault(f"your code {what}")
        try:
            reply = json.loads(line)
        except ValueError as exc:
            self._kill()
            raise StudentFault("your code wrote over the grader's reply channel") from exc
        if not isinstance(reply, dict) or reply.get("id") != message["id"]:
            self._kill()
            raise StudentFault("your code wrote over the grader's reply channel")
        return reply

    def _where(self, payload: dict[str, Any], request_id: int) -> tuple[str, str, str] | None:
        """The kind, label and code of the step the child was on (from its progress file)."""
        try:
            progress = (self.root / hangs.PROGRESS).read_bytes()[:200].decode("ascii", "replace")
        except OSError:
            return None
        return hangs.where(payload, progress, request_id)

    def _read_line(self, proc: subprocess.Popen[bytes], limit: float) -> tuple[bytes | None, bool]:
        """One reply line, or None with whether the child closed its end (died)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        chunks: list[bytes] = []
        size = 0
        end = time.monotonic() + limit
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                left = end - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return None, False
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None, True
                chunks.append(chunk)
                size += len(chunk)
                if b"\n" in chunk:
                    data = b"".join(chunks)
                    return data[: data.index(b"\n")], False
                if size > MAX_REPLY_BYTES:
                    return b"{}", False
