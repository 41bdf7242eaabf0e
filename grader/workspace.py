"""The folders a grading run makes, all in one folder of its own, removed at its end.

Every temporary folder of the grader (a sandbox, a run of the students' tests, the
planted-bug engines, a lint tool's cache, mypy's seed) is made in the run's folder
(``make``) and removed as soon as it is done with (``remove``); whatever is left when
the process that made the run's folder exits is removed with it. The batch's pool
workers share their parent's folder (``ENV``), so nothing a worker made outlives the
batch, and ``remove`` takes away what student code left read-only, which
``shutil.rmtree`` alone would leave behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

ENV = "MINIGRAD_RUN_FOLDER"  # set by the process that made the run's folder
_made: list[Path] = []  # the run's folder, in the process that made it


def folder() -> Path:
    """This run's folder (made on first use; reachable, not listable, by all users:
    uid 65534 must reach the sandboxes in it)."""
    known = os.environ.get(ENV)
    if known and _ours(Path(known)):
        return Path(known)
    made = Path(tempfile.mkdtemp(prefix="minigrad-run-"))
    os.chmod(made, 0o711)
    _made.append(made)
    atexit.register(remove, made)
    os.environ[ENV] = str(made)
    return made


def _ours(path: Path) -> bool:
    """An existing folder of this user's that it can write in (never one named in an
    environment inherited from another user's grader)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and os.access(path, os.W_OK)


def make(prefix: str) -> Path:
    """A new folder in this run's folder."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=folder()))


def remove(path: Path | str) -> bool:
    """Remove ``path`` and everything in it, whatever modes student code gave its
    folders; whether it is gone."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return True
    if not path.is_symlink():
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IRWXU)
    for base, dirs, _ in os.walk(path):
        for name in dirs:
            where = os.path.join(base, name)
            if not os.path.islink(where):
                with contextlib.suppress(OSError):  # not ours to change: rmtree tells
                    os.chmod(where, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()
