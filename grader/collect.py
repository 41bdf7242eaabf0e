"""Collect: turn a class roster of git repositories into ``submissions/<login>/`` at the deadline.

    python -m grader.collect ROSTER.csv --deadline "2026-12-01 23:59" [--out submissions]
                             [--login-column H] [--repo-column H] [--repo-template URL]

The roster is a platform's export or a plain CSV (grader/roster.py finds the login and
repository columns by header). For each student the repository is cloned (or fetched,
when ``<out>/<login>/`` already holds a clone) and the last commit of its default
branch made at or before the deadline is checked out. ``<out>/collect.json`` records,
per login, the commit, its time, and the student's id and email, and the roster itself;
the grader reads it (the commit is shown in every report, its time decides the late
penalty, see ``[late]`` in rubric.toml; the roster names the students in the gradebook
files). The record lives next to the folders, not in them, so nothing a student commits
can forge it. A student whose login cell is empty is listed as not collected.

A student with no repository (the URL is empty or cannot be cloned) or no commit
before the deadline still gets an (empty) folder and a record with the ``problem``:
the grader reports them as not gradable, with that reason, never as a silent zero.

The time of a commit is its committer date, which the student's machine sets: a check
of push times needs the hosting service's records. A repository is the student's
input, so git runs on it with hooks off, no submodules, symbolic links written as plain
files, no terminal prompt, and within bounds: GIT_TIMEOUT per git command, GIT_MEMORY_MB
of address space, GIT_FILE_MB per file written and MAX_CHECKOUT_MB for the checked-out
tree. A repository that breaks any of them (a history that takes too long to fetch, a
huge file, a default branch that does not exist) is recorded with the reason and the
other students are collected all the same.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from grader.i18n import N_
from grader.roster import Roster, RosterError, Student, no_login
from grader.roster import read as read_roster
from grader.rubric import RUBRIC, parse_time

RECORD = "collect.json"
GIT_TIMEOUT = 300.0  # seconds for one git command
GIT_MEMORY_MB = 2048  # address space of a git process
GIT_FILE_MB = 256  # the largest file git may write (a pack, a checked-out file)
MAX_CHECKOUT_MB = 200  # the checked-out tree (the history in .git not counted)


def _bounded() -> None:
    """In the git child, before it runs: the memory and file-size limits."""
    import resource

    memory = GIT_MEMORY_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    size = GIT_FILE_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",  # a missing repository must not ask for a password
        "GIT_ASKPASS": "true",
        "GIT_LFS_SKIP_SMUDGE": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    safe = ["-c", "core.hooksPath=/dev/null", "-c", "core.symlinks=false"]
    safe += ["-c", "protocol.ext.allow=never", "-c", "submodule.recurse=false"]
    try:
        return subprocess.run(
            ["git", *safe, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=GIT_TIMEOUT,
            check=False,
            preexec_fn=_bounded,
            start_new_session=True,  # a timeout kills git, not its whole group with us
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, "", f"git took over {GIT_TIMEOUT:g} s")


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"git exited with status {done.returncode}"


# Why a student's repository gave no folder to grade: the record keeps it in English and
# the student's report says it in the student's language (grader.discover.translated).
NO_REPOSITORY = N_("no repository in the roster")
CANNOT_FETCH = N_("cannot fetch {repo}: {error}")
CANNOT_CLONE = N_("cannot clone {repo}: {error}")
NO_COMMIT = N_("no commit at or before the deadline {deadline}")
TOO_BIG = N_("the files of {sha} take more than {megabytes} MB")
CANNOT_CHECK_OUT = N_("cannot check out {sha}: {error}")
COLLECT_FAILED = N_("collect failed on this repository: {error}")
PROBLEMS = (
    NO_REPOSITORY,
    CANNOT_FETCH,
    CANNOT_CLONE,
    NO_COMMIT,
    TOO_BIG,
    CANNOT_CHECK_OUT,
    COLLECT_FAILED,
)


def _fetch(student: Student, folder: Path) -> str:
    """Clone or update ``folder`` from the student's repository; '' or the problem."""
    if not student.repo:
        return NO_REPOSITORY
    if (folder / ".git").is_dir():
        _git("remote", "set-url", "origin", student.repo, cwd=folder)
        done = _git("fetch", "--quiet", "--prune", "origin", cwd=folder)
        if done.returncode == 0:
            _git("remote", "set-head", "origin", "--auto", cwd=folder)
            return ""
        return CANNOT_FETCH.format(repo=student.repo, error=_last_line(done))
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    done = _git("clone", "--quiet", "--no-checkout", student.repo, str(folder))
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        return CANNOT_CLONE.format(repo=student.repo, error=_last_line(done))
    return ""


def _commit_before(folder: Path, deadline: datetime) -> tuple[str, str]:
    """(sha, ISO committer time) of the default branch's last commit at or before the
    deadline, or ('', '') when there is none."""
    stamp = str(int(deadline.timestamp()))
    # The remote's default branch; where it names none (or one that does not exist),
    # the usual names, then whatever the clone's HEAD is.
    refs = ["refs/remotes/origin/HEAD", "refs/remotes/origin/main", "refs/remotes/origin/master"]
    for ref in [*refs, "HEAD"]:
        done = _git(
            "log", "-1", "--first-parent", f"--before={stamp}", "--format=%H %cI", ref, cwd=folder
        )
        if done.returncode == 0 and done.stdout.strip():
            sha, when = done.stdout.split()
            return sha, when
        if done.returncode == 0:
            return "", ""
    return "", ""


def _tree_megabytes(folder: Path) -> float:
    """The size of the checked-out files (not .git), never following a link."""
    total = 0
    for base, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not (base == str(folder) and d == ".git")]
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_size
            except OSError:
                continue
    return total / 1024 / 1024


def _record(student: Student, deadline: datetime, problem: str = "") -> dict[str, Any]:
    """A student's collect record, with no commit yet."""
    return {
        "login": student.login,
        "repo": student.repo,
        "student_id": student.student_id,
        "email": student.email,
        "name": student.name,
        "deadline": deadline.isoformat(),
        "commit": "",
        "commit_time": "",
        "problem": problem,
    }


def collect_one(student: Student, out_dir: Path, deadline: datetime) -> dict[str, Any]:
    """Fetch one student's repository and check out the deadline commit; its record."""
    folder = out_dir / student.login
    record = _record(student, deadline)
    problem = _fetch(student, folder)
    sha, when = ("", "") if problem else _commit_before(folder, deadline)
    if not problem and not sha:
        problem = NO_COMMIT.format(deadline=deadline.isoformat())
    if not problem:
        done = _git("checkout", "--quiet", "--force", "--detach", sha, cwd=folder)
        if done.returncode == 0:
            _git("clean", "-qffdx", cwd=folder)
            if _tree_megabytes(folder) > MAX_CHECKOUT_MB:
                problem = TOO_BIG.format(sha=sha[:12], megabytes=MAX_CHECKOUT_MB)
        else:
            problem = CANNOT_CHECK_OUT.format(sha=sha[:12], error=_last_line(done))
    if problem:
        _empty(folder)
        record["problem"] = problem
    else:
        record.update(commit=sha, commit_time=when)
    return record


def _empty(folder: Path) -> None:
    """Keep the clone (a later collect fetches into it) but show nothing of it."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        folder.unlink()
    if folder.exists() and (folder / ".git").is_dir():
        for child in folder.iterdir():
            if child.name != ".git":
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink()
    elif folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def _collect_safely(student: Student, out_dir: Path, deadline: datetime) -> dict[str, Any]:
    """``collect_one``, whatever happens: a failure is that student's record."""
    try:
        return collect_one(student, out_dir, deadline)
    except Exception as exc:  # one repository never stops the class
        with contextlib.suppress(OSError):
            _empty(out_dir / student.login)
        problem = COLLECT_FAILED.format(error=f"{type(exc).__name__}: {exc}")[:300]
        return _record(student, deadline, problem)


def collect(
    students: list[Student], out_dir: Path, deadline: datetime, roster: Roster | None = None
) -> dict[str, dict[str, Any]]:
    """Collect every student who has a login into ``out_dir`` and write
    ``out_dir/collect.json`` (with ``roster``, which grading then uses by default)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records = read_records(out_dir)
    for student in students:
        if student.login:
            records[student.login] = _collect_safely(student, out_dir, deadline)
    data: dict[str, Any] = {
        "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "students": dict(sorted(records.items())),
    }
    if roster is None:
        roster = read_collected_roster(out_dir)  # a partial collect keeps the class's
    if roster is not None:
        data["roster"] = roster.to_json()
    (out_dir / RECORD).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return records


def _read_record(out_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((out_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_records(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The records of ``out_dir/collect.json`` by login (empty when there is none)."""
    students = _read_record(out_dir).get("students")
    if not isinstance(students, dict):
        return {}
    return {str(k): v for k, v in students.items() if isinstance(v, dict)}


def read_collected_roster(out_dir: Path) -> Roster | None:
    """The roster ``out_dir`` was last collected with, if collect recorded one."""
    return Roster.from_json(_read_record(out_dir).get("roster"))


def record_for(submission: Path) -> dict[str, Any] | None:
    """What collect recorded for the submission folder (from its parent's collect.json)."""
    folder = submission.resolve()
    return read_records(folder.parent).get(folder.name)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"collect: {message}. Run `python -m grader.collect --help`.\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m grader.collect", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "roster",
        type=Path,
        help="CSV with a header row: a login and a repository column at least (Canvas, "
        "Moodle, GitHub Classroom or plain; see grader/roster.py)",
    )
    parser.add_argument(
        "--deadline",
        required=True,
        help="the last commit time accepted: 2026-12-01 (the end of that day), "
        "2026-12-01 23:59, or with an offset (2026-12-01T23:59+01:00); without one, in "
        "the course's time zone ([course] time_zone in grader/rubric.toml)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("submissions"), help="default: submissions/"
    )
    add_roster_options(parser, repository=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        deadline = parse_time(args.deadline, RUBRIC.zone)
    except ValueError as exc:
        print(f"collect: --deadline {exc}", file=sys.stderr)
        return 2
    try:
        roster = roster_of(args, need_repo=True)
    except RosterError as exc:
        print(f"collect: {exc}", file=sys.stderr)
        return 2
    assert roster is not None  # the roster is a required argument
    print(describe(roster))
    records = collect(roster.students, args.out, deadline, roster)
    missing = []
    for student in roster.students:
        r = records.get(student.login) if student.login else None
        if r is None:
            missing.append(student.who)
            print(f"{student.who}: NOT COLLECTED: {no_login(roster)}")
        elif r["problem"]:
            missing.append(student.login)
            print(f"{student.login}: NOT COLLECTED: {r['problem']}")
        else:
            print(f"{student.login}: {r['commit'][:12]} ({r['commit_time']})")
    total = len(roster.students)
    print(
        f"collected {total - len(missing)} of {total} into {args.out}/ "
        f"(record: {args.out / RECORD})"
    )
    if missing:
        print(f"{len(missing)} without a submission: " + ", ".join(missing))
    return 0


def add_roster_options(parser: argparse.ArgumentParser, repository: bool) -> None:
    """The options naming a roster's columns (collect's, and grade's without the
    repository ones)."""
    parser.add_argument(
        "--login-column",
        default="",
        metavar="HEADER",
        help="the roster column holding each student's login (their folder's name); "
        "default: [roster] login_column in the rubric, else found by header",
    )
    if repository:
        parser.add_argument(
            "--repo-column",
            default="",
            metavar="HEADER",
            help="the roster column holding each repository's URL; default: [roster] "
            "repo_column in the rubric, else found by header",
        )
        parser.add_argument(
            "--repo-template",
            default="",
            metavar="URL",
            help="each repository's URL with {login} in it, for a roster without a "
            "repository column, e.g. https://github.com/my-course/minigrad-{login}",
        )


def roster_of(args: argparse.Namespace, need_repo: bool = False) -> Roster | None:
    """The roster named by ``args.roster`` (None when there is none), its columns as
    the options or the rubric's [roster] table name them."""
    if args.roster is None:
        return None
    settings = RUBRIC.roster
    return read_roster(
        args.roster,
        login_column=args.login_column or settings.login_column,
        repo_column=getattr(args, "repo_column", "") or settings.repo_column,
        repo_template=getattr(args, "repo_template", "") or settings.repo_template,
        need_repo=need_repo,
    )


def describe(roster: Roster) -> str:
    """One line saying how the roster was read."""
    platform = {"canvas": "a Canvas", "moodle": "a Moodle", "classroom": "a GitHub Classroom"}
    without = sum(not s.login for s in roster.students)
    return (
        f"{roster.source}: {platform.get(roster.kind, 'a')} roster of "
        f"{len(roster.students)} student(s), logins from column {roster.login_column!r}"
        + (f" ({without} without one)" if without else "")
    )


if __name__ == "__main__":
    raise SystemExit(main())
