"""Benchmark (not a test): how fast grading is, in figures and ratios from one run.

Prints, from one run on this machine (its CPU count and load are printed too: on a
shared machine, compare the ratios, which share the load of the same minute):
  1. bare `pytest reference/tests` (the baseline);
  2. one correct submission end to end (`python -m grader SUB`), best of 3, with the
     answer key and without it (MINIGRAD_ANSWER_KEY=off: every value from PyTorch);
  3. the public checks of lab01 (`python -m grader SUB --public --lab lab01`), and the
     same through `nox -s check` when nox is on PATH (warm environment);
  4. BATCH correct submissions with `--jobs JOBS`: copies of one engine, then engines
     whose texts all differ (a comment each), which the lint memo and the similarity
     check cannot share work between;
  5. each pathological submission of issue 11 (import that hangs, SIGTERM ignored,
     slow import, stack overflow, backward() that never returns, endless loops in
     two ops' _backward), graded with the rubric's default limits, with the line of
     its report that says where it hung.
Run: `nox -s bench` (or `python bench/grade_speed.py [BATCH]` in the grader's venv).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "reference" / "src" / "minigrad"
BATCH, JOBS = 100, 2
AFTER_IMPORTS = 'Operand = Union["Value", int, float]\n'
BACKWARD = "    def backward(self) -> None:\n"
LOOP = "while True:\n    pass"
MUL_BACKWARD = "other.grad += self.data * out.grad"
ADD_BACKWARD = "other.grad += out.grad"

# name -> (old, new) patch of scalar.py
PATHOLOGICAL: dict[str, tuple[str, str]] = {
    "import that hangs": (AFTER_IMPORTS, AFTER_IMPORTS + LOOP + "\n"),
    "SIGTERM ignored": (
        AFTER_IMPORTS,
        AFTER_IMPORTS + "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + LOOP,
    ),
    "slow import (12 s)": (AFTER_IMPORTS, AFTER_IMPORTS + "import time\ntime.sleep(12)\n"),
    "stack overflow at import": (
        AFTER_IMPORTS,
        AFTER_IMPORTS + "import sys\nsys.setrecursionlimit(10**7)\n_d: list[object] = []\n"
        "for _ in range(10**6):\n    _d = [_d]\nrepr(_d)\n",
    ),
    "backward() never returns": (BACKWARD, BACKWARD + "        while True:\n            pass\n"),
}


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def wall(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    global last_cpu
    t0, c0 = time.perf_counter(), _cpu()
    done = subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True, text=True, env=env)
    last_cpu = _cpu() - c0  # the grader, its sandboxed children, ruff and mypy
    if done.returncode != 0:  # a figure from a failed run would flatter: say so
        print(f"  (exit status {done.returncode}: {' '.join(cmd[:4])} ...)", flush=True)
    return time.perf_counter() - t0, done.stdout + done.stderr


last_cpu = 0.0


def cpu_of(cmd: list[str]) -> float:
    wall(cmd)
    return last_cpu


def best(cmd: list[str], env: dict[str, str] | None = None, runs: int = 3) -> float:
    return min(wall(cmd, env)[0] for _ in range(runs))


def engine(dest: Path, patch: tuple[str, str] | None = None, mark: str = "") -> Path:
    """A correct engine in ``dest``, patched (a pathological case) or marked (a comment
    that makes its text unique, so nothing remembered for one copy serves another)."""
    shutil.copytree(PKG, dest / "src" / "minigrad", ignore=shutil.ignore_patterns("__pycache__"))
    path = dest / "src" / "minigrad" / "scalar.py"
    text = path.read_text(encoding="utf-8")
    if patch:
        assert text.count(patch[0]) >= 1, patch[0]
        text = text.replace(patch[0], patch[1], 1)
    path.write_text(text + (f"# {mark}\n" if mark else ""), encoding="utf-8")
    return dest


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def hung_line(out: Path, name: str) -> str:
    """The first line of the report that says where the code hung or crashed."""
    report = (out / name / "report.md").read_text(encoding="utf-8")
    for line in report.splitlines():
        if any(w in line for w in ("did not answer", "crashed", "exited", "died", "killed")):
            return line.strip("-| ")[:160]
    return "(no hang reported)"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else BATCH
    py = sys.executable
    off = {**os.environ, "MINIGRAD_ANSWER_KEY": "off"}
    print(f"machine: {os.cpu_count()} CPUs, shared with other work; {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        sub = engine(Path(tmp) / "correct")
        grade = [py, "-m", "grader", str(sub), "--out", str(out)]
        wall(grade)  # builds the answer key if this grader version has none yet
        pytest = best(
            [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "reference/tests"], runs=1
        )
        one = best(grade)
        one_cpu = min(cpu_of(grade) for _ in range(3))
        no_key = best(grade, env=off)
        lab01 = best([*grade, "--public", "--lab", "lab01"])
        print(f"bare pytest reference/tests        : {pytest:6.2f} s (the baseline)")
        print(
            f"one correct submission, end to end : {one:6.2f} s  = {one / pytest:.2f} x pytest"
            "  (goal <= 1.5 s)"
        )
        print(
            f"  CPU time of that grade           : {one_cpu:6.2f} s (grader + student's process"
            " + ruff + mypy)"
        )
        print(
            f"  same without the answer key      : {no_key:6.2f} s  = {no_key / pytest:.2f} x "
            f"pytest  (the key saves {no_key - one:.2f} s)"
        )
        print(f"public checks of lab01             : {lab01:6.2f} s")
        nox = shutil.which("nox")
        if nox:
            check = best([nox, "-s", "check", "--", str(sub), "--lab", "lab01", "--out", str(out)])
            print(f"nox -s check -- SUB --lab lab01    : {check:6.2f} s (warm; goal <= 2 s)")

        batch = Path(tmp) / "batch"
        for i in range(count):
            engine(batch / f"student{i:03d}")
        # each batch and case reports into a folder of its own: a class record left by an
        # earlier run would be merged into, and its engines compared again
        batch_cmd = [py, "-m", "grader", str(batch), "--jobs", str(JOBS), "--out", str(out / "b")]
        seconds, _ = wall(batch_cmd)
        print(
            f"{count} correct submissions, --jobs {JOBS}: {seconds:6.2f} s "
            f"({seconds / count:.2f} s each; {seconds / (count * pytest):.2f} x pytest per "
            f"submission){'  (goal <= 30 s)' if count == BATCH else ''}"
        )
        unique = Path(tmp) / "unique"
        for i in range(count):
            engine(unique / f"student{i:03d}", mark=f"student {i}")
        own, _ = wall(
            [py, "-m", "grader", str(unique), "--jobs", str(JOBS), "--out", str(out / "u")]
        )
        print(
            f"  the same, each text unique       : {own:6.2f} s = {own / seconds:.2f} x the copies"
            " (each is linted and fingerprinted on its own)"
        )
        bound = count * one_cpu / min(JOBS, os.cpu_count() or 1)
        print(
            f"  CPU-bound floor for that batch   : {bound:6.2f} s ({count} x the CPU of one grade"
            f" / {JOBS} jobs); the batch took {seconds / bound:.2f} x that"
        )
        print(f"after the batch: {load()}")

        print("pathological submissions (default limits):")
        cases = dict(PATHOLOGICAL)
        mul_loop = f"while True:\n                pass\n            {MUL_BACKWARD}"
        for name, patch in cases.items():
            folder = engine(Path(tmp) / "bad" / name.replace(" ", "_"), patch)
            seconds, _ = wall([py, "-m", "grader", str(folder), "--out", str(out / folder.name)])
            print(f"  {name:<26}: {seconds:6.2f} s  {hung_line(out / folder.name, folder.name)}")
        folder = engine(Path(tmp) / "bad" / "loops_in_backward", (MUL_BACKWARD, mul_loop))
        text = (folder / "src" / "minigrad" / "scalar.py").read_text(encoding="utf-8")
        add_loop = f"while True:\n                pass\n            {ADD_BACKWARD}"
        (folder / "src" / "minigrad" / "scalar.py").write_text(
            text.replace(ADD_BACKWARD, add_loop, 1), encoding="utf-8"
        )
        seconds, _ = wall([py, "-m", "grader", str(folder), "--out", str(out / folder.name)])
        print(
            f"  {'loops in two _backward':<26}: {seconds:6.2f} s  "
            f"{hung_line(out / folder.name, folder.name)}"
        )


if __name__ == "__main__":
    main()
