"""mypy without its start-up cost: a process that has imported mypy forks one child per run.

Starting ``python -m mypy`` costs about 0.15 s of CPU before it reads a line of the
submission (the interpreter, then mypy's modules); its check of an engine against the
seeded cache costs about 0.08 s more. A grader process starts one server (``SERVER``):
it imports mypy once, then for each run forks a child that changes into the run's
folder, sends its output to files and runs mypy's ``main`` with the same arguments and
environment as ``python -m mypy``. The child reads the submission as text, as the tool
always did; nothing of one run is left in the server for the next (each child exits).

The server keeps each child until the grader says ``reap`` (after the run wrote its
status, or after the grader killed it): until then its process id cannot be reused, so
killing it can never hit another process. Where the server cannot start, the grader
runs ``python -m mypy`` as before (``quality._Tool``).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from grader import workspace

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}  # what the tools always ran with

# Standard library and mypy only: it runs as ``python -c SERVER``.
SERVER = r"""
import json, os, sys, traceback
# Python puts the current folder first on sys.path for -c; mypy drops that first entry
# (as for python -m mypy), and no import may ever come from a run's folder.
sys.path[0] = os.path.abspath(os.devnull)
import mypy.build, mypy.main


def run(job):
    os.chdir(job["cwd"])
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    for fd, name in ((1, "out"), (2, "err")):
        f = os.open(os.path.join(job["folder"], name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.dup2(f, fd)
        os.close(f)
    try:
        mypy.main.main(args=job["args"], clean_exit=True)
        return 0
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc(file=sys.stdout)  # as python -m mypy reports its own crash
        return 2


for line in sys.stdin:
    job = json.loads(line)
    if "reap" in job:
        try:
            os.waitpid(job["reap"], 0)
        except ChildProcessError:
            pass
        continue
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            code = run(job)
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
                status = os.path.join(job["folder"], "status")
                with open(status + ".part", "w") as f:
                    f.write(str(code))
                os.rename(status + ".part", status)
            finally:
                os._exit(0)
    sys.stdout.write(f"{pid}\n")
    sys.stdout.flush()

while True:  # the grader is done: collect what has ended (the rest go to a reaper)
    try:
        if os.waitpid(-1, os.WNOHANG)[0] == 0:
            break
    except ChildProcessError:
        break
"""


class Server:
    """One mypy fork server for this grader process (started on first use)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            cwd="/",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=ENV,
        )
        self.lock = threading.Lock()  # one request at a time (threads may lint together)
        self.owner = os.getpid()
        # stopped at exit, in a pool's worker too (multiprocessing runs these, not atexit)
        multiprocessing.util.Finalize(self, self.close, exitpriority=0)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def fork(self, args: list[str], cwd: Path, folder: Path) -> int:
        """Start mypy ``args`` in ``cwd``; its out, err and status go to ``folder``.
        OSError when the server is gone."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        job = {"args": args, "cwd": str(cwd), "folder": str(folder)}
        with self.lock:
            try:
                self.proc.stdin.write(json.dumps(job) + "\n")
                self.proc.stdin.flush()
                answer = self.proc.stdout.readline()
            except (OSError, ValueError) as exc:
                raise OSError(f"the mypy server is gone ({exc})") from exc
        if not answer.strip().isdigit():
            raise OSError("the mypy server is gone")
        return int(answer)

    def reap(self, pid: int) -> None:
        """Let the server collect a child that ended (or was killed)."""
        assert self.proc.stdin is not None
        with self.lock:
            try:
                self.proc.stdin.write(json.dumps({"reap": pid}) + "\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):
                pass  # the server is gone: its children went to a reaper of their own

    def close(self) -> None:
        """Stop the server: it ends when its input does (its children are reaped)."""
        if os.getpid() != self.owner:
            return  # a forked copy of this object: the server is its parent's
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_SERVER: list[Server] = []
_STARTS: list[int] = []  # the processes that started a server, once per start
MAX_STARTS = 2  # a server that dies is started again once; then mypy runs as before


def server() -> Server | None:
    """This process's server, started now if need be; None when it cannot run."""
    if _SERVER and _SERVER[0].owner != os.getpid():
        _SERVER.clear()  # a forked process's copy: its parent's, not to be touched
    if _SERVER and _SERVER[0].alive():
        return _SERVER[0]
    if _SERVER:  # it died
        _SERVER.pop().close()
    if _STARTS.count(os.getpid()) >= MAX_STARTS:
        return None
    _STARTS.append(os.getpid())
    try:
        _SERVER.append(Server())
    except OSError:
        return None
    return _SERVER[0]


class Run:
    """One mypy run forked by the server: a process id, and files for what it printed."""

    def __init__(self, owner: Server, args: list[str], cwd: Path) -> None:
        self.owner = owner
        self.folder = workspace.make("minigrad-mypy-run-")
        self.pid = owner.fork(args, cwd, self.folder)
        self.reaped = False

    def finished(self, timeout: float) -> bool:
        """Whether the run wrote its status, waiting up to ``timeout`` seconds."""
        end = time.monotonic() + timeout
        status = self.folder / "status"
        pause = 0.002
        while not status.exists():
            if time.monotonic() >= end:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        return True

    def result(self) -> tuple[int, str, str]:
        """(exit status, what it printed, its errors), once finished."""

        def read(name: str) -> str:
            try:
                return (self.folder / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return ""

        text = read("status").strip()
        return int(text) if text.lstrip("-").isdigit() else 2, read("out"), read("err")

    def stop(self) -> None:
        """Kill the run if it has not finished, let the server collect it, remove its
        files. The server holds the child until ``reap``, so the id is still its own."""
        if not self.reaped:
            if not (self.folder / "status").exists():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self.owner.reap(self.pid)
            self.reaped = True
        workspace.remove(self.folder)
