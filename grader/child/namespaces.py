"""Namespaces of a confined process (Linux; stdlib only): new user, mount, network and
PID namespaces (``enter_namespaces``; as root, the root and NOBODY uid map), the layout
of the new mount namespace (``bind_layout``: a tmpfs over /tmp, the sandbox's folder at
``RUN``) and the mounts of the students' test runs. Named after sched.h and
linux/mount.h. Steps 1 and 2 of ``confine``'s docstring.
"""

from __future__ import annotations

import os
import sys

from grader.child import pyview
from grader.child.privileges import NOBODY, _check, _libc, die_with_parent

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000
MS_BIND, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 4096, 0x4000, 1 << 18, 2, 4
RUN = "/tmp/run"  # where the sandbox's folder appears inside the mount namespace


def enter_namespaces() -> None:
    """unshare user, mount, network and PID namespaces and map our uid/gid into the new
    user namespace: an unprivileged process its own (the only mapping it may write);
    root, root and NOBODY (``_map_root_and_nobody``), so that ``lock_down`` can make
    the processes that run student code NOBODY, whom the kernel's process limit
    (RLIMIT_NPROC, which exempts root) binds, while the grader's own processes keep
    root's access to the files they lay out."""
    if os.geteuid() == 0:
        _map_root_and_nobody()
        return
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID
    _check(_libc.unshare(flags), "unshare(user, mount, net, pid)")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def _map_root_and_nobody() -> None:
    """As root: a mapping of two ids needs CAP_SETUID in the parent namespace, which a
    process loses for its own new namespace; so this process forks, the child unshares,
    and this one (still in the host's namespaces) writes the child's maps, then waits
    for it and ends the way it ends. Only the child returns."""
    ready_r, ready_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        os.close(mapped_w)
        die_with_parent()
        flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID
        _check(_libc.unshare(flags), "unshare(user, mount, net, pid)")
        os.write(ready_w, b"1")
        os.close(ready_w)
        if os.read(mapped_r, 1) != b"1":
            raise OSError("the namespace's ids were not mapped")
        os.close(mapped_r)
        os.setresgid(0, 0, 0)  # the mapped root: full capabilities in the namespace
        os.setresuid(0, 0, 0)
        return
    os.close(ready_w)
    os.close(mapped_r)
    ok = os.read(ready_r, 1) == b"1"
    if ok:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{child}/{name}", "w") as f:
                f.write(f"0 0 1\n{NOBODY} {NOBODY} 1\n")
        os.write(mapped_w, b"1")
    os.close(mapped_w)
    null = os.open(os.devnull, os.O_RDWR)  # the pipes reach EOF when the child dies
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):  # die of the same signal (Python ignores some: reset it)
        import resource
        import signal

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def bind_layout(folder: str) -> None:
    """Make every mount private, lay a tmpfs over /tmp and bind ``folder`` at RUN.

    The interpreter's own folders that lie under /tmp (a checkout there, with nox's
    virtualenv inside it) are bound again at their own paths on the new tmpfs, so the
    confined process still finds its standard library and site-packages."""
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    keep = sorted({p for p in _interpreter_folders() if p.startswith("/tmp/") and os.path.isdir(p)})
    held = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in keep]
    fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    try:
        opts = b"size=1m,mode=0755"
        _check(
            _libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, opts),
            "tmpfs on /tmp",
        )
        os.mkdir(RUN)
        source = f"/proc/self/fd/{fd}".encode()
        _check(_libc.mount(source, RUN.encode(), None, MS_BIND | MS_REC, None), "bind " + RUN)
        for path, kept in held:
            os.makedirs(path, exist_ok=True)
            bind_here(f"/proc/self/fd/{kept}", path)
    finally:
        os.close(fd)
        for _, kept in held:
            os.close(kept)


def unshare_pid_and_mount() -> None:
    """New PID (for our next child) and mount namespaces, inside the user namespace."""
    _check(_libc.unshare(CLONE_NEWPID | CLONE_NEWNS), "unshare(pid, mount)")


def mount_tmpfs(target: str, size: str) -> None:
    """A fresh tmpfs over ``target`` (this mount namespace only): its inode numbers and
    times start over, so nothing in it tells one mount from another."""
    options = f"size={size},mode=0755".encode()
    _check(_libc.mount(b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), "tmpfs")


def bind_here(source: str, target: str) -> None:
    """Bind ``source`` over the existing folder ``target`` (this mount namespace only)."""
    _check(_libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None), "bind")


def _interpreter_folders() -> list[str]:
    """The standard library and site-packages folders, as this process reads them."""
    import sysconfig

    viewed = set(pyview.VIEW.values())
    site = [p for p in sys.path if "site-packages" in p or p in viewed]
    return [pyview.mapped(p) for p in [sysconfig.get_path("stdlib"), *site]]
