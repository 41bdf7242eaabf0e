"""Rosters: the class list as a learning platform exports it, read into ``Student``s.

The roster is a CSV file with a header row. Which column is which is found by its
header, whatever the platform calls it:

- Canvas (``Student, ID, SIS User ID, SIS Login ID, Section``), Moodle (``First name,
  Surname, ID number, Email address, Username``), GitHub Classroom (``identifier,
  github_username, github_id, name``) or any plain CSV (``login, repository, student_id,
  email``), with the columns an instructor adds (``GitHub Username``, ``Repository``);
- the login (the folder a submission is collected into and graded from, normally the
  GitHub username) and the repository are looked up under the names in ``LOGIN`` and
  ``REPO``, or named explicitly (``--login-column``, ``--repo-column``, or ``[roster]``
  in grader/rubric.toml, which can also build each URL from a template holding
  ``{login}``).

A roster without a login column (or, to collect, without a repository column) is
refused with one line naming the columns it has and the ones it needs. A student whose
login cell is empty (a GitHub Classroom student who has not linked an account yet)
stays on the roster: they cannot be collected or graded, and the gradebook files leave
their grade blank with that reason.

Every row is kept verbatim (``Student.fields``): the gradebook exports
(grader/export.py) write the platform's own identifiers back exactly as read, since
that is what the platform matches rows on. The roster is stored with the class record
(grader/classbook.py) so that exports and later regrades see it without being told.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The names each column goes by, in order of preference (compared after ``key``).
LOGIN = (
    "login",
    "github_username",
    "github_login",
    "github",
    "github_user",
    "github_handle",
    "github_account",
    "username",
    "user",
    "user_name",
    "sis_login_id",
)
REPO = (
    "repo",
    "repository",
    "repository_url",
    "repo_url",
    "git_url",
    "clone_url",
    "github_repository",
    "github_repo",
    "url",
    "git",
)
STUDENT_ID = (
    "student_id",
    "student_number",
    "sis_user_id",
    "id_number",
    "sis_id",
    "matriculation_number",
    "identifier",
    "id",
)
EMAIL = ("email", "email_address", "e_mail", "e_mail_address", "mail")
NAME = ("name", "student", "student_name", "full_name", "display_name")
FIRST_NAME = ("first_name", "given_name")
LAST_NAME = ("surname", "last_name", "family_name")
SECTION = ("section", "sections", "group")
# The language a student's reports are written in (en, es, English, Español, ...).
LANGUAGE_COLUMNS = ("language", "lang", "locale", "preferred_language", "idioma")

# Rows a Canvas gradebook export carries that are not students.
NOT_STUDENTS = {"points possible"}


class RosterError(ValueError):
    """The roster cannot be read or lacks a column that is needed (one-line message)."""


def key(header: str) -> str:
    """A header as compared: lower case, words joined by '_' (``SIS User ID`` ->
    ``sis_user_id``, ``E-mail`` -> ``e_mail``)."""
    return "_".join(header.strip().lower().replace("-", " ").replace("_", " ").split())


@dataclass(frozen=True)
class Student:
    login: str  # the submission's folder name; '' when the roster has none for them
    repo: str = ""
    student_id: str = ""
    email: str = ""
    name: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)  # the row, header -> cell

    def get(self, *names: str) -> str | None:
        """The cell of the first column (by ``key``) among ``names`` the roster has, as
        read; None when the roster has none of them."""
        cells = {key(h): v for h, v in reversed(list(self.fields.items()))}
        for name in names:
            if key(name) in cells:
                return cells[key(name)]
        return None

    @property
    def who(self) -> str:
        """How messages name the student: the login, else the name, else the id."""
        return self.login or self.name or self.student_id or "(a student without a login)"

    def to_json(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "repo": self.repo,
            "student_id": self.student_id,
            "email": self.email,
            "name": self.name,
            "fields": dict(self.fields),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Student:
        cells = data.get("fields") or {}
        return cls(
            login=str(data.get("login", "")),
            repo=str(data.get("repo", "")),
            student_id=str(data.get("student_id", "")),
            email=str(data.get("email", "")),
            name=str(data.get("name", "")),
            fields={str(k): str(v) for k, v in cells.items()} if isinstance(cells, dict) else {},
        )


@dataclass(frozen=True)
class Roster:
    source: str  # the file it was read from
    columns: list[str]  # the header row, as read
    students: list[Student]
    login_column: str = ""  # the header of the login column

    @property
    def kind(self) -> str:
        """Which platform the header looks like: canvas, moodle, classroom or csv."""
        have = {key(c) for c in self.columns}
        if {"student", "sis_user_id"} <= have or {"student", "sis_login_id"} <= have:
            return "canvas"
        if "id_number" in have and ("first_name" in have or "email_address" in have):
            return "moodle"
        if {"identifier", "github_username"} <= have:
            return "classroom"
        return "csv"

    def find(self, login: str) -> Student | None:
        """The student whose login is ``login`` (GitHub logins ignore case)."""
        exact = {s.login: s for s in self.students if s.login}
        if login in exact:
            return exact[login]
        folded = {s.login.casefold(): s for s in self.students if s.login}
        return folded.get(login.casefold())

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "columns": list(self.columns),
            "login_column": self.login_column,
            "students": [s.to_json() for s in self.students],
        }

    @classmethod
    def from_json(cls, data: object) -> Roster | None:
        """The roster stored by ``to_json``, or None when ``data`` is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("students"), list):
            return None
        students = [Student.from_json(s) for s in data["students"] if isinstance(s, dict)]
        columns = data.get("columns")
        return cls(
            source=str(data.get("source", "")),
            columns=[str(c) for c in columns] if isinstance(columns, list) else [],
            students=students,
            login_column=str(data.get("login_column", "")),
        )


def _column(
    path: Path, header: Sequence[str], option: str, named: str, synonyms: Iterable[str]
) -> int | None:
    """The index of the column ``named`` explicitly, else of the first synonym found."""
    keys = [key(h) for h in header]
    if named:
        if key(named) not in keys:
            setting = option.removeprefix("--").replace("-", "_")
            raise RosterError(
                f"{path}: the column named by {option} (or [roster] {setting} in the "
                f"rubric), {named!r}, is not one of its columns ({_listed(header)})"
            )
        return keys.index(key(named))
    for name in synonyms:
        if name in keys:
            return keys.index(name)
    return None


def _listed(header: Sequence[str]) -> str:
    shown = ", ".join(repr(h.strip()) for h in header[:12] if h.strip())
    return (shown or "none") + (f", ... ({len(header)} in all)" if len(header) > 12 else "")


def _refuse(path: Path, header: Sequence[str], missing: str, option: str) -> RosterError:
    return RosterError(
        f"{path} has no {missing} column: its columns are {_listed(header)}; it needs a "
        f"login column (e.g. login or GitHub Username) and a repository column (e.g. "
        f"repository or repo_url): rename one, or name it with {option}"
    )


def read(
    path: Path,
    login_column: str = "",
    repo_column: str = "",
    repo_template: str = "",
    need_repo: bool = False,
) -> Roster:
    """Read a roster. ``need_repo``: refuse one without a repository for each student
    (a repository column, or ``repo_template`` such as ``https://host/org/lab-{login}``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read the roster {path}: {exc}") from exc
    try:
        rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise RosterError(f"{path} is not a CSV file: {exc}") from exc
    if not rows:
        raise RosterError(f"the roster {path} is empty")
    header = rows[0]
    login_at = _column(path, header, "--login-column", login_column, LOGIN)
    if login_at is None:
        raise _refuse(path, header, "login", "--login-column")
    repo_at = _column(path, header, "--repo-column", repo_column, REPO)
    if repo_template and "{login}" not in repo_template:
        raise RosterError(
            f"the repository template {repo_template!r} must hold {{login}}, e.g. "
            "https://github.com/my-course/minigrad-{login}"
        )
    if need_repo and repo_at is None and not repo_template:
        raise _refuse(path, header, "repository", "--repo-column (or --repo-template)")
    students: list[Student] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        cells: dict[str, str] = {}
        for i, h in enumerate(header):
            if h.strip() and h not in cells:  # a header repeated: its first column counts
                cells[h] = row[i] if i < len(row) else ""
        student = _student(row, header, cells, login_at, repo_at, repo_template)
        if student.name.strip().lower() in NOT_STUDENTS:
            continue
        login = student.login
        if login in (".", "..") or "/" in login or "\\" in login or login.startswith("_"):
            raise RosterError(
                f"{path}:{number}: a login must be a plain folder name (not starting with "
                f"'_'), not {login!r}"
            )
        if login and login.casefold() in seen:
            raise RosterError(
                f"{path}:{number}: login {login!r} appears twice (also on line "
                f"{seen[login.casefold()]})"
            )
        if login:
            seen[login.casefold()] = number
        students.append(student)
    return Roster(str(path), list(header), students, header[login_at].strip())


def _student(
    row: Sequence[str],
    header: Sequence[str],
    cells: Mapping[str, str],
    login_at: int,
    repo_at: int | None,
    repo_template: str,
) -> Student:
    def at(i: int | None) -> str:
        return row[i].strip() if i is not None and i < len(row) else ""

    def first(names: Iterable[str]) -> str:
        keys = [key(h) for h in header]
        for name in names:
            if name in keys and at(keys.index(name)):
                return at(keys.index(name))
        return ""

    login = at(login_at)
    repo = at(repo_at)
    if not repo and repo_template and login:
        repo = repo_template.replace("{login}", login)
    name = first(NAME) or " ".join(p for p in (first(FIRST_NAME), first(LAST_NAME)) if p)
    return Student(
        login=login,
        repo=repo,
        student_id=first(STUDENT_ID),
        email=first(EMAIL),
        name=name,
        fields=dict(cells),
    )


def no_login(roster: Roster | None) -> str:
    """Why a student of ``roster`` whose login cell is empty has no submission."""
    column = f" (column {roster.login_column!r} is empty)" if roster and roster.login_column else ""
    return f"no login in the roster{column}"
