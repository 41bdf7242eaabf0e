"""Quality: ruff and mypy --strict on the submission, with the grader's own settings.

The tools read the copied source as text (neither executes it) and ignore any config
file the submission brings. A lab's quality points count once at least one of that
lab's functional checks passes (``any_of``): the lab has been attempted.

The findings are a function of the source text alone, so a grader process remembers
them by the hash of the package's files: a copy of an engine it already linted (an
identical submission in a batch) is not linted again.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from grader import clock, workspace
from grader.checks import graph, mypy_fork, nn, ops, train, viz  # noqa: F401  (register them first)
from grader.checks.base import REGISTRY, Context, Fail, check, import_hidden
from grader.i18n import _
from grader.rubric import RUBRIC

RUFF_RULES = ["--select", "E,F,W,I,B,UP,SIM,RUF", "--ignore", "UP007", "--line-length", "100"]
TOOL_SECONDS = 120.0
HIDDEN = import_hidden()  # registered first too: they count as functional checks


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
    "{cache}",  # a fresh folder per run: a cache one submission poisoned serves no other
    "-p",
    "minigrad",
]


class _Tool:
    """ruff or mypy, started in the background on the copied source; its output later.

    mypy is forked by this process's mypy server when there is one (``mypy_fork``: the
    same run without the start-up cost), else run as ``python -m mypy`` like ruff. A
    crash (an exit status other than 0 or 1) is the grader's error (RuntimeError),
    never an empty list of findings.
    """

    def __init__(self, args: list[str], cwd: Path, seed: Path | None = None) -> None:
        self.name = args[0]
        self.started = time.monotonic()
        self.cache = workspace.make(f"minigrad-{self.name}-cache-")
        if seed is not None:  # the grader's own copy of what every run would compute first
            shutil.copytree(seed, self.cache, dirs_exist_ok=True)
        argv = [a.replace("{cache}", str(self.cache)) for a in args]
        self.forked: mypy_fork.Run | None = None
        self.proc: subprocess.Popen[str] | None = None
        owner = mypy_fork.server() if self.name == "mypy" else None
        if owner is not None:
            with contextlib.suppress(OSError):  # the server is gone: as before
                self.forked = mypy_fork.Run(owner, argv[1:], cwd)
        pid = self.forked.pid if self.forked is not None else self._popen(argv, cwd).pid
        self.watch = clock.Stopwatch(pid, below=False)

    def _popen(self, argv: list[str], cwd: Path) -> subprocess.Popen[str]:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *argv],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=mypy_fork.ENV,
        )
        return self.proc

    def _ended(self) -> tuple[int, str, str] | None:
        """(exit status, output, errors) once the tool has ended; None after 0.2 s."""
        if self.forked is not None:
            return self.forked.result() if self.forked.finished(0.2) else None
        assert self.proc is not None
        try:
            printed, errors = self.proc.communicate(timeout=0.2)
        except subprocess.TimeoutExpired:  # retrying loses no output
            return None
        return self.proc.returncode, printed, errors

    def output(self) -> str:
        """What the tool printed; Fail when it used TOOL_SECONDS (CPU, not load) on the
        student's code, ``clock.MachineBusy`` when the machine was too busy to tell."""
        net = self.started + clock.net(TOOL_SECONDS)
        while (ended := self._ended()) is None:
            if self.watch.used() >= TOOL_SECONDS:
                self.stop()
                late = _("{tool} did not finish within {seconds} s on your code").format(
                    tool=self.name, seconds=f"{TOOL_SECONDS:g}"
                )
                raise Fail(late)
            if time.monotonic() >= net:
                self.stop()
                raise clock.MachineBusy(
                    _(
                        "the machine was too busy to run {tool} on your code (not your "
                        "fault; grade it again)"
                    ).format(tool=self.name)
                )
        code, printed, errors = ended
        if code not in (0, 1):
            tail = (errors or printed).strip().splitlines()[-1:]
            raise RuntimeError(f"{self.name} crashed (exit status {code}): {tail}")
        return printed

    def stop(self) -> None:
        if self.forked is not None:
            self.forked.stop()
        elif self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.communicate()
        workspace.remove(self.cache)


class _Starting:
    """A tool whose start waits for something slow (mypy's seed, built once per grading
    process: about 1 s): started in a thread, so the checks run meanwhile; its output
    and stop wait for the start."""

    def __init__(self, start: Callable[[], _Tool]) -> None:
        self.tool: _Tool | None = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.tool = start()
            except BaseException as exc:  # said again by output(): a grader error
                self.error = exc

        self.thread = threading.Thread(target=run, name="quality-start", daemon=True)
        self.thread.start()

    def _started(self) -> _Tool:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.tool is not None
        return self.tool

    def output(self) -> str:
        return self._started().output()

    def stop(self) -> None:
        self.thread.join()
        if self.tool is not None:
            self.tool.stop()


_SEED_LOCK = threading.Lock()
_SEED: list[Path] = []  # built once per grader process, in the run's folder
# What the engine may import (lab 1): mypy's analysis of these stubs is the same for
# every submission, so it is done once and copied into each run's own fresh cache.
SEED_SOURCE = (
    "import __future__\nimport collections.abc\nimport math\nimport random\nimport typing\n"
)


def mypy_seed() -> Path | None:
    """A mypy cache of the standard library's stubs, built by the grader itself once per
    process (no student code near it); None when it cannot be built."""
    with _SEED_LOCK:  # built in a tool's starting thread
        if not _SEED:
            folder = workspace.make("minigrad-mypy-seed-")
            (folder / "src" / "minigrad").mkdir(parents=True)
            (folder / "src" / "minigrad" / "__init__.py").write_text(SEED_SOURCE)
            tool = _Tool(MYPY, folder / "src")
            try:
                tool.output()
                shutil.copytree(tool.cache, folder / "cache")
            except (Fail, RuntimeError, OSError):
                workspace.remove(folder)
                return None
            finally:
                tool.stop()
            _SEED.append(folder)
        return _SEED[0] / "cache"


# source hash -> findings, for this grader process (never on disk: nothing to poison)
_FINDINGS: dict[str, dict[str, list[str]]] = {}


def source_hash(package: Path) -> str:
    """A hash of the names and bytes of the package's .py files (the copy the tools read)."""
    digest = hashlib.sha256(" ".join([*RUFF, *MYPY]).encode())
    for path in sorted(package.glob("*.py")):
        digest.update(f"\0{path.name}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def start(ctx: Context) -> None:
    """Start ruff and mypy now: they read the copied source while the other checks run."""
    if "quality" in ctx.cache or "quality_tools" in ctx.cache:
        return
    ctx.cache["quality_source"] = key = source_hash(ctx.package_dir)
    if key in _FINDINGS:
        ctx.cache["quality"] = _FINDINGS[key]
        return
    pkg = ctx.package_dir.parent
    mypy = _Starting(lambda: _Tool(MYPY, pkg, mypy_seed()))
    ctx.cache["quality_tools"] = [_Tool(RUFF, pkg), mypy]


def stop(ctx: Context) -> None:
    """Stop the tools if no check asked for their findings."""
    for tool in ctx.cache.pop("quality_tools", []):
        tool.stop()


def findings(ctx: Context) -> dict[str, list[str]]:
    """File name -> ruff and mypy findings for it (run once per submission)."""
    start(ctx)  # a no-op once started; finds the findings of a source linted before
    if "quality" in ctx.cache:
        found: dict[str, list[str]] = ctx.cache["quality"]
        return found
    tools: list[_Tool | _Starting] = ctx.cache["quality_tools"]
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
    ctx.cache["quality"] = _FINDINGS[ctx.cache["quality_source"]] = found
    return found


def _quality(ctx: Context, filename: str) -> None:
    problems = findings(ctx).get(filename)
    if problems is None:
        raise Fail(_("{file} is missing").format(file=filename))
    if problems:
        shown = "\n".join(problems[:15]) + (
            "\n" + _("... and {n} more").format(n=len(problems) - 15) if len(problems) > 15 else ""
        )
        raise Fail(
            _("ruff / mypy --strict report {n} finding(s) in {file}").format(
                n=len(problems), file=filename
            ),
            expected=_("no findings"),
            got=shown,
        )


def _functional(*labs: str) -> list[str]:
    """Every check with points in the given labs (quality is registered after them)."""
    return [
        cid
        for cid in REGISTRY
        if cid in RUBRIC.items and RUBRIC.items[cid].lab in labs and RUBRIC.items[cid].points > 0
    ]


@check("lab02.quality", any_of=_functional("lab01", "lab02"), diagnoses="lint-findings")
def scalar_quality(ctx: Context) -> None:
    _quality(ctx, "scalar.py")


@check("lab03.quality", any_of=_functional("lab03"), diagnoses="lint-findings")
def nn_quality(ctx: Context) -> None:
    _quality(ctx, "nn.py")


@check("lab04.quality", any_of=_functional("lab04"), diagnoses="lint-findings")
def train_quality(ctx: Context) -> None:
    _quality(ctx, "train.py")


# every check of this module, so that grading can start the tools early when it runs one
IDS = frozenset(cid for cid, c in REGISTRY.items() if c.func.__module__ == __name__)
