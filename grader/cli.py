"""The command line: find submissions, grade each (in parallel with --jobs), report.

    python -m grader [SUBMISSION ...] [--out DIR] [--jobs N] [--lab LAB ...] [--roster CSV]

Grading into an ``--out`` that already holds a class merges: the class record
(``class.json``, see grader/classbook.py) keeps every other submission's entry, and
``grades.csv``, ``summary.md`` and ``index.html`` are rebuilt from it. The class record
holds only the class: the bundled skeleton (what running with no submission grades)
gets its report but never an entry, and with a roster (``--roster``, or the one the
record or collect already holds) entries graded from another folder that are not on it
are left out; without one they are kept, with a warning.

Exit status: 0 when every submission got its reports (whatever it scored); 1 when
the grader itself failed on some submission (see its report); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any, NoReturn

from grader import answer_key, classbook, collect, i18n, keybuild, pipeline, similarity
from grader.classview import write_class_view
from grader.discover import Submission, UsageError, find, own_language
from grader.escape import console
from grader.i18n import _
from grader.integrity import Tampered, settle
from grader.render.classwords import status_text
from grader.render.grades import grades_csv, ungraded
from grader.report import write_all, write_labs
from grader.results import Graded, effective_status
from grader.roster import LANGUAGE_COLUMNS, Roster, RosterError
from grader.rubric import RUBRIC
from grader.sandbox import TRUST_ENV, Unconfined, confinement, without_namespaces
from grader.score import invalid

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
        "--lang",
        choices=i18n.LANGUAGES,
        help="write every report in this language (default: each student's own choice in "
        "their pyproject.toml, else the roster's language column, else the course's, "
        f"[course] language in the rubric: {RUBRIC.language})",
    )
    parser.add_argument(
        "--public",
        action="store_true",
        help="only the checks students see (visibility = visible): fast local feedback",
    )
    parser.add_argument(
        "--roster",
        type=Path,
        help="the class list: a Canvas, Moodle or GitHub Classroom export or a CSV with a "
        "login column (each folder's name); kept with the class record, it names every "
        "student in grades.csv and the gradebook exports",
    )
    collect.add_roster_options(parser, repository=False)
    parser.add_argument(
        "--archive",
        type=Path,
        help="folder of known implementations to compare every engine with "
        "(default: archive/ in the course repository, when it exists)",
    )
    parser.add_argument(
        "--trust-submissions",
        action="store_true",
        help="grade even where this machine cannot confine student code (Landlock, user "
        "namespaces): the submissions then run UNCONFINED, as you -- only for code you trust",
    )
    args = parser.parse_args(argv)
    if args.archive is not None and not args.archive.is_dir():
        parser.error(f"--archive {args.archive} is not a folder")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, not {args.jobs}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    with i18n.language(args.lang or RUBRIC.language):
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    settle()  # nothing written into the grader's folders while grading
    default = ROOT / "skeleton" if (ROOT / "skeleton").is_dir() else Path(".")
    paths = args.submissions or [default]
    try:
        submissions = find(paths)
    except UsageError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    labs = set(args.lab) if args.lab else None
    out_dir: Path = args.out
    try:
        roster = collect.roster_of(args)
    except RosterError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    submissions = _languages(submissions, args.lang, _class_roster(roster, submissions, out_dir)[1])
    # the console speaks the students' language when they all share one (a student's own
    # repository: their choice); the class files stay in the course's (or --lang's)
    chosen = {s.lang for s in submissions}
    speak = chosen.pop() if len(chosen) == 1 else i18n.current()
    if args.trust_submissions:
        os.environ[TRUST_ENV] = "1"  # read by the sandbox, in the pool's processes too
    try:
        unconfined = confinement()
    except Unconfined as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return 2
    with i18n.language(speak):
        if unconfined:
            warning = _("WARNING: submissions run UNCONFINED: {why}").format(why=unconfined)
            print(f"grader: {warning}", file=sys.stderr)
        elif lacking := without_namespaces():
            confining = _("confining with Landlock and seccomp only ({why})").format(why=lacking)
            print(f"grader: {confining}", file=sys.stderr)
    start = time.monotonic()
    key = keybuild.ensure()  # expected values: built once per grader version, then looked up
    results: list[Graded] = []

    def done(g: Graded) -> None:
        results.append(g)
        with i18n.language(speak):
            _progress(g, len(results), len(submissions), time.monotonic() - start, out_dir)

    ahead = _Ahead({s.name: s.path for s in submissions if not s.problem})
    try:
        _grade_all(submissions, out_dir, labs, args, key, done)
    except Tampered as exc:
        print(f"grader: batch aborted: {exc}", file=sys.stderr)
        return 1
    lab_titles = {lab: t for lab, t in RUBRIC.labs.items() if labs is None or lab in labs}
    if labs is not None or args.public:
        known = classbook.load(out_dir)
        partial = sorted(g.name for g in results if g.name in known)
        if partial:
            print(
                f"grader: note: {', '.join(partial)} had a class entry in {out_dir}/; it now "
                "holds only the checks of this run (grade every lab to restore it)",
                file=sys.stderr,
            )
    archive = args.archive or (ROOT / "archive" if (ROOT / "archive").is_dir() else None)
    in_class = [g for g in results if not _bundled_skeleton(g.path)]
    everyone: list[Graded] = []
    if in_class or not results:
        everyone = _merge_class(in_class, submissions, roster, out_dir, archive, ahead.result())
    else:
        write_labs(out_dir)  # the skeleton's report links to the labs all the same
    if unconfined:  # the class page's warning, in its language
        warning = _("WARNING: these submissions ran UNCONFINED ({why})").format(why=unconfined)
        with (out_dir / "summary.md").open("a", encoding="utf-8") as summary:
            summary.write(f"\n**{warning}**\n")
    with i18n.language(speak):
        _table(results, lab_titles)
        if unconfined:
            print(_("WARNING: these submissions ran UNCONFINED ({why})").format(why=unconfined))
        seconds = f"{time.monotonic() - start:.1f}"
        if len(everyone) > len(results):
            line = _(
                "graded {count} submission(s) in {seconds} s; reports in {out}/ "
                "(class of {everyone})"
            )
        else:
            line = _("graded {count} submission(s) in {seconds} s; reports in {out}/")
        print(line.format(count=len(results), seconds=seconds, out=out_dir, everyone=len(everyone)))
        if len(in_class) < len(results):
            skeleton = _(
                "the bundled skeleton's report is in {folder}/; as a sample, not a student, "
                "it is kept out of the class record (grades.csv, index.html)"
            )
            print(skeleton.format(folder=out_dir / "skeleton"))
    return 1 if any(effective_status(g) == "grader_error" for g in results) else 0


def _grade_all(
    submissions: list[Submission],
    out_dir: Path,
    labs: set[str] | None,
    args: argparse.Namespace,
    key: answer_key.Key | None,
    done: Callable[[Graded], None],
) -> None:
    if args.jobs == 1 or len(submissions) == 1:
        for sub in submissions:
            done(pipeline.grade_one(sub, out_dir, labs, args.public))
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
                pool.submit(pipeline.grade_one, sub, out_dir, labs, args.public): sub
                for sub in submissions
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


class _Ahead:
    """The similarity fingerprints of a batch's engines, computed in a thread while the
    batch is graded (the grader's process mostly waits then), so that the class step
    after the last grade only compares. Any failure here leaves the class step to
    compute them itself."""

    def __init__(self, folders: dict[str, Path]) -> None:
        self.prints: dict[str, Any] = {}
        self.thread = threading.Thread(target=self._run, args=(folders,), daemon=True)
        if len(folders) > 1:
            self.thread.start()

    def _run(self, folders: dict[str, Path]) -> None:
        with contextlib.suppress(Exception):
            self.prints = similarity.fingerprint_class(folders)

    def result(self) -> dict[str, Any]:
        if self.thread.ident is not None:  # started
            self.thread.join()
        return self.prints


def _languages(
    submissions: list[Submission], flag: str | None, roster: Roster | None
) -> list[Submission]:
    """Each submission with the language its reports are written in: --lang, else the
    student's own choice (their pyproject.toml), else the roster's column, else the
    course's. A language the grader has no catalog for is named in a warning."""
    chosen = []
    for sub in submissions:
        student = roster.find(sub.name) if roster is not None else None
        listed = (student.get(*LANGUAGE_COLUMNS) or "") if student is not None else ""
        lang, warnings = i18n.choose(
            (flag or "", "--lang"),
            (own_language(sub.path), f"{sub.name}'s pyproject.toml [tool.minigrad] language"),
            (listed, f"the roster's language for {sub.name}"),
            default=RUBRIC.language,
        )
        for warning in warnings:
            print(f"grader: {console(warning)} (using {lang})", file=sys.stderr)
        chosen.append(replace(sub, lang=lang))
    return chosen


def _bundled_skeleton(path: str | Path) -> bool:
    """Whether ``path`` is the course's own skeleton/ (never a student of the class)."""
    try:
        return Path(path).resolve() == classbook.SKELETON.resolve()
    except OSError:
        return False


def _warn(message: str, names: Sequence[str], most: int = 12) -> None:
    shown = ", ".join(console(n) for n in names[:most])
    more = f" and {len(names) - most} more" if len(names) > most else ""
    print(f"grader: {message}: {shown}{more}", file=sys.stderr)


def _class_roster(
    given: Roster | None, submissions: list[Submission], out_dir: Path
) -> tuple[Roster | None, Roster | None]:
    """(the roster to store with the class record, or None to keep the stored one; the
    roster the class is graded with): --roster, else the class record's, else the one
    the submissions were collected with."""
    if given is not None:
        return given, given
    stored = classbook.load_roster(out_dir)
    if stored is not None:
        return None, stored
    for parent in dict.fromkeys(s.path.resolve().parent for s in submissions):
        collected = collect.read_collected_roster(parent)
        if collected is not None:
            return collected, collected
    return None, None


def _merge_class(
    results: list[Graded],
    submissions: list[Submission],
    given: Roster | None,
    out_dir: Path,
    archive: Path | None = None,
    ahead: dict[str, Any] | None = None,
) -> list[Graded]:
    """Merge this run into the class record and rebuild the class files from it."""
    paths = {s.name: s.path for s in submissions}
    known = classbook.load(out_dir)
    store, roster = _class_roster(given, submissions, out_dir)
    entries = {}
    for g in results:
        who = roster.find(g.name) if roster else None
        record = pipeline.collected(Submission(g.name, paths[g.name])) or {}
        # the roster first, then collect's record, then what the class record knew
        sources = [record, known.get(g.name, {})]
        entries[g.name] = classbook.entry(
            g,
            student_id=_first(who.student_id if who else "", "student_id", sources),
            email=_first(who.email if who else "", "email", sources),
            attempted=classbook.attempted_labs(g),
        )
    drop = _left_out(results, known, roster, entries)
    everyone = classbook.merge(out_dir, entries, store, drop)
    if roster is not None:
        strangers = [name for name in everyone if roster.find(name) is None]
        if strangers:
            _warn(
                f"WARNING: graded but not on the roster {roster.source} (the gradebook "
                "files have no row for them)",
                strangers,
            )
        missing = ungraded(everyone, roster)
        if missing:
            _warn(
                f"{len(missing)} student(s) on the roster have no graded submission (their "
                "grade is left blank, with the reason)",
                [s.who for s, _ in missing],
            )
    write_labs(out_dir)
    graded = [classbook.graded_of(e) for e in everyone.values()]
    present = {lab for g in graded for lab in g.labs}
    titles = {lab: t for lab, t in RUBRIC.labs.items() if lab in present}
    grades_csv(everyone, titles, out_dir / "grades.csv", roster)
    folders = {g.name: Path(g.path) for g in graded if Path(g.path).is_dir()}
    try:
        found, texts = similarity.check_class(folders, archive, known=ahead)
        similarity.write_pages(found, texts, out_dir)
    except Exception as exc:  # a bug of ours: the grades stand, the page says so
        detail = traceback.format_exception_only(exc)[-1].strip()
        found = similarity.Report([], [], [], f"the similarity check failed: {detail}")
    write_class_view(
        graded,
        out_dir,
        found,
        attempted={name: classbook.attempted_of(e) for name, e in everyone.items()},
        missing=[(s.who, reason) for s, reason in ungraded(everyone, roster)],
    )
    return graded


def _left_out(
    results: list[Graded],
    known: Mapping[str, Mapping[str, Any]],
    roster: Roster | None,
    entries: Mapping[str, object],
) -> list[str]:
    """The entries of the class record to leave out of it now: the bundled skeleton
    (never a student), and, with a roster, those graded from another folder than this
    run's that are not on it (another batch graded into the same --out earlier)."""
    drop = [n for n, e in known.items() if n not in entries and _bundled_skeleton(e["path"])]
    roots = {Path(g.path).resolve().parent for g in results}
    elsewhere = [
        name
        for name, e in known.items()
        if name not in entries and name not in drop and Path(str(e["path"])).parent not in roots
    ]
    if not results or not elsewhere:
        return drop
    if roster is None:
        _warn(
            "WARNING: the class record also holds submissions graded from another folder; "
            "they stay in the class files (grade into a new --out, or pass --roster to keep "
            "only the roster's students)",
            elsewhere,
        )
        return drop
    strays = [name for name in elsewhere if roster.find(name) is None]
    if strays:
        _warn(
            "left out of the class record: graded from another folder and not on the roster",
            strays,
        )
    return drop + strays


def _first(given: str, key: str, sources: Sequence[Mapping[str, object]]) -> str:
    return given or next((str(s[key]) for s in sources if s.get(key)), "")


def _progress(g: Graded, count: int, total: int, elapsed: float, out_dir: Path) -> str:
    """One plain line per graded submission (to stderr), with an ETA in a batch."""
    line = (
        f"[{count}/{total}] {console(g.name)}: {g.final_score:g} / {g.max_score:g}  "
        f"({status_text(effective_status(g))}, "
        f"{g.seconds:.1f} s)  -> {out_dir / g.name / 'report.md'}"
    )
    if total > 1:
        left = elapsed / count * (total - count)
        eta = _("{elapsed:.0f} s elapsed, about {left:.0f} s left")
        line += "  [" + eta.format(elapsed=elapsed, left=left) + "]"
    print(line, file=sys.stderr, flush=True)
    return line


def _table(results: list[Graded], labs: dict[str, str]) -> None:
    width = max([len(g.name) for g in results] + [10])
    submission, total, status = _("submission"), _("total"), _("status")
    print()
    print(
        f"{submission:<{width}}  {total:>9}  "
        + "  ".join(f"{lab:>5}" for lab in labs)
        + f"  {status}"
    )
    for g in sorted(results, key=lambda g: g.name):
        if g.status == "invalid":  # no score, never a 0: the report says why
            cells = "  ".join(f"{'-':>5}" for _ in labs)
            total = "-"
        else:
            cells = "  ".join(f"{g.lab_score(lab)[0]:>5g}" for lab in labs)
            total = f"{g.final_score:g}/{g.max_score:g}"
        shown = status_text(effective_status(g))
        print(f"{console(g.name):<{width}}  {total:>9}  {cells}  {shown}")
