"""Benchmark (not a test): how fast a real class grades, beside bare pytest in the same run.

A real class is not copies of one correct engine: most submissions fail something, so
the failure path is the common one. This grades CLASS submissions whose texts all
differ (a comment each): every planted bug of the catalog (grader/mistakes/) on the
one-node engine, and correct engines in both styles (one node per op, and composed
as the lab suggests) for the rest, with ``--jobs JOBS``. It prints, from one run:
  1. bare ``pytest reference/tests`` (the baseline);
  2. the class's wall time, per submission, and against the baseline;
  3. the slowest submissions (their own ``execution_time``) and how many took over
     SLOW seconds;
  4. where the slowest submissions' time goes: each graded again alone, in this process,
     the seconds of every check (and of the diagnosis), the largest first;
  5. the reference's own test suite as a student's tests (the extra credit): its
     points and its time, within the rubric's default budget; then where that time
     goes (the same runs again in this process: the runners' start, the reference's
     timing run and second run, the planted-bug engines' runs).
Run: `nox -s bench` (or `python bench/class_speed.py [CLASS]` in the grader's venv).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.mistakes import (  # noqa: E402
    BASES,
    ONE_NODE,
    VARIANTS,
    base_files,
    variant_files,
    write_engine,
)

CLASS, JOBS, SLOW = 100, 2, 3.0
PHASES, SHOWN = 5, 6  # submissions whose time is broken down, and checks shown for each


def wall(cmd: list[str]) -> float:
    start = time.monotonic()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def write(dest: Path, files: dict[str, str], mark: str) -> None:
    """The engine as a submission whose scalar.py ends with a comment of its own."""
    write_engine({**files, "scalar.py": files["scalar.py"] + f"\n# {mark}\n"}, dest)


def make_class(folder: Path, size: int) -> None:
    """Every planted bug, then correct engines of both styles, ``size`` in all."""
    styles = list(BASES)
    for i in range(size):
        mark = f"student {i}"
        if i < len(VARIANTS):
            variant = VARIANTS[i]
            write(folder / f"{i:03d}-{variant.id}", variant_files(variant, base=ONE_NODE), mark)
        else:
            style = styles[i % len(styles)]
            write(folder / f"{i:03d}-correct-{style}", base_files(style), mark)


@contextmanager
def timed(
    owner: Any, name: str, spent: list[tuple[float, str]], label: Callable[..., str]
) -> Iterator[None]:
    """Within the block, ``owner.name`` (a module's function, a class's method) times
    each call: (wall seconds, ``label(args, kwargs, result)``) into ``spent``."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        result = original(*args, **kwargs)
        spent.append((time.monotonic() - start, label(args, kwargs, result)))
        return result

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def phases(folder: Path) -> str:
    """Grade ``folder`` in this process, timing each check and the diagnosis: one line."""
    from grader import score
    from grader.discover import find
    from grader.pipeline import grade_one

    spent: list[tuple[float, str]] = []
    with (
        timed(score, "_run_one", spent, lambda a, _kw, out: f"{a[0]} ({out.status})"),
        timed(score, "diagnose_failures", spent, lambda *_: "diagnosis"),
        tempfile.TemporaryDirectory() as out,
    ):
        start = time.monotonic()
        grade_one(find([folder])[0], Path(out), None)
        total = time.monotonic() - start
    spent.sort(reverse=True)
    shown = ", ".join(f"{what} {seconds:.2f}" for seconds, what in spent[:SHOWN])
    rest = total - sum(seconds for seconds, _ in spent[:SHOWN])
    return f"{folder.name} {total:.2f} s: {shown}, the rest {rest:.2f}"


def students_tests(submission: Path) -> str:
    """Run ``submission``'s tests on every planted-bug engine in this process, timing
    each engine's run (wall seconds): one line."""
    from grader import student_tests
    from grader.checks.hidden.student import PLANTED
    from grader.rubric import RUBRIC

    def which(args: tuple[Any, ...], kwargs: dict[str, Any], _out: object) -> str:
        return "<timing>" if kwargs.get("calibrate") else str(args[1])  # args[0]: the runner

    runs: list[tuple[float, str]] = []
    with (
        timed(student_tests._Runner, "run", runs, which),
        timed(student_tests._Runner, "wait_ready", runs, lambda *_: "<start>"),
    ):
        start = time.monotonic()
        verdict = student_tests.grade_tests(submission, RUBRIC.limits, PLANTED)
        total = time.monotonic() - start
    timing = sum(s for s, name in runs if name == "<timing>")
    again = sum(s for s, name in runs if name == "reference")
    variants = sorted(
        (s, name) for s, name in runs if not name.startswith("<") and name != "reference"
    )
    started = max((s for s, name in runs if name == "<start>"), default=0.0)
    spent = sum(s for s, _name in variants)
    longest = f"longest {variants[-1][0]:.2f} s, {variants[-1][1]}" if variants else "none"
    return (
        f"where it goes ({total:.1f} s, {len(verdict.caught)} of {len(PLANTED)} caught): "
        f"runners' start {started:.1f} s (together), the reference's timing run {timing:.1f} s, "
        f"its second run {again:.1f} s, {len(variants)} engines' runs {spent:.1f} s "
        f"(on two runners; mean {spent / max(1, len(variants)):.2f} s, {longest})"
    )


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else CLASS
    py = sys.executable
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} (1 min)")
    with tempfile.TemporaryDirectory() as tmp:
        subs, out = Path(tmp) / "class", Path(tmp) / "out"
        make_class(subs, size)
        # the answer key, once per grader version (not part of any figure below)
        wall([py, "-m", "grader.keybuild"])
        pytest = wall([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "reference/tests"])
        seconds = wall([py, "-m", "grader", str(subs), "--jobs", str(JOBS), "--out", str(out)])
        bugs = min(size, len(VARIANTS))
        print(f"bare pytest reference/tests          : {pytest:6.2f} s (the baseline)")
        print(
            f"{size} distinct submissions ({bugs} planted bugs, {size - bugs} correct in "
            f"{len(BASES)} styles), --jobs {JOBS}: {seconds:6.2f} s = {seconds / pytest:.1f} x "
            f"pytest ({seconds / size:.2f} s each; goal <= 60 s)"
        )
        times = []
        for result in out.glob("*/results.json"):
            data = json.loads(result.read_text(encoding="utf-8"))
            times.append((float(data.get("execution_time") or 0.0), result.parent.name))
        times.sort(reverse=True)
        slow = [t for t in times if t[0] > SLOW]
        print(f"  submissions over {SLOW:g} s: {len(slow)} of {len(times)}; the slowest:")
        for spent, name in times[:8]:
            print(f"    {spent:6.2f} s  {name}")
        print("  where their time goes (graded again alone, seconds per check):")
        for _spent, name in times[:PHASES]:
            print("    " + phases(subs / name))

        own = Path(tmp) / "reference-with-tests"
        shutil.copytree(ROOT / "reference" / "src", own / "src")
        shutil.copytree(ROOT / "reference" / "tests", own / "tests")
        bonus_out = Path(tmp) / "bonus"
        spent = wall([py, "-m", "grader", str(own), "--lab", "bonus", "--out", str(bonus_out)])
        data = json.loads(next(bonus_out.glob("*/results.json")).read_text(encoding="utf-8"))
        extra = sum(float(t.get("score") or 0.0) for t in data.get("tests", []))
        print(
            f"the reference's own tests as a student's (extra credit): {extra:.2f} of 5 in "
            f"{spent:6.2f} s (goal >= 4.5 in <= 15 s)"
        )
        print("  " + students_tests(own))


if __name__ == "__main__":
    main()
