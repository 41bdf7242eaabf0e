"""The confined child's process set-up (standard library only).

The limits of the student's process (``set_limits``: memory, CPU time, output, tasks),
the redirection of its standard streams, the blocker of numerical libraries, the start
of a confined process (``enter_confinement``: namespaces, then fork) and ``exit_like``,
which ends a grader process the way another process ended. Used by ``worker.py`` and
``runner.py``.
"""

from __future__ import annotations

import math
import os
import resource
import signal
from typing import Any

FORBIDDEN = frozenset(
    {"numpy", "torch", "jax", "jaxlib", "tensorflow", "scipy", "autograd", "micrograd"}
)
CONFINE_FAILED = 121  # exit status: the worker could not set itself up (grader error)
MAX_TASKS = 64  # RLIMIT_NPROC: threads of the student's process

blocked_imports: list[str] = []


class _Blocker:
    """A meta-path finder that refuses the numerical libraries the engine may not use."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in FORBIDDEN:
            if name not in blocked_imports:
                blocked_imports.append(name)
            raise ImportError(f"the minigrad grader does not allow importing {name!r}")
        return None


confined = False  # the kernel confinement of grader/confine.py holds this process


def set_limits(limits: dict[str, Any]) -> None:
    """Memory, output (file size), process-count and, when given, CPU-time limits."""
    memory = int(limits["memory_mb"] * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if "cpu_seconds" in limits:
        cpu = math.ceil(limits["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    out = int(limits["output_kb"] * 1024)
    resource.setrlimit(resource.RLIMIT_FSIZE, (out, out))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Processes (threads count too) of this uid in this user namespace (without one: of
    # this uid, hence the "tasks" it already runs); process creation is refused by the
    # seccomp filter anyway, this bounds threads.
    tasks = MAX_TASKS + int(limits.get("tasks", 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))
    # CPython ignores SIGXFSZ at startup, so a write past the cap would only raise
    # OSError in the student's code; restore the default so the cap stops the child.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)


def redirect_stdio(log_fd: int) -> tuple[int, int]:
    """Keep private copies of stdin and stdout for the protocol; then read nothing
    from fd 0 and send fds 1 and 2 (the student's prints) to ``log_fd``, the output log
    the grader opened (its size is capped by the output limit). Returns (requests fd,
    replies fd)."""
    requests, replies = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    if log_fd > 2:
        os.close(log_fd)
    return requests, replies


def enter_confinement(folder: str) -> str:
    """The start of a confined process (grader/confine.py): new namespaces, then fork.

    Three processes: this one stays outside the new PID namespace; its child is PID 1
    there (the kernel kills everything in the namespace when it dies, and ignores
    signals to it that it has no handler for, so it runs no student code); PID 1's child
    runs the student's code. The two grader processes run no student code: each waits
    for its child and the outer one exits the way the student's process did (status or
    signal), so the grader sees how it died. Returns the folder's path as the student's
    process sees it.
    """
    from grader.child import namespaces, privileges

    namespaces.enter_namespaces()
    namespaces.bind_layout(folder)
    status_r, status_w = os.pipe()
    outer = os.fork()
    if outer:
        os.close(status_w)
        _detach_stdio()
        os.waitpid(outer, 0)
        raw = os.read(status_r, 16)
        exit_like(int(raw) if raw.isdigit() else 256)
    privileges.die_with_parent()
    os.close(status_r)
    inner = os.fork()
    if inner:  # PID 1
        _detach_stdio()
        _, status = os.waitpid(inner, 0)
        os.write(status_w, str(status).encode())
        os._exit(0)
    os.close(status_w)
    privileges.die_with_parent()
    return namespaces.RUN


def _detach_stdio() -> None:
    """Let go of the protocol pipes: they reach EOF when the student's process dies."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def exit_like(status: int) -> None:
    """Exit with the wait ``status`` of another process: its code, or its signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
