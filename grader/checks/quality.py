"""Quality: ruff and mypy --strict on the submission, with the grader's own settings.

The tools read the copied source as text (neither executes it) and ignore any config
file the submission brings. A lab's quality points count only once that lab's
functional checks pass (declared as dependencies).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.checks import graph, nn, ops, train, viz  # noqa: F401  (register them first)
from grader.checks.base import REGISTRY, Context, Fail, check
from grader.rubric import RUBRIC

RUFF_RULES = ["--select", "E,F,W,I,B,UP,SIM,RUF", "--ignore", "UP007", "--line-length", "100"]
TOOL_SECONDS = 120.0
_MYPY_CACHE = Path(tempfile.gettempdir()) / "minigrad-grader-mypy-cache"


RUFF = [
    "ruff",
    "check",
    "--isolated",
    "--no-cache",
    "--output-format",
    "concise",
    "--quiet",
    *RUFF_RULES,
    "minigrad",
]
MYPY = [
    "mypy",
    "--config-file",
    "",
    "--strict",
    "--python-version",
    "3.11",
    "--no-error-summary",
    "--show-error-codes",
    "--cache-dir",
    str(_MYPY_CACHE),
    "-p",
    "minigrad",
]


class _Tool:
    """ruff or mypy, started in the background on the copied source; its output later."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.name = args[0]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )

    def output(self) -> str:
        left = max(0.0, TOOL_SECONDS - (time.monotonic() - self.started))
        try:
            stdout, _ = self.proc.communicate(timeout=left)
        except subprocess.TimeoutExpired as exc:
            self.stop()
            late = f"{self.name} did not finish within {TOOL_SECONDS:g} s on your code"
            raise Fail(late) from exc
        return stdout

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def start(ctx: Context) -> None:
    """Start ruff and mypy now: they read the copied source while the other checks run."""
    if "quality" not in ctx.cache and "quality_tools" not in ctx.cache:
        pkg = ctx.package_dir.parent
        ctx.cache["quality_tools"] = [_Tool(RUFF, pkg), _Tool(MYPY, pkg)]


def stop(ctx: Context) -> None:
    """Stop the tools if no check asked for their findings."""
    for tool in ctx.cache.pop("quality_tools", []):
        tool.stop()


def findings(ctx: Context) -> dict[str, list[str]]:
    """File name -> ruff and mypy findings for it (run once per submission)."""
    if "quality" in ctx.cache:
        found: dict[str, list[str]] = ctx.cache["quality"]
        return found
    start(ctx)
    tools: list[_Tool] = ctx.cache["quality_tools"]
    try:
        ruff, mypy = (tool.output() for tool in tools)
    finally:
        stop(ctx)
    files = sorted(p.name for p in ctx.package_dir.glob("*.py"))
    found = {name: [] for name in files}
    for line in (ruff + mypy).splitlines():
        name = Path(line.split(":", 1)[0]).name
        if name in found and ": note:" not in line:
            found[name].append(line.strip())
    ctx.cache["quality"] = found
    return found


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


# every check of this module, so that grading can start the tools early when it runs one
IDS = frozenset(cid for cid, c in REGISTRY.items() if c.func.__module__ == __name__)
