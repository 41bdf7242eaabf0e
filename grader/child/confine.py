"""Kernel confinement for processes that run student code (Linux, x86_64; stdlib only).

Loaded by path (``python -I -S``, no site-packages) by ``worker.py`` and
``runner.py``, and imported by the grader to probe what the machine offers. Every
kernel interface is reached through ``ctypes`` and named after its C definition
(linux/landlock.h, linux/seccomp.h, linux/filter.h, linux/capability.h, sched.h) so the
modules can be reviewed against the man pages: ``namespaces.py``, ``privileges.py``
(prctl, capabilities, uid NOBODY), ``landlock.py`` and ``seccomp.py`` hold the parts;
this module puts them together (``lock_down``, ``lock_again``, ``hand_over``) and probes
what the machine offers (``available``).

The order a confined process follows (see ``worker.main``):

1. ``enter_namespaces``: a new user namespace (no capability in the grader's namespace,
   whoever runs the grader), new mount, network (no interface but a down loopback) and
   PID namespaces (the first child is PID 1: when it dies the kernel kills everything
   else in it, and nothing in it can see or signal a process outside).
2. ``bind_layout``: in the new mount namespace, a fresh tmpfs over ``/tmp`` with the
   sandbox's folder bound at ``/tmp/run`` -- every submission sees the same paths.
3. After ``fork`` (the child is PID 1): ``lock_down``: securebits locked, every
   capability dropped (bounding, ambient, effective, permitted, inheritable),
   ``PR_SET_NO_NEW_PRIVS``, a Landlock domain (read-only allow-list, write only in the
   scratch folder, no TCP, no signals or abstract sockets out of the domain) and a
   seccomp filter (``SECCOMP_FILTER``) refusing mount, namespace, tracing, kernel-key,
   module, BPF, io_uring and process-creation calls with EPERM.

None of these can be undone from inside: Landlock domains and seccomp filters only ever
stack, and no-new-privs is one-way.

Where the host refuses unprivileged user namespaces (``available`` probes), the LANDLOCK
mode skips steps 1 and 2: the folder stays where it is, and ``lock_down`` first makes a
root process uid NOBODY (``become_unprivileged``; ``hand_over`` lets that uid use its
folder). The seccomp filter already holds what the namespaces added: no ``socket`` (no
network), no process creation (nothing outlives it), no signal, limit or scheduling
call aimed at another process (``SELF_ONLY``), and no parent or group PID (``HIDDEN``).
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable, Iterable

from grader.child import pyview
from grader.child.landlock import MIN_ABI, landlock, landlock_abi
from grader.child.namespaces import RUN, _interpreter_folders, bind_layout, enter_namespaces
from grader.child.privileges import (
    NOBODY,
    become_unprivileged,
    die_with_parent,
    drop_capabilities,
    no_new_privs,
)
from grader.child.seccomp import seccomp

# The two confinements (``available``): with user, mount, network and PID namespaces, or,
# where the host refuses unprivileged user namespaces (Docker's default seccomp profile,
# Ubuntu 24.04's AppArmor), Landlock and seccomp alone, as uid NOBODY when root.
NAMESPACES, LANDLOCK = "namespaces", "landlock"


# ----------------------------------------------------------------------- policy
def stdlib_entries() -> list[str]:
    """Every entry of the standard library folder except ``site-packages`` (Landlock
    grants are recursive, so the folder itself cannot be granted); in the view of the
    installation where it is hidden from the child (``pyview``)."""
    import sysconfig

    found: set[str] = set()
    for key in ("stdlib", "platstdlib"):
        base = pyview.mapped(sysconfig.get_path(key))
        try:
            names = os.listdir(base)
        except OSError:  # a venv's platstdlib (only its site-packages), closed to NOBODY
            continue
        found.update(os.path.join(base, name) for name in names if name != "site-packages")
    return sorted(found)


def library_dirs() -> list[str]:
    """The folders of the shared libraries this interpreter has loaded (libc's folder
    holds what extension modules link against: libffi, libz, ...)."""
    dirs = {"/etc/ld.so.cache"}
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if path.startswith("/") and ".so" in path and os.path.exists(path):
                dirs.add(os.path.dirname(path))
    return sorted(d for d in dirs if os.path.exists(d))


def allowed_reads(read: Iterable[str]) -> list[str]:
    """What a confined process may read: the interpreter's files and ``read``."""
    return [*stdlib_entries(), *library_dirs(), "/dev/urandom", *read]


def lock_down(
    read: Iterable[str], write: Iterable[str], processes: bool = False, mode: str = ""
) -> None:
    """Steps 3 of the module docstring, in the order the kernel requires (``processes``:
    fork stays allowed, for the worker's driver; see ``seccomp_program``). A root
    process (the host's, or the namespace's mapped one) first becomes NOBODY."""
    if os.geteuid() == 0:  # without namespaces the host's root, with them the mapped one
        become_unprivileged()
        die_with_parent()  # a change of uid cleared it
    drop_capabilities()
    no_new_privs()
    landlock(allowed_reads(read), write, rw_files=["/dev/null"])
    seccomp(processes)


def lock_again(reads: list[str], write: Iterable[str]) -> None:
    """In a child of a locked-down process: a Landlock domain of its own inside its
    parent's (no signal reaches the parent, no ptrace of it) and the full seccomp filter.
    ``reads`` comes from ``allowed_reads``, computed before the parent's lock-down."""
    landlock(reads, write, rw_files=["/dev/null"])
    seccomp()


def hand_over(folder: str, writable: Iterable[str] = ()) -> None:
    """In the LANDLOCK mode as root: let NOBODY reach ``folder``, read everything in it
    and write in ``writable`` (whatever the grader's umask made of them)."""
    if os.geteuid() != 0:
        return
    os.chmod(folder, 0o711)  # reachable, not listable
    for base, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(base, name), 0o755, follow_symlinks=False)
        for name in files:
            os.chmod(os.path.join(base, name), 0o644, follow_symlinks=False)
    for path in writable:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)


def available() -> tuple[str, str]:
    """(mode, note): the strongest confinement this machine offers, and one line on
    what it lacks. Mode NAMESPACES (note ''), LANDLOCK (note: why not namespaces), or
    '' (note: why student code cannot be confined here at all).

    As root, student code runs as NOBODY in either mode: where that uid cannot read the
    interpreter's folders, they are seen through a view (``pyview``) built here."""
    if not sys.platform.startswith("linux") or platform.machine() != "x86_64":
        return (
            "",
            f"confinement needs Linux on x86_64 (this is {sys.platform} {platform.machine()})",
        )
    abi = landlock_abi()
    if abi < MIN_ABI:
        return "", "the kernel offers no Landlock (Linux 5.13+ with Landlock enabled is needed)"
    _view_for_nobody()
    why = _probe_namespaces()
    if not why:
        return NAMESPACES, ""
    why_not_either = _probe_landlock()
    if not why_not_either:
        return LANDLOCK, why
    return "", why if why_not_either == why else f"{why}; {why_not_either}"


def _probe(steps: list[str], run: Callable[[str, Callable[[int], None]], None]) -> str:
    """Run ``run(folder, reached)`` in a forked child (what it changes cannot be undone);
    '' if it got through, else ``steps[n]`` for the last ``reached(n)`` before it failed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="minigrad-probe-") as folder:
        try:
            pid = os.fork()
        except OSError as exc:
            return f"cannot start a probe process ({exc.strerror})"
        if pid == 0:
            step = [0]
            try:
                run(folder, lambda n: step.__setitem__(0, n))
                os._exit(0)
            except BaseException:
                os._exit(10 + step[0])
        _, status = os.waitpid(pid, 0)
    if status == 0:
        return ""
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
    return steps[code - 10] if 10 <= code < 10 + len(steps) else "the probe process failed"


def _view_for_nobody() -> dict[str, str]:
    """As root: the view of the interpreter's folders that NOBODY cannot read."""
    if os.geteuid() != 0:
        return {}
    needed = [p for p in _interpreter_folders() if os.path.isdir(p)]
    hidden = pyview.hidden_from(NOBODY, needed)
    return pyview.ensure(hidden) if hidden else {}


def _probe_namespaces() -> str:
    view = _view_for_nobody()
    needed = [view.get(p, p) for p in _interpreter_folders() if os.path.isdir(p)]

    def run(folder: str, reached: Callable[[int], None]) -> None:
        pyview.apply(view)  # as the worker does
        enter_namespaces()
        reached(1)
        bind_layout(folder)
        reached(2)
        inner = os.fork()
        if inner == 0:
            try:
                become_unprivileged()  # as lock_down does
                drop_capabilities()
                no_new_privs()
                landlock([RUN, *needed], [])
                seccomp()
                for path in needed:  # still there, behind the new /tmp
                    os.listdir(path)
            except BaseException:
                os._exit(1)
            os._exit(0)
        reached(3)
        if os.waitpid(inner, 0)[1] != 0:
            raise OSError("lock-down")

    refuses = "the kernel refuses {} to this user"
    steps = ["user namespaces", "mounts in a user namespace", "fork", "Landlock or seccomp"]
    return _probe([refuses.format(step) for step in steps], run)


def _probe_landlock() -> str:
    """The LANDLOCK mode as the worker uses it: as root, NOBODY must reach a handed-over
    folder and read the interpreter's files (the standard library, site-packages), in
    a view of the installation where they are hidden from it (``pyview``)."""
    needed = [p for p in _interpreter_folders() if os.path.isdir(p)]
    view = _view_for_nobody()

    def run(folder: str, reached: Callable[[int], None]) -> None:
        pyview.apply(view)  # as the worker does
        work = os.path.join(folder, "work")
        os.mkdir(work)
        hand_over(folder, [work])
        become_unprivileged()
        reached(1)
        for path in needed:
            os.listdir(pyview.mapped(path))
        with open(os.path.join(work, "probe"), "w") as f:
            f.write("x")
        reached(2)
        lock_down([folder], [work])
        with open(os.path.join(work, "probe")) as f:
            f.read()

    steps = [
        "without namespaces, root cannot become an unprivileged user here",
        f"without namespaces, uid {NOBODY} cannot use the temp folder (let all users "
        "enter it: chmod a+x on it and its parents)",
        "without namespaces, the kernel refuses Landlock or seccomp to this user",
    ]
    return _probe(steps, run)
