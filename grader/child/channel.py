"""Reading JSON lines from a process that may misbehave, and stopping it (stdlib only).

One implementation for every reader of an untrusted line protocol: the grader reading
the worker (``grader.sandbox``) and the test runner (``grader.student_tests``), and the
worker's driver reading the student's process (``grader.child.driver``). Every read has
a deadline and a size cap, every JSON value a depth cap; nothing here trusts the writer.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

MAX_DEPTH = 32  # deepest nesting of lists and objects a reply may have


def parse(line: bytes) -> Any:
    """The JSON value on ``line``, or None when it is not one or is nested too deeply."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return None
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return value


class Lines:
    """Lines read from ``fd``: each at most ``line_limit`` bytes, ``total_limit`` in all.

    After ``read`` returns None, ``closed`` tells whether the writer closed its end (it
    died) and ``overflow`` whether it sent more than a limit allows; else time ran out.
    """

    def __init__(self, fd: int, line_limit: int, total_limit: int | None = None) -> None:
        self.fd, self.line_limit, self.total_limit = fd, line_limit, total_limit
        self.buffer, self.total = b"", 0
        self.closed = self.overflow = False

    def read(self, deadline: float | None = None) -> bytes | None:
        """The next line without its newline; None at EOF, past ``deadline`` (monotonic;
        None: wait as long as it takes) or past a limit."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > self.line_limit or (
                self.total_limit is not None and self.total > self.total_limit
            ):
                self.overflow = True
                return None
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and (left <= 0 or not select.select([self.fd], [], [], left)[0]):
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.closed = True
                return None
            self.total += len(chunk)
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        if len(line) > self.line_limit:
            self.overflow = True
            return None
        return line

    def pending(self) -> bool:
        """Whether anything more was written (and not read yet) right now."""
        return bool(self.buffer) or bool(select.select([self.fd], [], [], 0)[0])


def kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` and its process group (started with ``start_new_session``), reap it
    and close the pipes the grader holds to it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream:
            stream.close()
