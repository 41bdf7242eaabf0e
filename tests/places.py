"""Where users run the grader, made on this machine: a checkout anywhere, its in-tree
virtualenv, an environment as a user's shell has it, a normal user.

The virtualenvs made here are real ones (``python -m venv``: bin/, lib/, the ``lib64``
link, ``pyvenv.cfg``) that see this suite's installed packages through a ``.pth`` file
and carry the requirements stamp that the noxfiles check, so ``nox`` takes them as up
to date instead of downloading PyTorch again. Everything else is what the user runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE_DIRS = sorted({p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)})
# What this machine sets and users' machines do not, and what pytest sets for itself.
NOT_A_USERS = ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")


def users_env(**extra: str) -> dict[str, str]:
    """This process's environment as a user's shell has it (bytecode written, no
    PYTHONPATH), plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in NOT_A_USERS and not k.startswith(("MINIGRAD_", "HYPOTHESIS_"))
    }
    return env | extra


def nox() -> str:
    """The nox that `python3 -m pip install nox` installed (the README's first step)."""
    found = shutil.which("nox")
    assert found, "nox is not installed: run `python3 -m pip install nox` first"
    return found


def nox_site() -> str:
    """The site-packages folder that holds nox (where `pip install nox` put it)."""
    python = getattr(sys, "_base_executable", sys.executable)
    where = subprocess.run(
        [python, "-c", "import nox, os; print(os.path.dirname(os.path.dirname(nox.__file__)))"],
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, f"{python} cannot import nox: {where.stderr[-500:]}"
    return where.stdout.strip()


def checkout(target: Path) -> Path:
    """The repository's files (tracked, and new ones not ignored), as they are now, copied
    to ``target``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        source = ROOT / rel
        if source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    return target


def requirements_stamp(repo: Path) -> str:
    """The stamp a noxfile of ours keeps beside its environment (see noxfile.py)."""
    digest = hashlib.sha256()
    for path in sorted((repo / "requirements").glob("*.txt")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def venv(target: Path, base: str, site_dirs: list[str], stamp: str = "") -> Path:
    """A real virtualenv at ``target`` made by ``base``, seeing ``site_dirs``; its python."""
    subprocess.run([base, "-m", "venv", "--without-pip", str(target)], check=True)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = target / "lib" / version / "site-packages"
    (site / "minigrad-test-env.pth").write_text("\n".join(site_dirs) + "\n")
    if stamp:
        (target / ".requirements-sha256").write_text(stamp)
    return target / "bin" / "python"


def give(path: Path, user: str) -> None:
    """Make ``path`` (recursively) the property of ``user``."""
    subprocess.run(["chown", "-R", f"{user}:", str(path)], check=True)
