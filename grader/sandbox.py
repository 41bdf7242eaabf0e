"""Isolate: copy a submission's package into a fresh temp dir and drive it in a child.

The child is ``python -I -S -B grader/child/worker.py`` with a scrubbed environment, its own
process group, and the limits of the rubric (see ``grader/child/`` for what it does on its
side). This module never imports student code: it only exchanges JSON lines with the
child and turns every way the child can misbehave into a ``StudentFault`` that the
checks report as the student's problem.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from grader import clock, hangs, workspace
from grader.child import channel, pyview
from grader.child.confine import available, hand_over
from grader.child.driver import FAULT, Faulty, vet
from grader.discover import MAX_FILE_BYTES, read_tests
from grader.i18n import _

GRADER = Path(__file__).resolve().parent
REPOSITORY = GRADER.parent  # the course repository: reference/, the catalog
# The grader code a confined child runs, copied into its folder (never run in place: a
# child may not even read the course repository): every module of grader/child/, and the
# two files of grader/ it imports.
CHILD_CODE = (
    "__init__.py",
    "optable.py",
    *sorted(f"child/{path.name}" for path in (GRADER / "child").glob("*.py")),
)
TRUST_ENV = "MINIGRAD_TRUST_SUBMISSIONS"  # set by `--trust-submissions` (cli.py)
CONFINE_FAILED = 121  # limits.CONFINE_FAILED: the child could not set itself up
MAX_REPLY_BYTES = 16_000_000
# The whole environment of a process that runs student code (fixed hashing: the same
# set order, so the same reports, on every run).
CHILD_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission (from the rubric's [limits] table)."""

    request_seconds: float = 10.0
    submission_seconds: float = 30.0
    tests_seconds: float = 150.0  # the students' own tests, on every engine together
    disk_mb: float = 64.0  # what the student's code may write in its folder
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


class Unconfined(Exception):
    """This machine cannot confine student code and --trust-submissions was not given."""


_mode: tuple[str, str] | None = None  # confine.available(), once per process


def confinement() -> str:
    """'' where student code runs confined; else why not (one line, cached per process).

    Raises ``Unconfined`` when the machine cannot confine and the grader was not told
    to trust submissions (``--trust-submissions``).
    """
    global _mode
    if _mode is None:
        _mode = available()
    mode, why = _mode
    if not mode and not os.environ.get(TRUST_ENV):
        raise Unconfined(
            f"cannot confine student code here: {why}. Grade on a machine that can, or "
            "pass --trust-submissions to run submissions unconfined (only for code you trust)"
        )
    return "" if mode else why


def confine_mode() -> str:
    """The confinement a child sets up: confine.NAMESPACES, confine.LANDLOCK or ''."""
    confinement()
    assert _mode is not None
    return _mode[0]


def python_view() -> dict[str, str]:
    """{folder: its view}: how a child reads the Python installation where the uid it
    runs as cannot (as root, confined code runs as NOBODY; see grader/child/pyview.py)."""
    return dict(pyview.BUILT) if confine_mode() else {}


def without_namespaces() -> str:
    """Why the confinement runs without namespaces ('' when it has them, or none at all)."""
    confinement()
    assert _mode is not None
    return _mode[1] if _mode[0] else ""


def unconfined_note(why: str) -> str:
    return _("(grader) your code ran UNCONFINED (--trust-submissions): {why}").format(why=why)


def prepare_code(folder: Path) -> Path:
    """Copy the grader code a child runs into ``folder/code/grader``; return that."""
    code = folder / "code" / "grader"
    (code / "child").mkdir(parents=True)
    for name in CHILD_CODE:
        shutil.copyfile(GRADER / name, code / name)
    return code


MAX_FILES = 2000  # files and folders the student's code may make in its folder


def over_disk(folder: Path, megabytes: float) -> bool:
    """Whether ``folder`` holds more than ``megabytes`` or MAX_FILES entries (a flood of
    the disk; each file is capped by the output limit already)."""
    left, count, todo = megabytes * 1024 * 1024, 0, [str(folder)]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for entry in entries:
            count += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                else:
                    left -= entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
            if count > MAX_FILES or left < 0:
                return True
    return False


class StudentFault(Exception):
    """The student's code made a request fail: it hung, died, or broke the protocol."""


class BudgetExhausted(StudentFault):
    """The submission used up its total time budget; later checks are not run."""


class StepSkipped(StudentFault):
    """Not sent: the request needs a step the student's code already failed to finish
    (``why``: the sentence saying which and how, as ``Sandbox.stuck`` keeps it)."""

    def __init__(self, why: str) -> None:
        super().__init__(_("not run: {why}").format(why=why))
        self.why = why


CRASH_MEMO_SECONDS = 1.0  # a crash that slow is not retried for the same kind of step


def _running(spot: tuple[str, str, str]) -> str:
    """'running `c = a + b`' or 'importing minigrad/nn.py', for a message."""
    return _("running `{code}`").format(code=spot[2]) if spot[2] else spot[1]


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
        copied = _copy_regular(path, target / path.name)
        if copied:
            notes.append(_("{file} was not copied: {why}").format(file=path.name, why=copied))
    if not (target / "__init__.py").exists():
        (target / "__init__.py").write_text("")
    return notes


def _copy_regular(source: Path, dest: Path) -> str:
    """Copy a regular file without following a symlink (opened once, checked on the open
    descriptor, so it cannot be swapped between check and copy); '' or why not."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return _("only regular files are graded")
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return _("only regular files are graded")
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return _("larger than {bytes} bytes").format(bytes=MAX_FILE_BYTES)
    dest.write_bytes(data)
    return ""


def _faulted(fault: str) -> str:
    """The report's sentence for a fault the child's driver reported (in English: the
    child has no catalog): '{FAULT} (why)' said in the current language."""
    if fault.startswith(f"{FAULT} (") and fault.endswith(")"):
        return _("your code wrote over the grader's reply channel ({why})").format(
            why=fault[len(FAULT) + 2 : -1]
        )
    return f"your code {fault}"


class Sandbox:
    """A temp dir holding the submission's package, and the child that runs it."""

    def __init__(self, submission: Path, limits: Limits) -> None:
        why_not = confinement()
        _become_subreaper()
        self.limits = limits
        self.mode = confine_mode()
        self.root = workspace.make("minigrad-sandbox-")
        # Everything the grader or the child reads is copied before any student code
        # runs; the child may write only in work/ (Landlock), never in pkg/ or code/.
        self.notes = copy_package(submission, self.root / "pkg")
        self.tests = read_tests(submission)  # the students' tests, as they were now
        if why_not:
            self.notes.append(unconfined_note(why_not))
        prepare_code(self.root)
        (self.root / "work").mkdir()
        if self.mode:  # as root, student code runs as NOBODY: it must reach its folder
            hand_over(str(self.root), [str(self.root / "work")])
        self.package_dir = self.root / "pkg" / "minigrad"
        # Seconds of the submission budget the student's code used (grader/clock.py: CPU
        # and its own waiting, never the machine's load), and the wall-time safety net.
        self.used = 0.0
        self.net = time.monotonic() + clock.net(limits.submission_seconds)
        self.watch: clock.Stopwatch | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.replies: channel.Lines | None = None  # the child's stdout
        self.next_id = 0
        self.events: list[str] = []  # what went wrong, for the report
        # kind of step (grader.hangs) -> why later requests needing it are not sent
        self.stuck: dict[str, str] = {}

    def grant(self, seconds: float) -> None:
        """At least ``seconds`` more of the budget (and of the wall-time net) for the
        grader's own follow-up requests, such as the diagnosis probes."""
        self.used = min(self.used, self.limits.submission_seconds - seconds)
        self.net = max(self.net, time.monotonic() + clock.net(seconds))

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
        # The grader opens the output log itself (no symlink or FIFO planted by the
        # child can stand in for it) and hands the descriptor over.
        log = os.open(
            self.root / "output.log",
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
        )
        config = {
            "memory_mb": self.limits.memory_mb,
            "cpu_seconds": self.limits.submission_seconds,
            "output_kb": self.limits.output_kb,
            "folder": str(self.root),
            "confine": self.mode,
            "view": python_view(),
            "log_fd": log,
        }
        worker = self.root / "code" / "grader" / "child" / "worker.py"
        try:
            return subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", str(worker), json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=self.root,
                env=CHILD_ENV,
                start_new_session=True,
                pass_fds=(log,),
            )
        finally:
            os.close(log)

    def _kill(self) -> None:
        """Kill the child and anything it left behind in its process group."""
        if self.process is not None:
            channel.kill(self.process)
        self.process = self.replies = None

    def close(self) -> None:
        self._kill()
        if reap_orphans():
            self.events.append(
                _("your code left processes running after grading; they were killed")
            )
        if not workspace.remove(self.root):
            self.events.append(_("your code (grader) left files the grader could not remove"))

    def output_tail(self, limit: int = 1500) -> str:
        """The end of what the student's code printed so far."""
        try:
            fd = os.open(self.root / "output.log", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return ""
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return ""
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - limit))
            data = handle.read(limit)
        return data.decode("utf-8", "replace")

    def _death(self, code: int) -> str:
        if code == CONFINE_FAILED:  # before any student code ran: a grader error
            raise RuntimeError("the worker could not confine itself (see grader/child/confine.py)")
        if code == -signal.SIGXFSZ:
            return _("your code printed more than {kb} KB of output and was stopped").format(
                kb=f"{self.limits.output_kb:g}"
            )
        if code == -signal.SIGXCPU:
            return _("your code used up its CPU time limit and was stopped")
        if code == -signal.SIGKILL:
            return _("your code was killed (most likely it ran out of memory)")
        if code < 0:
            return _("your code died from signal {signal}").format(
                signal=signal.Signals(-code).name
            )
        return _(
            "your code exited with status {code} (os._exit or a crash of the interpreter)"
        ).format(code=code)

    # -- requests ---------------------------------------------------------------------
    def request(self, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one request; return the child's reply or raise StudentFault.

        A request that needs a kind of step the student's code already failed to finish
        (timed out, or crashed slowly) is not sent: ``StepSkipped`` says which and why.
        """
        needed = hangs.needs(payload)
        for kind in needed:
            if kind in self.stuck:
                raise StepSkipped(self.stuck[kind])
        remaining = self.limits.submission_seconds - self.used
        if remaining <= 0:
            raise BudgetExhausted(
                _("the submission used up its {seconds} s time budget").format(
                    seconds=f"{self.limits.submission_seconds:g}"
                )
            )
        if time.monotonic() > self.net:
            raise clock.MachineBusy(self._busy(self.limits.submission_seconds))
        if self.process is None or self.process.poll() is not None:
            self._kill()
            self.process = self._start()
            assert self.process.stdout is not None
            self.replies = channel.Lines(self.process.stdout.fileno(), MAX_REPLY_BYTES)
            self.watch = clock.Stopwatch(self.process.pid)
        proc, replies, watch = self.process, self.replies, self.watch
        assert proc.stdin is not None and replies is not None and watch is not None
        self.next_id += 1
        message = {"id": self.next_id, **payload}
        asked = timeout or self.limits.request_seconds
        limit = min(asked, remaining)
        watch.start()
        try:
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            pass  # the child died while starting; the read below says how
        line, outcome = self._await(replies, watch, limit)
        spent = watch.used()
        self.used += min(spent, limit)
        closed = replies.closed
        if outcome == "busy":
            self._kill()
            raise clock.MachineBusy(self._busy(limit))
        if outcome == "disk":
            self._kill()
            spot = self._where(payload, message["id"])
            disk = {"mb": f"{self.limits.disk_mb:g}", "files": MAX_FILES}
            if spot:
                what = _(
                    "your code wrote more than {mb} MB (or {files} files) to disk while {step}"
                ).format(**disk, step=_running(spot))
                stopped = _(
                    "your code wrote more than {mb} MB (or {files} files) to disk while {step} "
                    "and was stopped"
                ).format(**disk, step=_running(spot))
                # as for a hang: later steps of that kind are not tried again
                self.stuck.setdefault(spot[0], what)
            else:
                stopped = _(
                    "your code wrote more than {mb} MB (or {files} files) to disk and was stopped"
                ).format(**disk)
            self.events.append(stopped)
            raise StudentFault(stopped)
        if line is None and replies.overflow:
            self._kill()
            raise StudentFault(
                _(
                    "your code wrote over the grader's reply channel (a reply longer than "
                    "{bytes} bytes)"
                ).format(bytes=MAX_REPLY_BYTES)
            )
        if line is None:
            code = None
            if closed:
                try:
                    code = proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    code = None
            self._kill()
            spot = self._where(payload, message["id"])
            if code is None and limit < asked:  # the submission's budget ran out first
                budget = f"{self.limits.submission_seconds:g}"
                what = (
                    _(
                        "your code used up the submission's {seconds} s time budget: it was "
                        "still {step}, and was stopped"
                    ).format(seconds=budget, step=_running(spot))
                    if spot
                    else _(
                        "your code used up the submission's {seconds} s time budget, and was "
                        "stopped"
                    ).format(seconds=budget)
                )
            elif code is None:
                what = (
                    _(
                        "your code did not answer within {seconds} s: it was still {step} (an "
                        "endless loop?) and was stopped"
                    ).format(seconds=f"{limit:g}", step=_running(spot))
                    if spot
                    else _(
                        "your code did not answer within {seconds} s (an endless loop?) and was "
                        "stopped"
                    ).format(seconds=f"{limit:g}")
                )
                if spot:
                    self.stuck.setdefault(
                        spot[0],
                        _("your code did not finish {step} within {seconds} s").format(
                            step=spot[1], seconds=f"{limit:g}"
                        ),
                    )
            else:
                what = self._death(code)
                if spot:
                    what = _("{fault} while {step}").format(fault=what, step=_running(spot))
                slow = spent >= CRASH_MEMO_SECONDS
                if spot and (slow or spot[0].startswith("import:")):
                    self.stuck.setdefault(
                        spot[0],
                        _("your code crashed while {step}").format(step=spot[1])
                        if spot[0].startswith("import:")
                        else _("your code crashed while running {step}").format(step=spot[1]),
                    )
            self.events.append(what)
            raise StudentFault(what)
        # The worker's driver vetted the student's reply (or reports why it could not);
        # the same check again here: nothing but a clean reply to this request passes.
        reply = channel.parse(line)
        fault = reply.get("fault") if isinstance(reply, dict) else None
        if isinstance(fault, str) and reply.get("id") == message["id"]:
            self._kill()
            said = _faulted(fault[:300])
            self.events.append(said)
            raise StudentFault(said)
        try:
            return vet(reply, message)
        except Faulty as why:
            self._kill()
            raise StudentFault(_faulted(f"{FAULT} ({why})")) from None

    def _await(
        self, replies: channel.Lines, watch: clock.Stopwatch, limit: float
    ) -> tuple[bytes | None, str]:
        """The reply line, or None: with "" (the child died, or sent too much), "late"
        (its code used ``limit`` seconds), "disk" (it filled its folder) or "busy" (the
        wall-time safety net first)."""
        net = time.monotonic() + clock.net(limit)
        step = 0.01  # short first: most replies take milliseconds
        while True:
            line = replies.read(min(time.monotonic() + step, net))
            if line is not None or replies.closed or replies.overflow:
                return line, ""
            if watch.used() >= limit:
                return None, "late"
            if over_disk(self.root / "work", self.limits.disk_mb):
                return None, "disk"
            if time.monotonic() >= net:
                return None, "busy"
            step = min(step * 2, 0.2)

    @staticmethod
    def _busy(limit: float) -> str:
        return _(
            "the machine was too busy to grade this fairly: {wall} s went by before your code "
            "could use its {seconds} s (not your fault; grade it again)"
        ).format(wall=f"{clock.net(limit):g}", seconds=f"{limit:g}")

    def _where(self, payload: dict[str, Any], request_id: int) -> tuple[str, str, str] | None:
        """The kind, label and code of the step the child was on (from its progress file)."""
        # The worker writes it in its own folder (work/), which student code can also
        # write: never follow a link, read a few bytes, and trust only what parses.
        try:
            fd = os.open(
                self.root / "work" / hangs.PROGRESS, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
            )
        except OSError:
            return None
        try:
            progress = os.read(fd, 200).decode("ascii", "replace")
        except OSError:
            return None
        finally:
            os.close(fd)
        return hangs.where(payload, progress, request_id)
