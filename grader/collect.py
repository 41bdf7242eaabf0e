"""Collect: turn a class roster of git repositories into ``submissions/<login>/`` at the deadline.

    python -m grader.collect ROSTER.csv --deadline 2026-12-01T23:59+00:00 [--out submissions]

For each roster row (login, repository URL, student id, email) the repository is cloned
(or fetched, when ``<out>/<login>/`` already holds a clone) and the last commit of its
default branch made at or before the deadline is checked out. ``<out>/collect.json``
records, per login, the commit, its time, and the student's id and email; the grader
reads it (the commit is shown in every report, its time decides the late penalty, see
``[late]`` in rubric.toml). The record lives next to the folders, not in them, so
nothing a student commits can forge it.

A student with no repository (the URL is empty or cannot be cloned) or no commit
before the deadline still gets an (empty) folder and a record with the ``problem``:
the grader reports them as not gradable, with that reason, never as a silent zero.

The time of a commit is its committer date, which the student's machine sets: a check
of push times needs the hosting service's records. Repositories are cloned with hooks
off, no submodules, and symbolic links written as plain files.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from grader.rubric import parse_time

RECORD = "collect.json"
GIT_TIMEOUT = 300.0
FIELDS = {
    "login": ("login", "github", "github_username", "username", "user", "name"),
    "repo": ("repo", "repository", "repository_url", "url", "repo_url", "git"),
    "student_id": ("student_id", "id", "sis_id", "student id", "student number"),
    "email": ("email", "e-mail", "mail", "email address"),
}


class RosterError(ValueError):
    """The roster cannot be read (one-line message)."""


@dataclass(frozen=True)
class Student:
    login: str
    repo: str = ""
    student_id: str = ""
    email: str = ""


def read_roster(path: Path) -> list[Student]:
    """Roster rows: a header naming the columns (login, repo, student_id, email, in any
    order and with common synonyms), or no header and the columns in that order."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read the roster {path}: {exc}") from exc
    rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if not rows:
        raise RosterError(f"the roster {path} is empty")
    header = [_key(c) for c in rows[0]]
    columns: dict[str, int] = {}
    for key, names in FIELDS.items():
        for i, cell in enumerate(header):
            if cell in {_key(n) for n in names}:
                columns.setdefault(key, i)
    if "login" in columns:
        body = rows[1:]
    else:
        columns = {key: i for i, key in enumerate(FIELDS)}
        body = rows
    students: list[Student] = []
    seen: set[str] = set()
    for number, row in enumerate(body, start=2 if body is not rows else 1):

        def get(key: str, row: list[str] = row) -> str:
            i = columns.get(key)
            return row[i].strip() if i is not None and i < len(row) else ""

        login = get("login")
        if not login or login in (".", "..") or "/" in login or "\\" in login:
            raise RosterError(
                f"{path}:{number}: a login must be a plain folder name, not {login!r}"
            )
        if login in seen:
            raise RosterError(f"{path}:{number}: login {login!r} appears twice")
        seen.add(login)
        students.append(Student(login, get("repo"), get("student_id"), get("email")))
    return students


def _key(text: str) -> str:
    return "_".join(text.strip().lower().replace("-", " ").replace("_", " ").split())


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",  # a missing repository must not ask for a password
        "GIT_ASKPASS": "true",
        "GIT_LFS_SKIP_SMUDGE": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    safe = ["-c", "core.hooksPath=/dev/null", "-c", "core.symlinks=false"]
    return subprocess.run(
        ["git", *safe, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"git exited with status {done.returncode}"


def _fetch(student: Student, folder: Path) -> str:
    """Clone or update ``folder`` from the student's repository; '' or the problem."""
    if not student.repo:
        return "no repository in the roster"
    if (folder / ".git").is_dir():
        _git("remote", "set-url", "origin", student.repo, cwd=folder)
        done = _git("fetch", "--quiet", "--prune", "origin", cwd=folder)
        if done.returncode == 0:
            _git("remote", "set-head", "origin", "--auto", cwd=folder)
            return ""
        return f"cannot fetch {student.repo}: {_last_line(done)}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = _git("clone", "--quiet", "--no-checkout", student.repo, str(folder))
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess([], 1, "", "timed out")
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        return f"cannot clone {student.repo}: {_last_line(done)}"
    return ""


def _commit_before(folder: Path, deadline: datetime) -> tuple[str, str]:
    """(sha, ISO committer time) of the default branch's last commit at or before the
    deadline, or ('', '') when there is none."""
    stamp = str(int(deadline.timestamp()))
    for ref in ("refs/remotes/origin/HEAD", "HEAD"):
        done = _git(
            "log", "-1", "--first-parent", f"--before={stamp}", "--format=%H %cI", ref, cwd=folder
        )
        if done.returncode == 0 and done.stdout.strip():
            sha, when = done.stdout.split()
            return sha, when
        if done.returncode == 0:
            return "", ""
    return "", ""


def collect_one(student: Student, out_dir: Path, deadline: datetime) -> dict[str, Any]:
    """Fetch one student's repository and check out the deadline commit; its record."""
    folder = out_dir / student.login
    record: dict[str, Any] = {
        "login": student.login,
        "repo": student.repo,
        "student_id": student.student_id,
        "email": student.email,
        "deadline": deadline.isoformat(),
        "commit": "",
        "commit_time": "",
        "problem": "",
    }
    problem = _fetch(student, folder)
    sha, when = ("", "") if problem else _commit_before(folder, deadline)
    if not problem and not sha:
        problem = f"no commit at or before the deadline {deadline.isoformat()}"
    if not problem:
        done = _git("checkout", "--quiet", "--force", "--detach", sha, cwd=folder)
        if done.returncode == 0:
            _git("clean", "-qffdx", cwd=folder)
        else:
            problem = f"cannot check out {sha[:12]}: {_last_line(done)}"
    if problem:
        if folder.exists() and (folder / ".git").is_dir():
            # keep the clone (a later collect fetches into it) but show nothing of it
            for child in folder.iterdir():
                if child.name != ".git":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        record["problem"] = problem
    else:
        record.update(commit=sha, commit_time=when)
    return record


def collect(
    students: list[Student], out_dir: Path, deadline: datetime
) -> dict[str, dict[str, Any]]:
    """Collect every student into ``out_dir`` and write ``out_dir/collect.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records = read_records(out_dir)
    for student in students:
        records[student.login] = collect_one(student, out_dir, deadline)
    (out_dir / RECORD).write_text(
        json.dumps(
            {
                "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "students": dict(sorted(records.items())),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return records


def read_records(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The records of ``out_dir/collect.json`` by login (empty when there is none)."""
    try:
        data = json.loads((out_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    students = data.get("students") if isinstance(data, dict) else None
    if not isinstance(students, dict):
        return {}
    return {str(k): v for k, v in students.items() if isinstance(v, dict)}


def record_for(submission: Path) -> dict[str, Any] | None:
    """What collect recorded for the submission folder (from its parent's collect.json)."""
    folder = submission.resolve()
    return read_records(folder.parent).get(folder.name)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"collect: {message}. Run `python -m grader.collect --help`.\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m grader.collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("roster", type=Path, help="CSV: login, repository URL, student id, email")
    parser.add_argument("--deadline", required=True, help="ISO 8601 time with its UTC offset")
    parser.add_argument(
        "--out", type=Path, default=Path("submissions"), help="default: submissions/"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        deadline = parse_time(args.deadline)
        students = read_roster(args.roster)
    except ValueError as exc:  # RosterError too
        print(f"collect: {exc}", file=sys.stderr)
        return 2
    records = collect(students, args.out, deadline)
    missing = []
    for student in students:
        r = records[student.login]
        if r["problem"]:
            missing.append(r)
            print(f"{student.login}: NOT COLLECTED: {r['problem']}")
        else:
            print(f"{student.login}: {r['commit'][:12]} ({r['commit_time']})")
    print(
        f"collected {len(students) - len(missing)} of {len(students)} into {args.out}/ "
        f"(record: {args.out / RECORD})"
    )
    if missing:
        print(f"{len(missing)} without a submission: " + ", ".join(r["login"] for r in missing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
