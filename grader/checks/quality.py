"""Quality: ruff and mypy --strict on the submission, with the grader's own settings.

The tools read the copied source as text (neither executes it) and ignore any config
file the submission brings. A lab's quality points count only once that lab's
functional checks pass (declared as dependencies).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from grader.checks import graph, nn, ops, train, viz  # noqa: F401  (register them first)
from grader.checks.base import REGISTRY, Context, Fail, check
from grader.rubric import RUBRIC

RUFF_RULES = ["--select", "E,F,W,I,B,UP,SIM,RUF", "--ignore", "UP007", "--line-length", "100"]
TOOL_SECONDS = 120.0


def _tool(args: list[str], cwd: Path) -> str:
    """The tool's findings; a crash (exit status other than 0 or 1) is the grader's
    error (RuntimeError), never an empty list of findings."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=TOOL_SECONDS,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
    except subprocess.TimeoutExpired as exc:
        raise Fail(f"{args[0]} did not finish within {TOOL_SECONDS:g} s on your code") from exc
    if done.returncode not in (0, 1):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise RuntimeError(f"{args[0]} crashed (exit status {done.returncode}): {tail}")
    return done.stdout


def findings(ctx: Context) -> dict[str, list[str]]:
    """File name -> ruff and mypy findings for it (run once per submission)."""
    if "quality" in ctx.cache:
        found: dict[str, list[str]] = ctx.cache["quality"]
        return found
    pkg = ctx.package_dir.parent
    files = sorted(p.name for p in ctx.package_dir.glob("*.py"))
    found = {name: [] for name in files}
    ruff = _tool(
        [
            "ruff",
            "check",
            "--isolated",
            "--no-cache",
            "--output-format",
            "concise",
            "--quiet",
            *RUFF_RULES,
            "minigrad",
        ],
        pkg,
    )
    with tempfile.TemporaryDirectory(prefix="minigrad-mypy-cache-") as cache:
        mypy = _mypy(pkg, cache)
    for line in (ruff + mypy).splitlines():
        name = Path(line.split(":", 1)[0]).name
        if name in found and ": note:" not in line:
            found[name].append(line.strip())
    ctx.cache["quality"] = found
    return found


def _mypy(pkg: Path, cache: str) -> str:
    """mypy --strict on the copied package, with a cache of this run's own."""
    return _tool(
        [
            "mypy",
            "--config-file",
            "",
            "--strict",
            "--python-version",
            "3.11",
            "--no-error-summary",
            "--show-error-codes",
            "--cache-dir",
            cache,
            "-p",
            "minigrad",
        ],
        pkg,
    )


def _quality(ctx: Context, filename: str) -> None:
    problems = findings(ctx).get(filename)
    if problems is None:
        raise Fail(f"{filename} is missing")
    if problems:
        shown = "\n".join(problems[:15]) + (
            f"\n... and {len(problems) - 15} more" if len(problems) > 15 else ""
        )
        raise Fail(
            f"ruff / mypy --strict report {len(problems)} finding(s) in {filename}",
            expected="no findings",
            got=shown,
        )


def _functional(*labs: str) -> list[str]:
    """Every check of the given labs registered so far (quality is registered last)."""
    return [cid for cid in REGISTRY if cid in RUBRIC.items and RUBRIC.items[cid].lab in labs]


@check("lab02.quality", depends=_functional("lab01", "lab02"))
def scalar_quality(ctx: Context) -> None:
    _quality(ctx, "scalar.py")


@check("lab03.quality", depends=_functional("lab03"))
def nn_quality(ctx: Context) -> None:
    _quality(ctx, "nn.py")


@check("lab04.quality", depends=_functional("lab04"))
def train_quality(ctx: Context) -> None:
    _quality(ctx, "train.py")
