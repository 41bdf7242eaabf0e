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
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import NoReturn

from grader.classview import write_class_view
from grader.discover import Submission, UsageError, find
from grader.escape import cap_graded, console
from grader.integrity import Tampered, changes, fingerprint
from grader.report import grades_csv, write_all
from grader.rubric import RUBRIC
from grader.sandbox import TRUST_ENV, Unconfined, confinement
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
        "--jobs", type=int, default=1, help="submissions graded at once (default: 1)"
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
    parser.add_argument(
        "--trust-submissions",
        action="store_true",
        help="grade even where this machine cannot confine student code (Landlock, user "
        "namespaces): the submissions then run UNCONFINED, as you -- only for code you trust",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, not {args.jobs}")
    return args


def grade_one(
    submission: Submission, out_dir: Path, labs: set[str] | None, public: bool = False
) -> Graded:
    """Grade and write reports for one submission. Raises only ``Tampered``: the
    grader's own files changed while this submission was graded."""
    before = fingerprint()
    graded = _grade(submission, out_dir, labs, public)
    changed = changes(before, fingerprint())
    if changed:
        raise Tampered(
            f"the grader's files changed while grading {submission.name} (or a submission "
            f"graded at the same time): {', '.join(changed[:5])}"
        )
    return graded


def _grade(
    submission: Submission, out_dir: Path, labs: set[str] | None, public: bool = False
) -> Graded:
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
    graded = cap_graded(graded)  # student text: escaped and capped before any report
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


def warm_bytecode() -> None:
    """Compile the grader's modules now: a module first imported while a submission is
    graded must not write a .pyc that the integrity check would take for tampering."""
    import compileall

    if not sys.dont_write_bytecode:
        compileall.compile_dir(ROOT / "grader", quiet=2, workers=1)


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
    if args.trust_submissions:
        os.environ[TRUST_ENV] = "1"  # read by the sandbox, in the pool's processes too
    try:
        unconfined = confinement()
    except Unconfined as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    if unconfined:
        print(f"grader: WARNING: submissions run UNCONFINED: {unconfined}", file=sys.stderr)
    warm_bytecode()
    labs = set(args.lab) if args.lab else None
    out_dir: Path = args.out
    start = time.monotonic()
    results: list[Graded] = []

    def done(g: Graded) -> None:
        results.append(g)
        print(
            f"[{len(results)}/{len(submissions)}] {console(g.name)}: "
            f"{g.score:g} / {g.max_score:g}  "
            f"({_status(g)})  -> {out_dir / g.name / 'report.md'}",
            flush=True,
        )

    try:
        _grade_all(submissions, out_dir, labs, args, done)
    except Tampered as exc:
        print(f"grader: batch aborted: {exc}", file=sys.stderr)
        return 1
    lab_titles = {lab: t for lab, t in RUBRIC.labs.items() if labs is None or lab in labs}
    grades_csv(results, lab_titles, out_dir / "grades.csv")
    write_class_view(results, out_dir)
    _table(results, lab_titles)
    if unconfined:
        warning = f"WARNING: these submissions ran UNCONFINED ({unconfined})"
        with (out_dir / "summary.md").open("a", encoding="utf-8") as summary:
            summary.write(f"\n**{warning}**\n")
        print(warning)
    print(
        f"graded {len(results)} submission(s) in {time.monotonic() - start:.1f} s; "
        f"reports in {out_dir}/"
    )
    return 1 if any(_status(g) == "grader_error" for g in results) else 0


def _grade_all(
    submissions: list[Submission],
    out_dir: Path,
    labs: set[str] | None,
    args: argparse.Namespace,
    done: Callable[[Graded], None],
) -> None:
    if args.jobs == 1 or len(submissions) == 1:
        for sub in submissions:
            done(grade_one(sub, out_dir, labs, args.public))
    else:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
            futures = {
                pool.submit(grade_one, sub, out_dir, labs, args.public): sub for sub in submissions
            }
            for future in as_completed(futures):
                try:
                    done(future.result())
                except Tampered:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
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
        print(f"{console(g.name):<{width}}  {total:>9}  {cells}  {_status(g)}")
