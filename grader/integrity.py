"""A fingerprint of everything the grader trusts, taken before and after each submission.

The grader's own code (with its ``__pycache__``), the rubric, the catalog, the reference
and the Python environment (the listing of every site-packages folder and the content
of its ``.pth`` files, where a planted line would run in every later Python process).
Student code is confined so that none of this can change; if it ever does, the batch
stops with an error naming the submission instead of grading on with a tampered grader.

The grader itself writes nothing there while it grades: ``settle`` compiles its
modules once, before the first fingerprint (the reference is never imported here), then
turns bytecode writing off for this process and the processes it starts. Without it, a module first
imported while grading (a fresh Gradescope container holds no bytecode) would write a
``.pyc`` that the fingerprint takes for tampering.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import site
import sys
from pathlib import Path

from grader import workspace

ROOT = Path(__file__).resolve().parent.parent
TRUSTED = (ROOT / "grader", ROOT / "reference", ROOT / "requirements")


def settle() -> None:
    """Make this process write nothing into the grader's folders while it grades: its
    bytecode compiled now (where this Python writes bytecode at all) and none written
    later, and hypothesis's storage (it caches constants of the modules under the
    current folder, the course repository or /autograder/source) in the run's folder.
    Idempotent; cheap when the bytecode is up to date."""
    if not sys.dont_write_bytecode:
        compileall.compile_dir(ROOT / "grader", quiet=2, workers=1)
    sys.dont_write_bytecode = True
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # pool workers and tools started later
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(workspace.folder() / "hypothesis")


class Tampered(Exception):
    """The grader's files changed while a submission was being graded."""


def _site_dirs() -> list[Path]:
    dirs = {Path(p) for p in site.getsitepackages()}
    dirs |= {Path(p) for p in sys.path if p.endswith("site-packages")}
    return sorted(d for d in dirs if d.is_dir())


def fingerprint() -> dict[str, str]:
    """Path -> content hash (files of the trusted folders, .pth files) or listing hash."""
    found: dict[str, str] = {}
    for folder in TRUSTED:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() or not path.is_dir():
                data = path.read_bytes() if path.is_file() else b"<not a file>"
                found[str(path)] = hashlib.sha256(data).hexdigest()
    for folder in _site_dirs():
        names = sorted(p.name for p in folder.iterdir())
        found[f"{folder}/*"] = hashlib.sha256("\n".join(names).encode()).hexdigest()
        for pth in folder.glob("*.pth"):
            found[str(pth)] = hashlib.sha256(pth.read_bytes()).hexdigest()
    return found


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The paths added, removed or changed between two fingerprints."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
