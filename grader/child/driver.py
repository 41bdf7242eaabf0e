"""The driver of the confined child: the trusted end of the worker (standard library only).

It holds the grader's pipes, forks the student's process, forwards each request to it
and passes on only a clean copy (``vet``) of a reply that answers that request. The
grader runs ``vet`` again on what the driver passes on (``grader.sandbox``).
"""

from __future__ import annotations

import json
import os
import resource
import signal
from collections.abc import Callable
from typing import Any

from grader.child import limits
from grader.child.limits import exit_like
from grader.child.objects import MAX_TEXT

# Student code runs in a process of its own that never holds the grader's pipes. The
# driver (this process, grader code only) forwards each request, reads one reply, keeps
# it only if it is well-formed and answers that request, and passes on its own clean
# copy; anything else ends the student's process and becomes the driver's report.
MAX_LINE = 16_000_000  # grader.sandbox.MAX_REPLY_BYTES
MAX_NAMES = 64  # entries of blocked_imports / parents
FAULT = "wrote over the grader's reply channel"


class Faulty(Exception):
    """A reply that cannot be the worker's: the student's code wrote it (or broke it)."""


def vet(reply: Any, request: dict[str, Any]) -> dict[str, Any]:
    """A clean copy of ``reply`` (only the keys of the protocol, every type checked,
    strings capped) if it answers ``request``; else raise ``Faulty`` saying why. The
    grader runs the same check on what the driver passes on."""
    if not isinstance(reply, dict):
        raise Faulty("a line that is not a reply")
    if type(reply.get("id")) is not int or reply["id"] != request.get("id"):
        raise Faulty("a reply to another request")
    if reply.get("ok") is not True:
        if reply.get("ok") is not False:
            raise Faulty("a reply that says neither ok nor not ok")
        return {"id": reply["id"], "ok": False, "error": _vet_error(reply.get("error"))}
    clean: dict[str, Any] = {"id": reply["id"], "ok": True}
    clean["blocked_imports"] = _names(reply.get("blocked_imports", []), "blocked_imports")
    if request.get("kind") == "hello":
        modules = reply.get("modules")
        if not isinstance(modules, dict) or not set(modules) <= set(MODULE_NAMES):
            raise Faulty("a hello reply without its modules")
        clean["modules"] = {
            m: None if modules[m] is None else _vet_error(modules[m]) for m in modules
        }
        clean["network_isolated"] = reply.get("network_isolated") is True
        clean["hidden"] = _names(reply.get("hidden", []), "hidden")
        return clean
    if not isinstance(reply.get("reads"), dict):
        raise Faulty("a reply without reads")
    clean["reads"] = reply["reads"]
    error = reply.get("error")
    clean["error"] = None if error is None else _vet_error(error, len(request["steps"]))
    clean["parents"] = _names(reply.get("parents", []), "parents")
    return clean


MODULE_NAMES = ("scalar", "nn", "train", "viz")


def _vet_error(error: Any, steps: int = 0) -> dict[str, Any]:
    """A clean error: its type, message and the step (of ``steps``) it happened at."""
    if not isinstance(error, dict):
        raise Faulty("an error that is not an object")
    kind, message, step = error.get("type"), error.get("message"), error.get("step")
    if not isinstance(kind, str) or not isinstance(message, str):
        raise Faulty("an error without its type and message")
    if step is not None and (type(step) is not int or not 0 <= step < steps):
        raise Faulty("an error at a step the request does not have")
    return {"type": kind[:200], "message": message[: MAX_TEXT + 3], "step": step}


def _names(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_NAMES:
        raise Faulty(f"{what} that is not a short list")
    if not all(isinstance(v, str) for v in value):
        raise Faulty(f"{what} that are not all names")
    return [v[:200] for v in value]


class Driver:
    """The trusted end of the worker: holds the grader's pipes, drives the student's."""

    def __init__(
        self, requests_fd: int, replies_fd: int, student: Callable[[int, int], None]
    ) -> None:
        from grader.child.channel import Lines

        self.requests = Lines(requests_fd, MAX_LINE)
        self.replies_fd = replies_fd
        down_r, self.down = os.pipe()
        up, up_w = os.pipe()
        keep = (down_r, up_w)
        self.pid = os.fork()
        if self.pid == 0:  # the student's process: none of the driver's descriptors
            status = 1
            try:
                most = max(1 << 16, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
                for low, high in zip((2, *sorted(keep)), (*sorted(keep), most), strict=True):
                    os.closerange(low + 1, high)
                student(down_r, up_w)
                status = 0
            finally:
                os._exit(status)
        os.close(down_r)
        os.close(up_w)
        self.student = Lines(up, MAX_LINE)

    def run(self) -> None:
        from grader.child.channel import parse

        while (line := self.requests.read()) is not None:
            request = json.loads(line)  # from the grader: trusted
            try:
                if self.student.pending():
                    raise Faulty("a line nobody asked for")
                try:
                    _write_all(self.down, line + b"\n")
                except BrokenPipeError:  # it died: the read below sees how
                    os.close(self.down)
                    self.down = os.open(os.devnull, os.O_WRONLY)
                answer = self.student.read()
                if answer is None:
                    if self.student.overflow:
                        raise Faulty(f"a reply longer than {MAX_LINE} bytes")
                    self._exit_like_student()
                clean = vet(parse(answer or b""), request)
                if request.get("kind") == "hello":  # facts the driver knows, not the student
                    clean["network_isolated"] = limits.confined
                    clean["hidden"] = ["everything outside its folder"] if limits.confined else []
            except Faulty as why:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                self._send({"id": request["id"], "ok": False, "fault": f"{FAULT} ({why})"})
                os._exit(0)
            self._send(clean)
        os.close(self.down)  # the grader is done: so is the student's process
        os.waitpid(self.pid, 0)

    def _send(self, reply: dict[str, Any]) -> None:
        _write_all(self.replies_fd, json.dumps(reply, allow_nan=True).encode() + b"\n")

    def _exit_like_student(self) -> None:
        """The student's process died: end this one the same way (the grader says how)."""
        _, status = os.waitpid(self.pid, 0)
        exit_like(status)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
