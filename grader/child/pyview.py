"""A view of the Python installation that uid NOBODY can read (stdlib only).

Without namespaces, a grader running as root confines student code as uid NOBODY
(``confine.become_unprivileged``). That uid must read the standard library and, for the
students' tests, site-packages; a Python installed under ``/root`` (pyenv) or a
checkout in a home folder others cannot enter hides them. Rather than ask the user to
open up their files, the grader lays out a *view*: the hidden folders again, in a fresh
folder of its own under the temp folder, made of hard links to the same files (copies
where a link is impossible or the file is not readable by all), readable by all users.

The grader builds the view (``build``) before the first child starts and passes the
mapping ``{hidden folder: its view}`` to each child, which applies it first thing
(``apply``): its import path, and the packages it already imported, then point into
the view, and Landlock grants the view instead of the hidden folder (``mapped``).
Nothing in the view is writable by student code: it belongs to root, and Landlock
grants only reads there anyway. The interpreter binary and ``libpython`` need no view:
the kernel loads them while the child is still root.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable

VIEW: dict[str, str] = {}  # this process's mapping: hidden folder -> its view
BUILT: dict[str, str] = {}  # the grader's: the view it built (or found) for its children
ENV = "MINIGRAD_PYTHON_VIEW"  # the view, for the grader's pool workers (they reuse it)
RUN_FOLDER = "MINIGRAD_RUN_FOLDER"  # grader/workspace.py's ENV
# Not in a view of the standard library: its own tests and demos, and site-packages (a
# folder of sys.path of its own, viewed on its own where needed).
SKIP = {"site-packages", "test", "idlelib", "turtledemo"}


def mapped(path: str) -> str:
    """``path`` as this process reads it: inside the view where it is hidden."""
    for hidden, view in VIEW.items():
        if path == hidden or path.startswith(hidden + os.sep):
            return view + path[len(hidden) :]
    return path


def apply(view: dict[str, str]) -> None:
    """Read the interpreter's files through ``view`` from now on (before any lock-down)."""
    if not view:
        return
    VIEW.update(view)
    sys.path[:] = [mapped(p) for p in sys.path]
    for module in list(sys.modules.values()):
        paths = getattr(module, "__path__", None)
        if isinstance(paths, list):  # a package: its submodules load from the view
            paths[:] = [mapped(p) for p in paths]
    sys.path_importer_cache.clear()


def hidden_from(uid: int, folders: Iterable[str]) -> list[str]:
    """The folders of ``folders`` that ``uid`` cannot list (tried in a forked child that
    becomes ``uid``: the kernel's answer, whatever the modes, ACLs or mounts say)."""
    folders = [f for f in folders if os.path.isdir(f)]
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # the probe that follows says why
        os.close(read)
        os.close(write)
        return []
    if pid == 0:
        try:
            os.close(read)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            for number, folder in enumerate(folders):
                try:
                    os.listdir(folder)
                except OSError:
                    os.write(write, f"{number}\n".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answers:
        failed = {int(line) for line in answers if line.strip().isdigit()}
    os.waitpid(pid, 0)
    return [folders[n] for n in sorted(failed)]


def ensure(hidden: list[str]) -> dict[str, str]:
    """The grader's view of the ``hidden`` folders: the one its parent process built
    (``ENV``), or a new one, removed when this process exits."""
    known = json.loads(os.environ.get(ENV) or "{}")
    if set(hidden) <= set(known) and all(_ours(v) for v in known.values()):
        BUILT.update(known)
        return BUILT
    run = os.environ.get(RUN_FOLDER)  # the grader's run folder: removed with it
    where = tempfile.mkdtemp(prefix="minigrad-python-", dir=run if run else None)
    if not run:
        atexit.register(shutil.rmtree, where, True)
    BUILT.update(build(hidden, where))
    os.environ[ENV] = json.dumps(BUILT)
    return BUILT


def _ours(folder: str) -> bool:
    """Whether ``folder`` exists and belongs to this process's user (never a view some
    other user laid out, named in an environment this process inherited)."""
    try:
        return os.lstat(folder).st_uid == os.geteuid() and os.path.isdir(folder)
    except OSError:
        return False


def build(folders: Iterable[str], where: str) -> dict[str, str]:
    """Lay out a view of each folder in the folder ``where``; the mapping."""
    os.makedirs(where, exist_ok=True)
    os.chmod(where, 0o755)  # reachable and readable by all (mkdtemp made it 0700)
    view = {}
    for number, folder in enumerate(sorted(set(folders))):
        target = os.path.join(where, str(number))
        _mirror(folder, target)
        view[folder] = target
    return view


def _mirror(source: str, target: str) -> None:
    device = os.stat(source).st_dev
    for base, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if not (base == source and d in SKIP)]
        here = os.path.join(target, os.path.relpath(base, source))
        os.makedirs(here, exist_ok=True)
        os.chmod(here, 0o755)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            _place(os.path.join(base, name), os.path.join(here, name), device)


def _place(source: str, target: str, device: int) -> None:
    """A hard link to ``source`` where it is on the same device and readable by all;
    else a copy readable by all (the same times: bytecode stays valid)."""
    info = os.lstat(source)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), target)
    elif not stat.S_ISREG(info.st_mode):
        return
    elif info.st_dev == device and info.st_mode & stat.S_IROTH:
        try:
            os.link(source, target, follow_symlinks=False)
            return
        except OSError:
            pass  # a file system without hard links, or a protected one: copy it
    shutil.copy2(source, target, follow_symlinks=False)
    os.chmod(target, 0o755 if info.st_mode & stat.S_IXUSR else 0o644)
