"""The command line: find submissions, grade each (in parallel with --jobs), report.

    python -m grader [SUBMISSION ...] [--out DIR] [--jobs N] [--lab LAB ...]

Exit status: 0 when every submission got its reports (whatever it scored); 1 when
the grader itself failed on some submission (see its report); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import NoReturn

from grader import answer_key
from grader.classview import write_class_view
from grader.discover import Submission, UsageError, find
from grader.report import grades_csv, write_all
from grader.rubric import RUBRIC
from grader.score import GRADER_ERROR, Graded, invalid, run_checks

ROOT = Path(__file__).resolve().parent.parent


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"grader: {message}. Run `python -m grader --help` for the options.\n")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="python -m grader", description="Grade minigrad submissions.")
    parser.add_argument(
        "submissions",
        nargs="*",
        type=Path,
        help="folders holding src/minigrad/, or folders of such folders "
        "(default: skeleton/, or . where there is no skeleton/)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("reports"), help="report folder (default: reports/)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="submissions graded at once (default: the number of CPUs)",
    )
    parser.add_argument(
        "--lab",
        action="append",
        choices=sorted(RUBRIC.labs),
        help="grade only this lab (repeatable)",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="only the checks students see (visibility = visible): fast local feedback",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, not {args.jobs}")
    return args


def grade_one(
    submission: Submission, out_dir: Path, labs: set[str] | None, public: bool = False
) -> Graded:
    """Grade and write reports for one submission. Never raises."""
    if submission.problem:
        graded = invalid(submission, submission.problem, labs=labs, public=public)
    else:
        try:
            graded = run_checks(submission, labs=labs, public=public)
        except Exception as exc:  # a bug of ours: say so, never a silent student zero
            detail = traceback.format_exception_only(exc)[-1].strip()
            graded = invalid(
                submission,
                f"the grader crashed: {detail}",
                labs=labs,
                status="grader_error",
                public=public,
            )
    try:
        write_all(graded, out_dir)
    except Exception as exc:  # a report writer bug: keep the batch going, say so plainly
        detail = traceback.format_exception_only(exc)[-1].strip()
        graded = invalid(
            submission,
            f"the grader could not write this report: {detail}",
            labs=labs,
            status="grader_error",
            public=public,
        )
        write_all(graded, out_dir)
    return graded


def _status(g: Graded) -> str:
    if g.status != "graded":
        return g.status
    return "grader_error" if any(o.status == GRADER_ERROR for o in g.outcomes) else "graded"


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    default = ROOT / "skeleton" if (ROOT / "skeleton").is_dir() else Path(".")
    paths = args.submissions or [default]
    try:
        submissions = find(paths)
    except UsageError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    labs = set(args.lab) if args.lab else None
    out_dir: Path = args.out
    start = time.monotonic()
    key = answer_key.ensure()  # expected values: built once per grader version, then looked up
    results: list[Graded] = []

    def done(g: Graded) -> None:
        results.append(g)
        _progress(g, len(results), len(submissions), time.monotonic() - start, out_dir)

    if args.jobs == 1 or len(submissions) == 1:
        for sub in submissions:
            done(grade_one(sub, out_dir, labs, args.public))
    else:
        # Workers fork from a server that imported the grader once (no torch, no
        # hypothesis: the answer key stands in for them), and get the key in memory.
        context = get_context("forkserver")
        context.set_forkserver_preload(["grader.cli"])
        with ProcessPoolExecutor(
            max_workers=min(args.jobs, len(submissions)),
            mp_context=context,
            initializer=answer_key.use,
            initargs=(key,),
        ) as pool:
            futures = {
                pool.submit(grade_one, sub, out_dir, labs, args.public): sub for sub in submissions
            }
            for future in as_completed(futures):
                try:
                    done(future.result())
                except BrokenProcessPool as exc:
                    sub = futures[future]
                    g = invalid(
                        sub,
                        f"the grading process died: {exc}",
                        labs=labs,
                        status="grader_error",
                        public=args.public,
                    )
                    write_all(g, out_dir)
                    done(g)
    lab_titles = {lab: t for lab, t in RUBRIC.labs.items() if labs is None or lab in labs}
    grades_csv(results, lab_titles, out_dir / "grades.csv")
    write_class_view(results, out_dir)
    _table(results, lab_titles)
    print(
        f"graded {len(results)} submission(s) in {time.monotonic() - start:.1f} s; "
        f"reports in {out_dir}/"
    )
    return 1 if any(_status(g) == "grader_error" for g in results) else 0


def _progress(g: Graded, count: int, total: int, elapsed: float, out_dir: Path) -> str:
    """One plain line per graded submission (to stderr), with an ETA in a batch."""
    line = (
        f"[{count}/{total}] {g.name}: {g.score:g} / {g.max_score:g}  ({_status(g)}, "
        f"{g.seconds:.1f} s)  -> {out_dir / g.name / 'report.md'}"
    )
    if total > 1:
        left = elapsed / count * (total - count)
        line += f"  [{elapsed:.0f} s elapsed, about {left:.0f} s left]"
    print(line, file=sys.stderr, flush=True)
    return line


def _table(results: list[Graded], labs: dict[str, str]) -> None:
    width = max([len(g.name) for g in results] + [10])
    print()
    print(
        f"{'submission':<{width}}  {'total':>9}  "
        + "  ".join(f"{lab:>5}" for lab in labs)
        + "  status"
    )
    for g in sorted(results, key=lambda g: g.name):
        cells = "  ".join(f"{g.lab_score(lab)[0]:>5g}" for lab in labs)
        total = f"{g.score:g}/{g.max_score:g}"
        print(f"{g.name:<{width}}  {total:>9}  {cells}  {_status(g)}")
