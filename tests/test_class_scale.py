"""The course at class scale: rosters as learning platforms export them, collect at the
deadline, grade into a class record that merges instead of clobbering (and holds only
the class), late penalties from the graded commit, honest class statistics, gradebook
exports that carry the roster's own identifiers.

Repositories are local bare git repositories made here; nothing touches a network.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from grader import classbook, cli, collect, export, late, pipeline
from grader import roster as rosters
from grader.discover import Submission
from grader.roster import RosterError, Student
from grader.rubric import RUBRIC, Late, RubricError, load, parse_time
from grader.score import FAILED, PASSED, Graded, Outcome

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)


def git(*args: str, cwd: Path, when: datetime | None = None) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "student",
        "GIT_AUTHOR_EMAIL": "student@example.com",
        "GIT_COMMITTER_NAME": "student",
        "GIT_COMMITTER_EMAIL": "student@example.com",
    }
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.isoformat()
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def bare_repo(tmp: Path, name: str, commits: list[tuple[datetime, dict[str, str]]]) -> Path:
    """A bare repository whose main branch has these commits (time, files to write)."""
    work = tmp / "work" / name
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work)
    for when, files in commits:
        for rel, text in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(text)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", f"work of {when.isoformat()}", cwd=work, when=when)
    bare = tmp / "remote" / f"{name}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp)
    return bare


def engine(text: str) -> dict[str, str]:
    return {"src/minigrad/scalar.py": text}


def roster(tmp: Path, rows: list[list[str]]) -> Path:
    path = tmp / "roster.csv"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["login", "repository", "student_id", "email"], *rows])
    path.write_text(buffer.getvalue())
    return path


# ---------------------------------------------------------------- collect
def test_collect_checks_out_the_last_commit_before_the_deadline(tmp_path: Path) -> None:
    early, before, after = (DEADLINE - timedelta(days=2), DEADLINE, DEADLINE + timedelta(hours=1))
    alice = bare_repo(
        tmp_path,
        "alice",
        [(early, engine("v1")), (before, engine("v2")), (after, engine("v3 after"))],
    )
    bob = bare_repo(tmp_path, "bob", [(after, engine("too late"))])
    students = rosters.read(
        roster(
            tmp_path,
            [
                ["alice", str(alice), "1001", "alice@uni.example"],
                ["bob", str(bob), "1002", "bob@uni.example"],
                ["carol", str(tmp_path / "remote" / "nothing.git"), "1003", "carol@uni.example"],
                ["dave", "", "1004", "dave@uni.example"],
            ],
        )
    ).students
    out = tmp_path / "submissions"
    records = collect.collect(students, out, DEADLINE)

    a = records["alice"]
    assert (out / "alice" / "src/minigrad/scalar.py").read_text() == "v2"
    assert a["commit"] == git("rev-parse", "main~1", cwd=alice) and not a["problem"]
    assert datetime.fromisoformat(a["commit_time"]) == before
    assert (a["student_id"], a["email"]) == ("1001", "alice@uni.example")
    assert records["bob"]["problem"].startswith("no commit at or before the deadline")
    assert records["carol"]["problem"].startswith("cannot clone")
    assert records["dave"]["problem"] == "no repository in the roster"
    for login in ("bob", "carol", "dave"):  # a folder each, with nothing to grade in it
        assert not (out / login / "src").exists() and not records[login]["commit"]
    saved = json.loads((out / collect.RECORD).read_text())["students"]
    assert saved == records
    assert collect.record_for(out / "alice") == a

    # Collected again later: the existing clone is fetched, the later commit checked out.
    again = collect.collect(students[:1], out, after + timedelta(minutes=1))
    assert (out / "alice" / "src/minigrad/scalar.py").read_text() == "v3 after"
    assert again["alice"]["commit"] == git("rev-parse", "main", cwd=alice)
    assert again["bob"] == records["bob"]  # others' records are kept


def test_collect_survives_any_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clone that hangs (a transport that never answers), a default branch that does
    not exist, a symbolic link, a file over the checkout cap: each is that student's
    recorded problem (or handled), collect.json is written and the others collected."""
    ok = bare_repo(tmp_path, "ok", [(DEADLINE, engine("fine"))])
    odd = bare_repo(tmp_path, "odd", [(DEADLINE, engine("odd branch"))])
    git("symbolic-ref", "HEAD", "refs/heads/does-not-exist", cwd=odd)  # a dangling HEAD
    linked = bare_repo(tmp_path, "linked", [(DEADLINE, engine("linked"))])
    work = tmp_path / "work" / "linked"
    (work / "src" / "minigrad" / "secret.py").symlink_to("/etc/passwd")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "a link", cwd=work, when=DEADLINE)
    git("push", "-q", str(linked), "main", cwd=work)
    big = bare_repo(tmp_path, "big", [(DEADLINE, {**engine("big"), "data.txt": "x" * 3_000_000})])
    hang = tmp_path / "hang.sh"  # the ssh that the repository's URL asks for never answers
    hang.write_text("#!/bin/sh\nsleep 600\n")
    hang.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(hang))
    monkeypatch.setattr(collect, "GIT_TIMEOUT", 3.0)
    monkeypatch.setattr(collect, "MAX_CHECKOUT_MB", 2)
    rows = [
        ["hangs", "ssh://git.invalid/hangs.git", "1", "h@uni.example"],
        ["odd", str(odd), "2", "o@uni.example"],
        ["linked", str(linked), "3", "l@uni.example"],
        ["big", str(big), "4", "b@uni.example"],
        ["ok", str(ok), "5", "k@uni.example"],
    ]
    out = tmp_path / "submissions"
    records = collect.collect(rosters.read(roster(tmp_path, rows)).students, out, DEADLINE)
    assert "took over 3 s" in records["hangs"]["problem"]
    assert (out / "ok" / "src/minigrad/scalar.py").read_text() == "fine"
    assert records["odd"]["commit"] and (out / "odd" / "src/minigrad/scalar.py").exists()
    secret = out / "linked" / "src" / "minigrad" / "secret.py"
    assert not secret.is_symlink() and secret.read_text() == "/etc/passwd"  # a plain file
    assert "more than 2 MB" in records["big"]["problem"]
    assert not (out / "big" / "data.txt").exists()
    saved = json.loads((out / collect.RECORD).read_text())["students"]
    assert set(saved) == {"hangs", "odd", "linked", "big", "ok"}


def test_collect_command_reports_who_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = bare_repo(tmp_path, "alice", [(DEADLINE, engine("v1"))])
    path = roster(tmp_path, [["alice", str(alice), "1", "a@x"], ["bob", "", "2", "b@x"]])
    out = tmp_path / "subs"
    assert collect.main([str(path), "--deadline", "2026-12-01T23:59Z", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "bob: NOT COLLECTED: no repository in the roster" in said
    assert "collected 1 of 2" in said and "1 without a submission: bob" in said
    capsys.readouterr()
    for deadline in ("1/12/2026", "2026-12-01+00:00+00:00", "tomorrow"):
        assert collect.main([str(path), "--deadline", deadline, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "is not a date and time: write it like 2026-12-01 23:59" in err
        # the example it gives is itself accepted
        assert parse_time("2026-12-01 23:59") == datetime(2026, 12, 1, 23, 59, tzinfo=UTC)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


CANVAS_HEADER = [
    "Student",
    "ID",
    "SIS User ID",
    "SIS Login ID",
    "Section",
    "GitHub Username",
    "Repository",
]


def test_rosters_as_each_platform_exports_them(tmp_path: Path) -> None:
    canvas = rosters.read(
        write_csv(
            tmp_path / "canvas.csv",
            [
                CANVAS_HEADER,
                ["    Points Possible", "", "", "", "", "", ""],  # a gradebook export's
                ["Anderson, Alice", "4101", "1001", "aanderson", "CS101 A", "alice", "u/a"],
                ["Diaz, Dave", "4104", "1004", "ddiaz", "CS101 B", "", ""],
            ],
        ),
        need_repo=True,
    )
    assert canvas.kind == "canvas" and canvas.login_column == "GitHub Username"
    alice, dave = canvas.students  # the "Points Possible" row is not a student
    assert (alice.login, alice.repo, alice.student_id, alice.name) == (
        "alice",
        "u/a",
        "1001",  # SIS User ID, not Canvas's own ID
        "Anderson, Alice",  # a full name is never taken for a login
    )
    assert alice.get("ID") == "4101" and alice.get("sis login id") == "aanderson"
    assert dave.login == "" and rosters.no_login(canvas) == (
        "no login in the roster (column 'GitHub Username' is empty)"
    )

    moodle = rosters.read(
        write_csv(
            tmp_path / "moodle.csv",
            [
                ["First name", "Surname", "ID number", "Email address", "Username", "GitHub"],
                ["Zoe", "Ng", "A-77", "z@uni", "zng", "zoe-gh"],
            ],
        )
    )
    (zoe,) = moodle.students
    assert moodle.kind == "moodle" and moodle.login_column == "GitHub"  # before Username
    assert (zoe.login, zoe.student_id, zoe.email, zoe.name) == ("zoe-gh", "A-77", "z@uni", "Zoe Ng")

    classroom = rosters.read(
        write_csv(
            tmp_path / "classroom.csv",
            [
                ["identifier", "github_username", "github_id", "name"],
                ["s123@uni", "yan", "99", "Yan Li"],
                ["s124@uni", "", "", "Xia Wu"],  # has not linked a GitHub account yet
            ],
        ),
        repo_template="https://github.com/course/minigrad-{login}",
        need_repo=True,
    )
    assert classroom.kind == "classroom"
    assert [(s.login, s.repo, s.student_id) for s in classroom.students] == [
        ("yan", "https://github.com/course/minigrad-yan", "s123@uni"),
        ("", "", "s124@uni"),
    ]

    plain = rosters.read(
        write_csv(
            tmp_path / "plain.csv",
            [
                ["E-mail", "Repository URL", "Student ID", "Login"],
                ["w@x", "git@h:w.git", "5", "wu"],
            ],
        ),
        need_repo=True,
    )
    assert plain.students == [
        Student(
            "wu",
            "git@h:w.git",
            "5",
            "w@x",
            fields={
                "E-mail": "w@x",
                "Repository URL": "git@h:w.git",
                "Student ID": "5",
                "Login": "wu",
            },
        )
    ]
    # columns named explicitly (as --login-column / --repo-column or [roster] would)
    odd = write_csv(tmp_path / "odd.csv", [["Handle", "Where"], ["vic", "https://h/vic.git"]])
    (vic,) = rosters.read(odd, login_column="handle", repo_column="Where", need_repo=True).students
    assert (vic.login, vic.repo) == ("vic", "https://h/vic.git")
    with pytest.raises(RosterError, match=r"--login-column .*, 'nick', is not one of its columns"):
        rosters.read(odd, login_column="nick")


@pytest.mark.parametrize(
    ("rows", "need_repo", "says"),
    [
        # no login column: the header row never becomes a student
        ([["Student", "Repository"], ["Anderson, Alice", "u"]], False, "has no login column"),
        # no repository column, to collect
        ([CANVAS_HEADER[:6], ["A", "1", "2", "3", "4", "alice"]], True, "no repository column"),
        # a roster without a header row
        ([["yan", "https://host/yan.git", "78", "y@x"]], True, "has no login column"),
        ([["login", "repo"], ["../etc", "u"]], False, "plain folder name"),
        ([["login", "repo"], ["a", "u"], ["A", "v"]], False, "appears twice"),
        ([], False, "empty"),
    ],
)
def test_a_roster_missing_what_is_needed_is_refused_in_one_line(
    tmp_path: Path, rows: list[list[str]], need_repo: bool, says: str
) -> None:
    path = write_csv(tmp_path / "roster.csv", rows)
    with pytest.raises(RosterError, match=says) as caught:
        rosters.read(path, need_repo=need_repo)
    message = str(caught.value)
    assert "\n" not in message
    if "column" in says:  # it names the columns it found and the ones it needs
        assert repr(rows[0][0]) in message and "login column" in message
        assert "repository column" in message


def test_collect_refuses_a_roster_without_repositories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path / "roster.csv", [CANVAS_HEADER[:6], ["A", "1", "2", "3", "4", "alice"]]
    )
    out = tmp_path / "subs"
    assert collect.main([str(path), "--deadline", "2026-12-01", "--out", str(out)]) == 2
    said = capsys.readouterr()
    assert said.out == "" and said.err.count("\n") == 1
    assert said.err.startswith(f"collect: {path} has no repository column: its columns are ")
    assert not out.exists()
    # named with a template, the same roster is collected (alice has no repository there)
    args = [str(path), "--deadline", "2026-12-01", "--out", str(out)]
    template = str(tmp_path / "remote" / "{login}.git")
    assert collect.main([*args, "--repo-template", template]) == 0
    assert "alice: NOT COLLECTED: cannot clone" in capsys.readouterr().out


# ---------------------------------------------------------------- late penalties
def test_late_table_is_read_and_checked(tmp_path: Path) -> None:
    assert RUBRIC.late.deadline is None  # the course ships without a deadline
    assert RUBRIC.zone == UTC
    text = (ROOT / "grader" / "rubric.toml").read_text()
    path = tmp_path / "rubric.toml"
    path.write_text(text.replace('deadline = ""', 'deadline = "2026-12-01T23:59:00+01:00"'))
    rules = load(path).late
    assert rules.deadline == datetime(2026, 12, 1, 22, 59, tzinfo=UTC)
    assert (rules.penalty_per_day, rules.cap) == (10, 50)
    # A date alone is the end of that day, in the course's time zone.
    madrid = text.replace('time_zone = "UTC"', 'time_zone = "Europe/Madrid"')
    for deadline, when in (
        ("2026-12-01", datetime(2026, 12, 1, 22, 59, 59, tzinfo=UTC)),
        ("2026-12-01 23:59", datetime(2026, 12, 1, 22, 59, tzinfo=UTC)),
        ("2026-12-01 23:59+00:00", datetime(2026, 12, 1, 23, 59, tzinfo=UTC)),
        ("2026-07-01T12:00Z", datetime(2026, 7, 1, 12, tzinfo=UTC)),
    ):
        path.write_text(madrid.replace('deadline = ""', f'deadline = "{deadline}"'))
        assert load(path).late.deadline == when, deadline
    for key, bad, says in (
        ("deadline", '"12/01/2026"', r"\[late\]: '12/01/2026' is not a date and time: write it"),
        ("deadline", '"2026-02-30"', "is not a date and time"),
        ("time_zone", '"Mars/Olympus"', r"\[course\] time_zone 'Mars/Olympus' is not a time"),
        ("penalty_per_day", '"ten"', r"\[late\]"),
        ("cap", "50\nlate_days = 3", r"\[late\] has unknown keys \['late_days'\]"),
        ("request_seconds", '"ten"', r"\[limits\]: every limit is a number"),
        ("repo_template", '"https://h/course"', r"\[roster\] repo_template must hold \{login\}"),
    ):
        line = next(x for x in text.splitlines() if x.startswith(f"{key} = "))
        path.write_text(text.replace(line, f"{key} = {bad}", 1))
        with pytest.raises(RubricError, match=says) as caught:
            load(path)
        assert "\n" not in str(caught.value)


def test_a_malformed_course_rubric_stops_every_command_in_one_line(tmp_path: Path) -> None:
    """The rubric is read when the grader starts: a mistake in it is one line and exit
    status 2 (the instructor's to fix), for grading and collecting alike."""
    shutil.copytree(ROOT / "grader", tmp_path / "grader", ignore=shutil.ignore_patterns("*.pyc"))
    rubric = tmp_path / "grader" / "rubric.toml"
    text = rubric.read_text()
    for broken in (
        text.replace('deadline = ""', 'deadline = "next friday"'),
        text.replace("[late]", "[late"),
    ):
        rubric.write_text(broken)
        for command in (["grader", "--help"], ["grader.collect", "--help"]):
            done = subprocess.run(
                [sys.executable, "-m", *command],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(tmp_path)},
            )
            assert done.returncode == 2, (command, done.stderr)
            assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
            assert done.stderr.startswith("grader: ") and str(rubric) in done.stderr


def test_penalty_per_started_day_capped() -> None:
    rules = Late(DEADLINE, penalty_per_day=10, cap=25)

    def percent(delta: timedelta) -> float:
        record = late.penalty(rules, DEADLINE + delta, 80)
        assert record is not None
        return float(record["percent"])

    assert percent(timedelta(0)) == 0 and percent(-timedelta(days=3)) == 0
    assert percent(timedelta(seconds=1)) == 10 and percent(timedelta(hours=24)) == 10
    assert percent(timedelta(hours=25)) == 20 and percent(timedelta(days=9)) == 25
    record = late.penalty(rules, DEADLINE + timedelta(hours=30), 80)
    assert record is not None and (record["days"], record["points"]) == (2, 16.0)
    assert late.penalty(Late(), DEADLINE, 80) is None


# ---------------------------------------------------------------- grading a class
def fake_run_checks(submission: Submission, **_: Any) -> Graded:
    """A fast stand-in for grading: the score is the number written in scalar.py."""
    points = float((submission.path / "src/minigrad/scalar.py").read_text().split()[0])
    outcomes = [
        Outcome(
            "ops.add",
            "lab01",
            "a + b",
            PASSED if points >= 2 else FAILED,
            min(points, 2),
            2,
            "visible",
        ),
        Outcome(
            "ops.mul",
            "lab01",
            "a * b",
            PASSED if points >= 10 else FAILED,
            max(points - 2, 0),
            8,
            "visible",
        ),
    ]
    return Graded(
        submission.name, str(submission.path), "graded", "", outcomes, {"lab01": "Lab 1"}, 0.1
    )


def write_class(folder: Path, scores: dict[str, str]) -> None:
    for name, text in scores.items():
        (folder / name / "src" / "minigrad").mkdir(parents=True, exist_ok=True)
        (folder / name / "src" / "minigrad" / "scalar.py").write_text(text)


def lines_naming(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if name in line]


def test_grading_one_student_again_leaves_every_other_row_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pipeline, "run_checks", fake_run_checks)
    subs, out = tmp_path / "submissions", tmp_path / "reports"
    write_class(subs, {"alice": "10", "bob": "4", "carol": "7"})
    (subs / "erin").mkdir()  # not gradable: no src/minigrad/
    path = roster(tmp_path, [["alice", "", "1001", "alice@uni"], ["bob", "", "1002", "bob@uni"]])
    assert cli.main([str(subs), "--out", str(out), "--roster", str(path), "--jobs", "1"]) == 0
    files = ("grades.csv", "summary.md", "index.html", "class.json")
    before = {f: (out / f).read_text() for f in files}
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(before["grades.csv"]))}
    assert list(rows) == ["alice", "bob", "carol", "erin"]
    assert (rows["alice"]["student_id"], rows["alice"]["email"], rows["alice"]["total"]) == (
        "1001",
        "alice@uni",
        "10",
    )
    assert rows["erin"]["total"] == "" and rows["erin"]["note"].startswith("not graded: erin/")
    assert "max" not in rows["alice"] and "status" not in rows["alice"]

    # bob fixes his code; only his folder is graded again, into the class's --out.
    write_class(subs, {"bob": "9"})
    assert cli.main([str(subs / "bob"), "--out", str(out)]) == 0
    after = {f: (out / f).read_text() for f in files}
    for name in ("alice", "carol", "erin"):
        for f in ("grades.csv", "summary.md", "index.html"):
            assert lines_naming(after[f], f"{name}/") or f == "grades.csv"
            assert lines_naming(after[f], name) == lines_naming(before[f], name), (f, name)
        assert (out / name / "report.md").is_file()
    old = json.loads(before["class.json"])["students"]
    new = json.loads(after["class.json"])["students"]
    assert {k: v for k, v in new.items() if k != "bob"} == {
        k: v for k, v in old.items() if k != "bob"
    }
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(after["grades.csv"]))}
    assert rows["bob"]["total"] == "9" and rows["bob"]["student_id"] == "1002"  # kept
    assert lines_naming(after["summary.md"], "bob/") != lines_naming(before["summary.md"], "bob/")
    assert "4 submission(s)" in after["summary.md"]
    said = capsys.readouterr()
    assert re.search(r"^erin +- +(- +)+invalid$", said.out, re.M)  # no score, not a 0
    assert cli.main([str(subs / "bob"), "--out", str(out), "--lab", "lab01"]) == 0
    assert "bob had a class entry" in capsys.readouterr().err


def test_the_readme_first_command_leaves_no_skeleton_row_in_the_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`nox -s grade` (the bundled skeleton) then a class graded into the same default
    reports/: the skeleton has its report but no row anywhere."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--jobs", "1"]) == 0  # what `nox -s grade` runs: the skeleton, for real
    assert (tmp_path / "reports" / "skeleton" / "report.md").is_file()
    assert (tmp_path / "reports" / "_labs" / "lab01-ops.md").is_file()  # its links work
    assert "kept out of the class record" in capsys.readouterr().out
    assert not (tmp_path / "reports" / classbook.RECORD).exists()
    monkeypatch.setattr(pipeline, "run_checks", fake_run_checks)
    write_class(tmp_path / "submissions", {"alice": "10", "bob": "4"})
    assert cli.main(["submissions", "--jobs", "1"]) == 0
    assert export.main(["--format", "canvas"]) == 0
    reports = tmp_path / "reports"
    for name in ("grades.csv", "class.json", "canvas-grades.csv"):
        text = (reports / name).read_text()
        assert "alice" in text and "skeleton" not in text, name
    for name in ("summary.md", "index.html"):
        text = (reports / name).read_text()
        assert "alice/report" in text and "skeleton/" not in text, name
        assert "2 submission(s): 2 graded" in text
    # A class record written before the skeleton was kept out loses its skeleton entry.
    stale = Graded("skeleton", str(ROOT / "skeleton"), "graded", "", [], {"lab01": "Lab 1"}, 0.1)
    classbook.merge(reports, {"skeleton": classbook.entry(stale)})
    assert cli.main(["submissions/bob", "--jobs", "1"]) == 0
    assert set(classbook.load(reports)) == {"alice", "bob"}
    assert "skeleton" not in (reports / "grades.csv").read_text()


def test_a_class_record_of_another_batch_merges_only_by_roster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pipeline, "run_checks", fake_run_checks)
    old, new, out = tmp_path / "last-year", tmp_path / "submissions", tmp_path / "reports"
    write_class(old, {"zed": "3", "alice": "2"})
    write_class(new, {"alice": "10", "bob": "4"})
    assert cli.main([str(old), "--out", str(out), "--jobs", "1"]) == 0
    capsys.readouterr()
    # Without a roster the other batch's entries stay, and the grader says so.
    assert cli.main([str(new), "--out", str(out), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "the class record also holds submissions graded from another folder" in err
    assert err.rstrip().endswith(": zed")
    assert set(classbook.load(out)) == {"alice", "bob", "zed"}
    # With a roster only its students stay.
    path = roster(tmp_path, [["alice", "", "1", "a@x"], ["bob", "", "2", "b@x"]])
    assert cli.main([str(new), "--out", str(out), "--jobs", "1", "--roster", str(path)]) == 0
    err = capsys.readouterr().err
    assert (
        "left out of the class record: graded from another folder and not on the roster: zed" in err
    )
    assert set(classbook.load(out)) == {"alice", "bob"}
    assert "zed" not in (out / "grades.csv").read_text()
    # A regrade of one student from the class's folder warns of nothing.
    assert cli.main([str(new / "bob"), "--out", str(out)]) == 0
    assert "WARNING" not in capsys.readouterr().err


def test_the_class_page_counts_only_graded_submissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pipeline, "run_checks", fake_run_checks)
    subs, out = tmp_path / "submissions", tmp_path / "reports"
    write_class(subs, {"alice": "10", "bob": "4"})
    for name in ("carol", "dave", "erin"):  # nothing to grade in these
        (subs / name).mkdir(parents=True)
    names = ["alice", "bob", "carol", "dave", "erin", "fay"]  # fay handed in nothing
    path = roster(tmp_path, [[n, "", str(i), f"{n}@uni"] for i, n in enumerate(names)])
    assert cli.main([str(subs), "--out", str(out), "--jobs", "1", "--roster", str(path)]) == 0
    summary = (out / "summary.md").read_text()
    index = (out / "index.html").read_text()
    line = (
        "5 submission(s): 2 graded, 3 not graded (3 not gradable); 1 student(s) on the roster "
        "without a submission. Mean 7, median 7 of 10, over the 2 graded submission(s); those "
        "not graded are left out, never counted as 0."
    )
    assert line in summary and html.escape(line, quote=True) in index
    assert "| 2 | 7 | 7 | 4 | 10 | 10 | 3 |" in summary  # graded, mean, ..., not graded
    assert "count the 2 graded submission(s)" in summary and "count the 2 graded" in index
    bars = re.findall(r"^\| \d+\S*\d+ \| (\d+) \|$", summary, re.M)
    assert len(bars) == 10 and sum(map(int, bars)) == 2  # the distribution: graded only
    # pass rates over the graded submissions (the three with nothing are not failures)
    # (a check is named by the rubric's title, in the class page's language)
    assert "| `ops.mul` | lab01 | a * b: value and gradient | 50% | 2 | 1 | 0 |" in summary
    assert "| `ops.add` | lab01 | a + b: value and gradient | 100% | 2 | 0 | 0 |" in summary
    assert "| fay | - |  | not graded: no submission folder 'fay' was graded | no submission |" in (
        summary
    )
    rows = {r["name"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert rows["fay"]["total"] == "" and rows["fay"]["student_id"] == "5"
    assert "1 student(s) on the roster have no graded submission" in capsys.readouterr().err


def test_collected_commit_decides_the_late_penalty_in_every_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "run_checks", fake_run_checks)
    monkeypatch.setattr(
        pipeline, "RUBRIC", dataclasses.replace(RUBRIC, late=Late(DEADLINE, 10, 50))
    )
    ontime = bare_repo(tmp_path, "ontime", [(DEADLINE - timedelta(hours=1), engine("10"))])
    tardy = bare_repo(tmp_path, "tardy", [(DEADLINE + timedelta(hours=30), engine("10"))])
    subs, out = tmp_path / "submissions", tmp_path / "reports"
    students = [Student("ontime", str(ontime)), Student("tardy", str(tardy))]
    collect.collect(students, subs, DEADLINE + timedelta(days=5))
    assert cli.main([str(subs), "--out", str(out), "--jobs", "1"]) == 0
    sha = git("rev-parse", "main", cwd=tardy)
    report = (out / "tardy" / "report.md").read_text()
    assert "**Score 8 / 10 (10 less 20% for 2 day(s) late)**" in report
    assert f"Graded commit {sha[:12]} of 2026-12-03T05:59:00+00:00: 2 day(s) after" in report
    html = (out / "tardy" / "report.html").read_text()
    assert "Score 8 / 10 (10 less 20% for 2 day(s) late)" in html and sha[:12] in html
    results = json.loads((out / "tardy" / "results.json").read_text())
    assert results["score"] == 8 and results["extra_data"]["commit"]["sha"] == sha
    assert results["extra_data"]["late"]["days"] == 2
    assert "late penalty 20%" in results["output"]
    on_time = (out / "ontime" / "report.md").read_text()
    assert "**Score 10 / 10**" in on_time and ": on time (deadline 2026-12-01T23:59" in on_time
    rows = {r["name"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert (rows["tardy"]["total"], rows["tardy"]["late_penalty"]) == ("8", "-2")
    assert rows["tardy"]["commit"] == sha
    assert "2 d late, -20%" in (out / "index.html").read_text()
    assert "| 2 d late, -20% |" in (out / "summary.md").read_text()


# ---------------------------------------------------------------- export
def class_record() -> dict[str, dict[str, Any]]:
    graded = Graded(
        "alice",
        "/s/alice",
        "graded",
        "",
        [Outcome("ops.add", "lab01", "a + b", PASSED, 2, 2, "visible")],
        {"lab01": "Lab 1"},
        0.1,
        commit={"sha": "a" * 40, "time": "2026-12-01T10:00:00+00:00", "source": ""},
    )
    broken = dataclasses.replace(graded, name="bob", status="invalid", problem="no src/minigrad/")
    zero = dataclasses.replace(
        graded,
        name="carol",
        outcomes=[Outcome("ops.add", "lab01", "a + b", FAILED, 0, 2, "visible")],
    )
    return {
        "alice": classbook.entry(graded, "1001", "alice@uni"),
        "bob": classbook.entry(broken, "1002", "bob@uni"),
        "carol": classbook.entry(zero, "1003", "carol@uni"),
    }


def test_exports_leave_ungraded_blank_with_a_reason() -> None:
    record = class_record()
    canvas = list(csv.reader(io.StringIO(export.render("canvas", record, "Lab grade"))))
    assert canvas == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab grade"],
        ["alice", "", "1001", "alice@uni", "", "2"],
        ["bob", "", "1002", "bob@uni", "", ""],
        ["carol", "", "1003", "carol@uni", "", "0"],  # a real zero stays a zero
    ]
    moodle = list(csv.DictReader(io.StringIO(export.render("moodle", record, "Lab grade"))))
    assert [(r["Email address"], r["ID number"], r["Lab grade"]) for r in moodle] == [
        ("alice@uni", "1001", "2"),
        ("bob@uni", "1002", ""),
        ("carol@uni", "1003", "0"),
    ]
    assert moodle[1]["Feedback"] == "not graded: no src/minigrad/"
    plain = list(csv.DictReader(io.StringIO(export.render("csv", record, "x"))))
    assert plain[0]["commit"] == "a" * 40 and plain[1]["reason"].startswith("not graded")


def test_exports_never_hand_a_spreadsheet_a_formula() -> None:
    record = class_record()
    record["=HYPERLINK(x)"] = dict(record.pop("alice"), email="+1@uni", student_id="-7")
    for fmt in export.FORMATS:
        text = export.render(fmt, record, "Lab grade")
        cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
        assert "'=HYPERLINK(x)" in cells and "'+1@uni" in cells and "'-7" in cells, fmt
        assert not any(c[:1] in ("=", "+", "-", "@") for c in cells), fmt


def test_exports_carry_a_moodle_roster_and_leave_out_who_is_not_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path / "moodle.csv",
        [
            ["First name", "Surname", "ID number", "Email address", "Username", "GitHub"],
            ["Alice", "Anderson", "A-1", "alice@uni", "aanderson", "alice"],
            ["Bob", "Brown", "A-2", "bob@uni", "bbrown", "bob"],
            ["Yan", "Li", "A-9", "yan@uni", "yli", "yan"],  # no submission graded
        ],
    )
    record = class_record()  # alice, bob (not gradable), carol (not on the roster)
    classbook.merge(tmp_path, record, rosters.read(path))
    assert export.main(["--format", "moodle", "--reports", str(tmp_path)]) == 0
    said = capsys.readouterr()
    assert "graded but not on the roster" in said.err and said.err.rstrip().endswith("carol")
    moodle = list(csv.reader((tmp_path / "moodle-grades.csv").open(encoding="utf-8")))
    assert moodle == [
        ["First name", "Surname", "Email address", "ID number", "Username", "minigrad", "Feedback"],
        ["Alice", "Anderson", "alice@uni", "A-1", "aanderson", "2", ""],
        ["Bob", "Brown", "bob@uni", "A-2", "bbrown", "", "not graded: no src/minigrad/"],
        [
            "Yan",
            "Li",
            "yan@uni",
            "A-9",
            "yli",
            "",
            "not graded: no submission folder 'yan' was graded",
        ],
    ]
    assert "yan: left blank: not graded: no submission folder 'yan' was graded" in said.out
    # Canvas from a Moodle roster: its name and ids stand in, Canvas's own ID stays empty
    assert export.main(["--format", "canvas", "--reports", str(tmp_path)]) == 0
    canvas = list(csv.reader((tmp_path / "canvas-grades.csv").open(encoding="utf-8")))
    assert canvas[1:] == [
        ["Alice Anderson", "", "A-1", "alice@uni", "", "2"],
        ["Bob Brown", "", "A-2", "bob@uni", "", ""],
        ["Yan Li", "", "A-9", "yan@uni", "", ""],
    ]
    # the plain file keeps everyone, carol included
    assert export.main(["--format", "csv", "--reports", str(tmp_path)]) == 0
    plain = list(csv.DictReader((tmp_path / "csv-grades.csv").open(encoding="utf-8")))
    assert [r["login"] for r in plain] == ["alice", "bob", "carol", "yan"]


def test_export_command_writes_the_file_and_the_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export.main(["--format", "canvas", "--reports", str(tmp_path)]) == 2
    assert "no class record" in capsys.readouterr().err
    classbook.merge(tmp_path, class_record())
    assert export.main(["--format", "canvas", "--reports", str(tmp_path)]) == 0
    assert (tmp_path / "canvas-grades.csv").read_text().startswith("Student,ID,SIS User ID")
    reasons = (tmp_path / "canvas-grades.csv.reasons.txt").read_text()
    assert reasons == "bob: not graded: no src/minigrad/\n"
    assert "bob: left blank: not graded" in capsys.readouterr().out


# ---------------------------------------------------------------- a whole term, for real
def test_a_term_with_a_canvas_roster_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Five students on a roster exported from Canvas, their repositories with commits on
    both sides of the deadline: collect, grade with --roster, regrade one, export for
    Canvas and Moodle, and read the class page. Graded for real."""
    engine_files = ROOT / "reference" / "src" / "minigrad"
    reference = {f"src/minigrad/{p.name}": p.read_text() for p in engine_files.glob("*.py")}
    skeleton = {
        f"src/minigrad/{p.name}": p.read_text()
        for p in (ROOT / "skeleton" / "src" / "minigrad").glob("*.py")
    }
    scalar = reference["src/minigrad/scalar.py"]
    buggy = dict(reference)
    buggy["src/minigrad/scalar.py"] = scalar.replace(
        "other.grad -= out.grad", "other.grad += out.grad"
    )
    assert buggy["src/minigrad/scalar.py"] != scalar
    hour = timedelta(hours=1)
    repos = {
        # right before the deadline, broken after it: the correct engine is graded
        "alice": bare_repo(
            tmp_path, "alice", [(DEADLINE - hour, reference), (DEADLINE + hour, buggy)]
        ),
        # the bug before the deadline, the fix after: the bug is graded
        "bob": bare_repo(
            tmp_path, "bob", [(DEADLINE - 2 * hour, buggy), (DEADLINE + hour, reference)]
        ),
        # everything after the deadline: nothing to grade, left blank with the reason
        "carol": bare_repo(tmp_path, "carol", [(DEADLINE + hour, reference)]),
        # the skeleton handed in untouched: graded (a real 0), but it attempted no lab
        "erin": bare_repo(tmp_path, "erin", [(DEADLINE - hour, skeleton)]),
    }
    people = [
        ["Anderson, Alice", "4101", "1001", "aanderson", "CS101 A", "alice"],
        ["Brown, Bob", "4102", "1002", "bbrown", "CS101 A", "bob"],
        ["Chen, Carol", "4103", "1003", "cchen", "CS101 B", "carol"],
        ["Diaz, Dave", "4104", "1004", "ddiaz", "CS101 B", ""],  # no GitHub account yet
        ["Evans, Erin", "4105", "1005", "eevans", "CS101 B", "erin"],
    ]
    rows = [CANVAS_HEADER, *([*p, str(repos[p[5]]) if p[5] else ""] for p in people)]
    path = write_csv(tmp_path / "roster.csv", rows)
    subs, out = tmp_path / "submissions", tmp_path / "reports"

    # The same roster without its repository column is refused, in one line.
    no_repo = write_csv(tmp_path / "no-repo.csv", [r[:6] for r in rows])
    assert collect.main([str(no_repo), "--deadline", "2026-12-01 23:59", "--out", str(subs)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no repository column" in err and not subs.exists()

    # Collect, the deadline written as people type it (in the course's time zone, UTC).
    assert collect.main([str(path), "--deadline", "2026-12-01 23:59", "--out", str(subs)]) == 0
    said = capsys.readouterr().out
    assert (
        "a Canvas roster of 5 student(s), logins from column 'GitHub Username' (1 without one)"
        in said
    )
    assert (
        "Diaz, Dave: NOT COLLECTED: no login in the roster (column 'GitHub Username' is empty)"
        in said
    )
    assert "carol: NOT COLLECTED: no commit at or before the deadline" in said
    assert "collected 3 of 5" in said

    # Grade the class with the roster: who has no graded submission is said.
    assert cli.main([str(subs), "--out", str(out), "--roster", str(path)]) == 0
    err = capsys.readouterr().err
    assert "1 student(s) on the roster have no graded submission" in err and "Diaz, Dave" in err
    assert "not on the roster" not in err

    # Regrade one student, without --roster: the class record keeps the roster.
    before = {f: (out / f).read_text() for f in ("grades.csv", "class.json")}
    assert cli.main([str(subs / "alice"), "--out", str(out)]) == 0
    assert (out / "grades.csv").read_text() == before["grades.csv"]
    stored = classbook.load_roster(out)
    assert stored is not None and [s.login for s in stored.students] == [p[5] for p in people]

    # Canvas: the roster's five identity columns verbatim, in its order.
    canvas_file = tmp_path / "canvas.csv"
    assert (
        export.main(["--format", "canvas", "--reports", str(out), "--file", str(canvas_file)]) == 0
    )
    canvas = list(csv.reader(canvas_file.open(encoding="utf-8")))
    assert canvas[0] == [*CANVAS_HEADER[:5], "minigrad"]
    assert [r[:5] for r in canvas[1:]] == [p[:5] for p in people]
    scores = {r[0]: r[5] for r in canvas[1:]}
    assert scores["Anderson, Alice"] == "100" and scores["Evans, Erin"] == "0"
    assert 0 < float(scores["Brown, Bob"]) < 100
    assert scores["Chen, Carol"] == scores["Diaz, Dave"] == ""  # blank, never 0
    reasons = (tmp_path / "canvas.csv.reasons.txt").read_text()
    assert "carol: not graded: no commit at or before the deadline" in reasons
    assert "Diaz, Dave: not graded: no login in the roster" in reasons

    # Moodle: the roster's identifiers (ID number from SIS User ID, the username from
    # SIS Login ID), the same grades and the reasons as feedback.
    moodle_file = tmp_path / "moodle.csv"
    assert (
        export.main(["--format", "moodle", "--reports", str(out), "--file", str(moodle_file)]) == 0
    )
    moodle = list(csv.DictReader(moodle_file.open(encoding="utf-8")))
    assert [(r["ID number"], r["Username"], r["minigrad"]) for r in moodle] == [
        (p[2], p[3], scores[p[0]]) for p in people
    ]
    assert moodle[3]["Feedback"].startswith("not graded: no login in the roster")

    record = classbook.load(out)
    assert record["alice"]["commit"]["sha"] == git("rev-parse", "main~1", cwd=repos["alice"])
    assert record["bob"]["commit"]["sha"] == git("rev-parse", "main~1", cwd=repos["bob"])
    assert record["erin"]["attempted"] == [] and "lab01" in record["alice"]["attempted"]

    # The class page: the mean over the graded three, the not graded counted apart, and
    # pass rates over those who attempted the lab (not erin's untouched skeleton).
    summary = (out / "summary.md").read_text()
    bob = float(scores["Brown, Bob"])
    mean = (100 + bob + 0) / 3
    shown = f"{mean:.1f}" if mean != int(mean) else f"{mean:g}"
    assert (
        "4 submission(s): 3 graded, 1 not graded (1 not gradable); 1 student(s) on the roster "
        f"without a submission. Mean {shown}, median {bob:g} of 100, over the 3 graded "
        "submission(s)" in summary
    )
    assert re.search(r"^\| `ops.tanh` \| lab01 \| [^|]+ \| 100% \| 2 \| 0 \| 0 \|$", summary, re.M)
    assert "| Diaz, Dave | - |  | not graded: no login in the roster" in summary
    assert "| 0 / 100 |  | attempted no lab: every TODO stub of the skeleton is still" in summary

    # Every link of every page works where the reports were written (outside the repo).
    assert not out.resolve().is_relative_to(ROOT)
    checked = 0
    for page in [*out.rglob("*.html"), *out.rglob("*.md")]:
        if "_labs" in page.relative_to(out).parts:
            continue  # the copied lab statements link among themselves
        text = page.read_text()
        for link in re.findall(r'href="([^"]+)"|\]\(([^)\s]+)\)', text):
            ref = unquote(html.unescape(next(x for x in link if x)).split("#")[0])
            if ref and not ref.startswith(("http://", "https://", "mailto:")):
                assert (page.parent / ref).resolve().exists(), (page, ref)
                assert (page.parent / ref).resolve().is_relative_to(out.resolve())
                checked += 1
    assert checked > 20


# ---------------------------------------------------------------- the nox sessions
def test_the_class_sessions_are_thin_and_run_their_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_release import Recorder, load_sessions

    sessions = load_sessions(ROOT / "noxfile.py", monkeypatch)
    expected = {
        "collect": ("grader.collect", ["r.csv", "--deadline", "2026-12-01T23:59Z"]),
        "export": ("grader.export", ["--format", "canvas"]),
        "gradescope": ("tools.gradescope", ["out.zip"]),
    }
    for name, (module, posargs) in expected.items():
        recorder = Recorder(posargs)
        sessions[name](recorder)
        assert recorder.installs == []  # the shared grader environment serves them
        assert recorder.runs == [(("python", "-m", module, *posargs), [0])]


def test_the_grader_sessions_end_nox_with_a_usage_error_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """nox turns every failing command into its own status 1; the grader's sessions end
    it with 2 when the command said 2 (a usage error), as the README documents."""
    from tests.test_release import Recorder, load_sessions

    sessions = load_sessions(ROOT / "noxfile.py", monkeypatch)

    class Failed(Exception):  # what nox.command.CommandFailed carries
        def __init__(self, code: int) -> None:
            super().__init__(f"Returned code {code}")
            self.return_code = code

    class Failing(Recorder):
        code = 2

        def run(self, *args: str, success_codes: list[int] | None = None) -> None:
            super().run(*args, success_codes=success_codes)
            raise Failed(self.code)

    for name in ("grade", "check", "collect", "export"):
        with pytest.raises(SystemExit) as ended:
            sessions[name](Failing([]))
        assert ended.value.code == 2, name
        failing = Failing([])
        failing.code = 1
        with pytest.raises(Failed):  # any other failure is nox's to report, as 1
            sessions[name](failing)
