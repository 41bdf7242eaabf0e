"""Benchmark (not a test): grading time vs bare pytest, and batch throughput.

Prints, from one run on this machine:
  1. time to grade the reference engine once (`python -m grader`) vs a bare
     `pytest reference/tests` run (the reference's own tests), and their ratio;
  2. wall time to grade COPIES copies of the reference with `--jobs JOBS`, and the
     projected time for 100 submissions.
Run: `nox -s bench` (or `python bench/grade_speed.py` inside the grade venv).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIES, JOBS = 20, 2


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        engine = Path(tmp) / "reference"  # the engine alone: reference/tests would count
        shutil.copytree(ROOT / "reference" / "src", engine / "src")  # as its own tests
        grade = min(wall([py, "-m", "grader", str(engine), "--out", str(out)]) for _ in range(3))
        pytest = min(
            wall([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "reference/tests"])
            for _ in range(3)
        )
        print(f"grade reference once : {grade:6.2f} s (best of 3)")
        print(f"bare pytest reference: {pytest:6.2f} s (best of 3)")
        print(f"ratio grade / pytest : {grade / pytest:6.2f}  (goal <= 3)")
        batch = Path(tmp) / "batch"
        for i in range(COPIES):
            shutil.copytree(ROOT / "reference" / "src", batch / f"student{i:02d}" / "src")
        seconds = wall([py, "-m", "grader", str(batch), "--jobs", str(JOBS), "--out", str(out)])
        print(
            f"batch of {COPIES} with --jobs {JOBS}: {seconds:6.2f} s "
            f"({seconds / COPIES:.2f} s each; 100 would take ~{seconds * 100 / COPIES:.0f} s)"
        )


if __name__ == "__main__":
    main()
