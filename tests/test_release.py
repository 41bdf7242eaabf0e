"""The release: the student repository that tools/release.py builds.

It holds what students need and nothing instructor-only (the leak check proves it and
catches planted leaks), its grader runs the public checks only, and the commands of its
workflow and nox sessions work: they are read back from the generated files and run
here (nox itself is replaced by a recorder, so no network and no new virtualenv).
"""

from __future__ import annotations

import base64
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import tomllib
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from grader import answer_key
from tools import i18n, leaks, release, skeleton, workflow

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = leaks.load_rubric()  # with the hidden checks of grader/rubric_hidden.toml
VISIBLE = [c for c in RUBRIC["check"] if c["visibility"] == "visible"]
HIDDEN = [c["id"] for c in RUBRIC["check"] if c["visibility"] != "visible"]
PLANTED = "self.grad += other.data * out.grad"


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("release") / "minigrad-student"
    release.build(target)
    return target


@pytest.fixture
def copy(out: Path, tmp_path: Path) -> Path:
    """A writable copy of the release (to plant leaks in)."""
    target = tmp_path / "minigrad-student"
    shutil.copytree(out, target)
    return target


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTEST_ADDOPTS", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    return env


# ---------------------------------------------------------------- contents
def test_the_release_holds_the_student_files_only(out: Path) -> None:
    top = {p.name for p in out.iterdir()}
    assert top == {
        ".github",
        ".gitignore",
        "README.md",
        "grader",
        "labs",
        "noxfile.py",
        "pyproject.toml",
        "requirements",
        "src",
        "tests",
    }
    assert (out / ".github" / "workflows" / "grade.yml").is_file()
    labs = [p.relative_to(ROOT / "labs") for p in (ROOT / "labs").rglob("*.md")]
    assert Path("es/lab01-ops.md") in labs  # the Spanish statements ship too
    for lab in labs:
        assert (out / "labs" / lab).read_bytes() == (ROOT / "labs" / lab).read_bytes()
    for req in (ROOT / "requirements").glob("*.txt"):
        assert (out / "requirements" / req.name).read_bytes() == req.read_bytes()
    released = {p.name for p in (out / "src" / "minigrad").iterdir()}
    assert released == {p.name for p in skeleton.SKELETON.glob("*.py")}
    for name in released:
        assert (out / "src/minigrad" / name).read_bytes() == (skeleton.SKELETON / name).read_bytes()
    assert [p.name for p in (out / "tests").iterdir()] == ["test_example.py"]
    assert (out / "grader" / "__main__.py").is_file()
    everything = [p.relative_to(out).as_posix() for p in out.rglob("*")]
    for forbidden in ("reference", "skeleton.lock", "tools", "skeleton", "__pycache__"):
        assert not [p for p in everything if forbidden in p.split("/")], forbidden
    readme = (out / "README.md").read_text()
    assert "nox -s check" in readme and "{{" not in readme
    assert f"worth {sum(c['points'] for c in VISIBLE):g} of the 100\npoints" in readme


def test_the_release_leaks_nothing_and_its_grader_imports(out: Path) -> None:
    assert leaks.leak_check(out) == []
    assert release.verify(out) == []
    assert not list(out.rglob("__pycache__")), "verify must not write into the release"


def test_the_released_rubric_lists_exactly_the_visible_checks(out: Path) -> None:
    public = tomllib.loads((out / "grader" / "rubric.toml").read_text())
    assert public["check"] == VISIBLE
    assert public["labs"] == {lab: t for lab, t in RUBRIC["labs"].items() if lab != "bonus"}
    assert public["limits"] == RUBRIC["limits"]
    assert HIDDEN, "the rubric has checks shown after the due date"
    files = [p for p in (out / "grader").rglob("*") if p.suffix in {".py", ".toml"}]
    text = "\n".join(p.read_text() for p in files)
    for cid in HIDDEN:
        assert cid not in text


def test_the_released_catalogs_hold_no_hidden_check_text(out: Path) -> None:
    hidden = tomllib.loads((ROOT / "grader" / "rubric_hidden.toml").read_text())
    texts = [c[f] for c in hidden["check"] for f in ("name", "message") if c.get(f)]
    assert texts
    course = (ROOT / "grader" / "locale" / "grader.pot").read_text()
    assert all(text[:40] in course for text in texts)  # the course's catalog has them
    for path in (out / "grader" / "locale").rglob("*.po*"):
        shipped = path.read_text()
        assert "msgid" in shipped
        leaked = [text for text in texts if text[:40] in shipped]
        assert not leaked, f"{path.name} ships hidden checks' text: {leaked[:2]}"
    for path in (out / "grader" / "locale").rglob("*.mo"):
        assert not [t for t in texts if t[:40].encode() in path.read_bytes()], path.name
    assert "checks/hidden" not in (out / "grader" / "locale" / "grader.pot").read_text()
    released = tomllib.loads((out / "pyproject.toml").read_text())
    assert released["tool"]["minigrad"]["language"] == "en"  # the course's default


def test_the_planted_bug_catalog_is_not_released(out: Path) -> None:
    assert leaks.MISTAKES_CATALOG.exists()
    assert not (out / "grader" / "mistakes").exists()
    # The explanations students read ship with the grader.
    shipped = tomllib.loads((out / "grader" / "diagnoses.toml").read_text())
    assert shipped == tomllib.loads((ROOT / "grader" / "diagnoses.toml").read_text())


# ---------------------------------------------------------------- the leak check
@pytest.mark.parametrize(
    ("where", "text", "says"),
    [
        ("src/minigrad/scalar.py", f"        {PLANTED}\n", "solution line of scalar.py"),
        ("tests/test_bugs.py", f'BUG = ("{PLANTED}", "x")\n', "solution line of scalar.py"),
        ("README.md", f"\n    {PLANTED}\n", "solution line of scalar.py"),
        (
            "grader/rubric.toml",
            f"# {HIDDEN[0]} is worth points\n",
            f"hidden check id {HIDDEN[0]!r}",
        ),
        ("notes.md", f"Check `{HIDDEN[-1]}` runs later.\n", f"hidden check id {HIDDEN[-1]!r}"),
    ],
)
def test_leak_check_names_the_file_and_line_of_a_planted_leak(
    copy: Path, where: str, text: str, says: str
) -> None:
    target = copy / where
    before = target.read_text() if target.exists() else ""
    target.write_text(before + text)
    line = len((before + text.rstrip("\n")).splitlines())
    problems = leaks.leak_check(copy)
    assert problems and all(p.startswith(f"{where}:{line}: ") for p in problems), problems
    assert any(says in p for p in problems), problems


def test_lab_lines_may_name_later_checks_but_new_lines_may_not(copy: Path) -> None:
    lab = copy / "labs" / "lab02-backward.md"
    original = lab.read_text()
    assert any(cid in original for cid in HIDDEN)
    lab.write_text(original + f"\nA new line about {HIDDEN[0]}.\n")
    problems = leaks.leak_check(copy)
    assert problems == [
        f"labs/lab02-backward.md:{len(original.splitlines()) + 2}: hidden check id {HIDDEN[0]!r}"
    ]


@pytest.mark.parametrize(
    "source", ["reference/tests/test_graph.py", "reference/src/minigrad/scalar.py"]
)
def test_leak_check_finds_a_copied_reference_file(copy: Path, source: str) -> None:
    shutil.copyfile(ROOT / source, copy / "tests" / "copied.py")
    problems = leaks.leak_check(copy)
    assert f"tests/copied.py: a copy of the instructor-only {source}" in problems


def test_leak_check_finds_the_planted_bug_catalog(copy: Path) -> None:
    (copy / "grader" / "mistakes").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(leaks.MISTAKES_CATALOG, copy / "grader" / "mistakes" / "catalog.toml")
    problems = leaks.leak_check(copy)
    where = "grader/mistakes/catalog.toml"
    assert f"{where}: a copy of the instructor-only {where}" in problems
    assert any(p.startswith(f"{where}:") and "solution line" in p for p in problems)


def test_leak_check_finds_instructor_only_paths(copy: Path) -> None:
    (copy / "reference").mkdir()
    (copy / "reference" / "notes.txt").write_text("nothing\n")
    shutil.copyfile(skeleton.LOCK, copy / "skeleton.lock")
    problems = leaks.leak_check(copy)
    assert any(p.startswith("reference/notes.txt: instructor-only folder") for p in problems)
    assert any(p.startswith("skeleton.lock: instructor-only file") for p in problems)


def test_main_fails_and_names_the_leak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build = release.build

    def leaky_build(out_dir: Path) -> None:
        build(out_dir)
        with (out_dir / "src" / "minigrad" / "scalar.py").open("a") as handle:
            handle.write(f"# appended\n{PLANTED}\n")

    monkeypatch.setattr(release, "build", leaky_build)
    out_dir = tmp_path / "rel"
    assert release.main([str(out_dir)]) == 1
    err = capsys.readouterr().err
    lines = len((out_dir / "src" / "minigrad" / "scalar.py").read_text().splitlines())
    assert f"src/minigrad/scalar.py:{lines}: solution line of scalar.py" in err
    assert "release FAILED" in err


def test_main_builds_and_checks_a_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert release.main([str(tmp_path / "rel")]) == 0
    assert "no leak found" in capsys.readouterr().out
    assert (tmp_path / "rel" / "grader" / "rubric.toml").is_file()


def test_main_refuses_a_used_folder_or_the_repository(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file.txt").write_text("x")
    assert release.main([str(tmp_path / "used")]) == 2
    assert release.main([str(ROOT / "release-out")]) == 2
    assert release.main([]) == 2
    assert not (ROOT / "release-out").exists()


def test_the_grader_ships_unedited_less_its_instructor_only_files(out: Path) -> None:
    grader = ROOT / "grader"
    shipped = {p.relative_to(out / "grader") for p in (out / "grader").rglob("*") if p.is_file()}
    for path in grader.rglob("*"):
        rel = path.relative_to(grader)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix == ".pyc":
            continue
        if any(path == p or path.is_relative_to(p) for p in leaks.INSTRUCTOR_ONLY):
            assert rel not in shipped, rel
        elif rel.parts[0] == "locale" and rel.suffix in (".po", ".pot"):
            # the catalogs, less the hidden checks' messages: the rest as the course's
            private = tuple(str(p.relative_to(ROOT)) for p in leaks.INSTRUCTOR_ONLY)
            course = {m.id: m for m in i18n.read(path) if m.id}
            released = {m.id: m for m in i18n.read(out / "grader" / rel) if m.id}
            assert released and set(released) < set(course), rel
            for mid, m in course.items():
                hidden = all(where.startswith(private) for where, _ in m.locations)
                assert (mid not in released) == hidden, (rel, mid)
                assert hidden or released[mid].string == m.string, (rel, mid)
        elif rel.parts[0] == "locale" and rel.suffix == ".mo":
            assert (out / "grader" / rel).read_bytes() == i18n.compiled(
                i18n.read(out / "grader" / rel.with_suffix(".po"), rel.parts[1])
            )
        elif rel.as_posix() != answer_key.SHIPPED:
            assert (out / "grader" / rel).read_bytes() == path.read_bytes(), rel
    assert not (out / "grader" / "checks" / "hidden").exists()
    assert not (out / "grader" / "rubric_hidden.toml").exists()


def test_a_hidden_check_left_in_the_public_rubric_stops_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "grader" / "rubric.toml").read_text()
    hidden = (ROOT / "grader" / "rubric_hidden.toml").read_text().split("[[check]]")[1]
    (tmp_path / "rubric.toml").write_text(text + "\n[[check]]" + hidden)
    monkeypatch.setattr(release, "RUBRIC", tmp_path / "rubric.toml")
    with pytest.raises(release.ReleaseError, match=r"move .* to rubric_hidden\.toml"):
        release.build(tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- the workflow
def _scalar(text: str) -> str:
    if text.startswith("'"):
        assert text.endswith("'") and len(text) > 1, text
        return text[1:-1].replace("''", "'")
    assert not text.startswith(('"', "*", "&", "!", "{", "[", "|", ">")), text
    assert ": " not in text and " #" not in text, text
    return text


def parse_yaml(text: str) -> Any:
    """The YAML subset the release writes: block mappings, sequences of mappings,
    plain and single-quoted scalars, `|` blocks, comment lines."""
    lines = [
        (len(raw) - len(raw.lstrip(" ")), raw.strip())
        for raw in text.splitlines()
        if raw.strip() and not raw.lstrip().startswith("#")
    ]
    assert all("\t" not in raw for raw in text.splitlines())

    def block(i: int, indent: int) -> tuple[Any, int]:
        if lines[i][1].startswith("- "):
            items = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                lines[i] = (indent + 2, lines[i][1][2:])
                item, i = block(i, indent + 2)
                items.append(item)
            return items, i
        mapping: dict[str, Any] = {}
        while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
            key, colon, rest = lines[i][1].partition(":")
            assert colon and key and key not in mapping, lines[i]
            rest = rest.strip()
            i += 1
            if rest == "|":
                body = []
                while i < len(lines) and lines[i][0] > indent:
                    body.append(lines[i][1])
                    i += 1
                mapping[key] = "\n".join(body)
            elif rest:
                mapping[key] = _scalar(rest)
            elif i < len(lines) and lines[i][0] > indent:
                mapping[key], i = block(i, lines[i][0])
            else:
                mapping[key] = None
        return mapping, i

    parsed, end = block(0, 0)
    assert end == len(lines), f"unparsed from line {lines[end]}"
    return parsed


def test_the_workflow_grades_every_push(out: Path) -> None:
    written = parse_yaml((out / workflow.WORKFLOW_PATH).read_text())
    assert set(written) >= {"on", "jobs", "name"}
    assert "push" in written["on"]
    (job,) = written["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    steps = job["steps"]
    assert steps == workflow.WORKFLOW_STEPS  # the YAML reads back as the data it renders
    uses = [s["uses"] for s in steps if "uses" in s]
    # every action pinned to its current major (checked 2026-11)
    assert uses == [
        "actions/checkout@v7",
        "actions/setup-python@v7",
        "actions/cache@v6",
        "classroom-resources/autograding-grading-reporter@v1",
        "actions/upload-artifact@v7",
    ]
    assert steps[1]["with"] == {"python-version": "3.11"}
    cache = steps[2]["with"]  # the environment nox builds, not only the downloads
    assert cache["path"].splitlines() == [".nox", "~/.cache/pip"]
    assert "hashFiles('requirements/*.txt', 'noxfile.py')" in cache["key"]
    assert written["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    reporter = steps[-2]
    assert reporter["with"] == {"runners": "minigrad"} and reporter["if"] == "always()"
    counted = next(s for s in steps if s.get("id") == "minigrad")
    assert reporter["env"] == {"MINIGRAD_RESULTS": "${{ steps.minigrad.outputs.result }}"}
    assert counted["if"] == "always()" and "$GITHUB_OUTPUT" in counted["run"]
    grade = next(s for s in steps if "nox -s check" in str(s.get("run")))
    assert "||" not in grade["run"] and "if" not in grade and "continue-on-error" not in grade
    upload = steps[-1]
    assert upload["if"] == "always()"
    assert {Path(p).name for p in upload["with"]["path"].splitlines()} == {
        "results.json",
        "report.md",
        "report.html",
        "junit.xml",
        "_labs",
    }


# ---------------------------------------------------------------- running the commands
@dataclass
class Recorder:
    """Stands in for nox.Session: records what a session would install and run."""

    posargs: list[str]
    installs: list[tuple[str, ...]] = field(default_factory=list)
    runs: list[tuple[tuple[str, ...], list[int]]] = field(default_factory=list)
    notified: list[tuple[str, list[str]]] = field(default_factory=list)

    def install(self, *args: str) -> None:
        self.installs.append(args)

    def run(self, *args: str, success_codes: list[int] | None = None) -> None:
        self.runs.append((args, success_codes or [0]))

    def notify(self, target: str, posargs: list[str] | None = None) -> None:
        self.notified.append((target, list(posargs or [])))

    def error(self, *args: object) -> NoReturn:
        raise AssertionError(f"session.error{args}")


Session = Callable[[Recorder], None]


def load_sessions(noxfile: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Session]:
    """The sessions of a noxfile, loaded with a stand-in for the nox module."""
    sessions: dict[str, Session] = {}

    def session(*args: Any, **kwargs: Any) -> Any:
        def register(func: Session) -> Session:
            sessions[kwargs.get("name") or func.__name__] = func
            return func

        return register(args[0]) if args and callable(args[0]) else register

    fake = types.ModuleType("nox")
    fake.__dict__.update(session=session, options=types.SimpleNamespace(), Session=Recorder)
    monkeypatch.setitem(sys.modules, "nox", fake)
    runpy.run_path(str(noxfile))
    for func in sessions.values():  # the shared environment: this interpreter stands in
        for helper in ("environment", "grader_env"):
            if helper in func.__globals__:
                monkeypatch.setitem(func.__globals__, helper, lambda session: "python")
    return sessions


def run_session(
    sessions: dict[str, Session], name: str, posargs: list[str], cwd: Path
) -> list[subprocess.CompletedProcess[str]]:
    """Run what session ``name`` would run (its installs must name files that exist)."""
    recorder = Recorder(posargs)
    sessions[name](recorder)
    done = []
    for target, posargs_of_target in recorder.notified:
        done += run_session(sessions, target, posargs_of_target, cwd)
    for install in recorder.installs:
        for i, arg in enumerate(install):
            if arg == "-r":
                assert (cwd / install[i + 1]).is_file(), install
    for args, codes in recorder.runs:
        command = [sys.executable if args[0] == "python" else args[0], *args[1:]]
        result = subprocess.run(
            command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600
        )
        assert result.returncode in codes, (command, result.stdout[-3000:], result.stderr[-3000:])
        done.append(result)
    return done


def _git(*args: str, cwd: Path) -> None:
    env = _env() | {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(
        ["git", "-c", "user.name=student", "-c", "user.email=student@example.com", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def checkout(out: Path, tmp_path: Path) -> Path:
    """What actions/checkout gives: a clone of the release committed as a student repo."""
    origin = tmp_path / "origin"
    shutil.copytree(out, origin)
    _git("init", "-q", "-b", "main", cwd=origin)
    _git("add", "-A", cwd=origin)
    _git("commit", "-q", "-m", "release", cwd=origin)
    _git("clone", "-q", str(origin), "minigrad-student", cwd=tmp_path)
    return tmp_path / "minigrad-student"


def _when(step: dict[str, Any], failed: bool) -> bool:
    condition = step.get("if")
    return {None: not failed, "always()": True, "failure()": failed}[condition]


def test_the_workflow_steps_run_and_report(
    checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = parse_yaml((checkout / workflow.WORKFLOW_PATH).read_text())["jobs"]["grade"]["steps"]
    sessions = load_sessions(checkout / "noxfile.py", monkeypatch)
    summary = tmp_path / "summary.md"
    summary.write_text("")
    outputs = tmp_path / "outputs.txt"
    outputs.write_text("")
    github = {
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "course/alice",
        "GITHUB_SHA": "0123abc",
        # `python` as on the runner after setup-python: the one running these tests
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    failed = False
    ran: list[str] = []
    for step in steps:
        command = step.get("run")
        if command is None or not _when(step, failed):
            continue
        argv = shlex.split(command)
        if argv == ["python", "-m", "pip", "install", "nox"]:
            ran.append("install")  # needs the network; nox is replaced by a recorder here
        elif argv[0] == "nox":
            assert argv[1] == "-s" and (len(argv) == 3 or argv[3] == "--"), argv
            results = run_session(sessions, argv[2], argv[4:], checkout)
            ran.append(argv[2])
            assert results and all(r.returncode == 0 for r in results)
        else:
            env = _env() | github
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
                cwd=checkout,
                env=env,
                capture_output=True,
                text=True,
            )
            failed = failed or result.returncode != 0
            ran.append(argv[0])
    assert ran == ["install", "check", "sed", "python"] and not failed

    (report,) = (checkout / "reports").glob("*/report.md")
    assert report.parent.name == "minigrad-student"
    # the summary is the report, its links to the labs pointing into the repository
    online = "https://github.example/course/alice/blob/0123abc/labs/"
    assert "](../_labs/lab01-ops.md" in report.read_text()
    assert summary.read_text() == report.read_text().replace("](../_labs/", f"]({online}")
    for link in re.findall(r"\]\((\.\./_labs/[^)#]+)", report.read_text()):
        assert (report.parent / link).is_file(), link  # and work in the artifact
    # What Classroom's reporter reads: <RUNNER>_RESULTS, base64 JSON; it reports
    # "Points <sum of the tests' scores>/<max_score>" and fails the job only on "fail".
    (line,) = outputs.read_text().splitlines()
    key, _, value = line.partition("=")
    assert key == "result"
    points = json.loads(base64.b64decode(value))
    assert points["version"] == 1 and points["status"] == "pass"
    assert points["max_score"] == sum(c["points"] for c in VISIBLE)
    assert sum(t["score"] for t in points["tests"]) == 0  # the skeleton
    assert {t["status"] for t in points["tests"]} <= {"pass", "fail"}
    assert all(isinstance(t["message"], str) and t["name"] for t in points["tests"])
    assert "# minigrad report: minigrad-student" in summary.read_text()
    results = json.loads((report.parent / "results.json").read_text())
    public_points = sum(c["points"] for c in VISIBLE)
    assert sum(t["max_score"] for t in results["tests"]) == public_points
    assert {t["extra_data"]["check_id"] for t in results["tests"]} == {c["id"] for c in VISIBLE}
    assert f"Score 0 / {public_points:g}" in report.read_text()
    upload = steps[-1]["with"]["path"].splitlines()
    for pattern in upload:
        assert list(checkout.glob(pattern.rstrip("/"))), pattern
    # The failure step only explains; grading output is leak-free too.
    explain = next(s["run"] for s in steps if s.get("if") == "failure()")
    said = subprocess.run(["bash", "-c", explain], capture_output=True, text=True, check=True)
    assert said.stdout.startswith("::error::")
    assert leaks.leak_check(checkout) == []


def test_one_lab_and_the_lab_statements_grade_command(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = load_sessions(checkout / "noxfile.py", monkeypatch)
    recorder = Recorder([".", "--lab", "lab01"])
    sessions["grade"](recorder)
    assert recorder.notified == [("check", [".", "--lab", "lab01"])]
    check = Recorder(["--lab", "lab01", "--out", "lab-reports"])
    sessions["check"](check)
    ((args, _),) = check.runs
    assert args[:6] == ("python", "-m", "grader", ".", "--public", "--trust-submissions")
    run_session(sessions, "grade", [".", "--lab", "lab01"], checkout)
    report = (checkout / "reports" / "minigrad-student" / "report.md").read_text()
    assert "Lab 1: the ten ops" in report and "Lab 2" not in report


def test_the_tests_session_passes_on_the_skeleton_and_on_no_tests(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = load_sessions(checkout / "noxfile.py", monkeypatch)
    (result,) = run_session(sessions, "tests", [], checkout)
    assert result.returncode == 0 and "1 passed" in result.stdout
    (checkout / "tests" / "test_example.py").unlink()
    (result,) = run_session(sessions, "tests", [], checkout)
    assert result.returncode == 5


def test_the_python_the_release_writes_or_changes_is_lint_clean(out: Path) -> None:
    pytest.importorskip("ruff")
    changed = [
        p
        for p in (out / "grader").rglob("*.py")
        if p.read_bytes() != (ROOT / p.relative_to(out)).read_bytes()
    ]
    files = [str(p) for p in [out / "noxfile.py", out / "tests" / "test_example.py", *changed]]
    config = ["--config", str(out / "pyproject.toml")]
    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *config, *files],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- speed (issue 11)
def test_the_release_ships_the_answer_key_of_the_public_checks(out: Path, tmp_path: Path) -> None:
    shipped = out / "grader" / answer_key.SHIPPED
    key = answer_key.read_key(shipped, answer_key.grader_hash(out / "grader"))
    assert key is not None and key.values
    assert key.dags is None and not key.checks  # no hidden check's programs, no ids
    engine = tmp_path / "engine"
    shutil.copytree(ROOT / "reference" / "src", engine / "src")
    code = (
        "import sys\nfrom grader import cli\n"
        f"cli.main([{str(engine)!r}, '--public', '--lab', 'lab01', '--out', 'r'])\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=out, env=_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"
    results = json.loads((out / "r" / "engine" / "results.json").read_text())
    assert results["score"] == sum(c["points"] for c in VISIBLE if c["lab"] == "lab01")
    shutil.rmtree(out / "r")


def test_check_and_tests_share_one_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copyfile(release.TEMPLATES / "noxfile.py.txt", tmp_path / "noxfile.py")
    (tmp_path / "requirements").mkdir()
    for req in (ROOT / "requirements").glob("*.txt"):
        shutil.copyfile(req, tmp_path / "requirements" / req.name)
    fake = types.ModuleType("nox")
    fake.__dict__.update(
        session=lambda *a, **k: lambda f: f, options=types.SimpleNamespace(), Session=Recorder
    )
    monkeypatch.setitem(sys.modules, "nox", fake)
    noxfile = runpy.run_path(str(tmp_path / "noxfile.py"))
    environment = noxfile["environment"]
    (tmp_path / ".nox" / "minigrad").mkdir(parents=True)  # as `python -m venv` will
    first = Recorder([])
    python = environment(first)
    assert [r[0][1:3] for r in first.runs] == [("-m", "venv"), ("-m", "pip")]
    assert python == str(tmp_path / ".nox" / "minigrad" / "bin" / "python")
    Path(python).parent.mkdir()
    Path(python).touch()  # what `python -m venv` made
    for _ in ("check", "tests"):
        again = Recorder([])
        assert environment(again) == python and again.runs == []  # nothing installed again
    (tmp_path / "requirements" / "tests.txt").write_text("-r grade.txt\nextra==1.0\n")
    changed = Recorder([])
    environment(changed)
    assert [r[0][1:3] for r in changed.runs] == [("-m", "pip")]
