"""The confinement primitives (grader/child/confine.py), the reply parser, the escaping of
student text, submission discovery's refusals, the integrity check and the refusal to
grade unconfined without --trust-submissions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader import cli, escape, integrity, pipeline, sandbox
from grader.child.channel import parse as parse_reply
from grader.child.confine import LANDLOCK, NAMESPACES, available
from grader.child.privileges import NOBODY
from grader.child.seccomp import seccomp_program
from grader.discover import find, unsafe
from grader.sandbox import TRUST_ENV, prepare_code

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import ctypes, json, os, resource, socket, sys, threading, time
sys.path.insert(0, sys.argv[1] + "/code")
from grader.child import confine, privileges
from grader.child.limits import enter_confinement
confine.hand_over(sys.argv[1], [sys.argv[1] + "/work"])  # as the sandbox does
tasks = privileges.tasks_of(privileges.NOBODY)
root = enter_confinement(sys.argv[1])
confine.lock_down(read=[root + "/code"], write=[root + "/work"])
limit = 32 + tasks
resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
started = 0
try:
    for _ in range(500):
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        started += 1
except RuntimeError:
    pass
libc = ctypes.CDLL(None, use_errno=True)
found = {"pid": os.getpid()}
def attempt(name, action):
    try:
        action()
        found[name] = "allowed"
    except OSError as exc:
        found[name] = exc.errno
attempt("write_scratch", lambda: open(root + "/work/x", "w").write("x"))
attempt("write_code", lambda: open(root + "/code/x", "w").write("x"))
attempt("read_repo", lambda: open(sys.argv[2]).read())
attempt("read_proc", lambda: open("/proc/1/environ").read())
attempt("fork", os.fork)
attempt("socket", socket.socket)
def call(fn, *args):
    if getattr(libc, fn)(*args) != 0:
        raise OSError(ctypes.get_errno(), fn)
attempt("mount", lambda: call("mount", b"none", b"/tmp", b"tmpfs", 0, None))
attempt("umount", lambda: call("umount2", b"/tmp/run", 2))
attempt("unshare", lambda: call("unshare", 0x40000000))
attempt("setns", lambda: call("setns", os.open("/dev/null", os.O_RDONLY), 0))
attempt("ptrace", lambda: call("ptrace", 16, 1, None, None))
attempt("kill_parent", lambda: os.kill(int(sys.argv[3]), 0))
attempt("kill_everyone", lambda: os.kill(-1, 0))
attempt("kill_group", lambda: os.kill(0, 0))
attempt("kill_self", lambda: os.kill(os.getpid(), 0))
attempt("prlimit_parent", lambda: call("prlimit64", int(sys.argv[3]), 7, None, None))
attempt("prlimit_self", lambda: call("prlimit64", 0, 7, None, None))
attempt("renice", lambda: call("setpriority", 0, int(sys.argv[3]), 19))
attempt("sysv_shm", lambda: call("shmget", 0, 4096, 0o1600))
found["ppid"] = os.getppid()
found["uid"] = os.getuid()
found["threads"] = started
print(json.dumps(found), flush=True)
"""
EPERM, ENOENT, EACCES = 1, 2, 13
REFUSED = ["fork", "socket", "mount", "umount", "unshare", "setns", "ptrace"]
REFUSED += ["kill_parent", "kill_everyone", "kill_group", "prlimit_parent", "renice"]
REFUSED += ["sysv_shm"]


def test_this_machine_can_confine() -> None:
    # The suite runs where the grader runs: it must be able to confine (or say why).
    mode, why = available()
    assert mode in (NAMESPACES, LANDLOCK), why


def test_a_confined_process_is_held_by_namespaces_landlock_and_seccomp(tmp_path: Path) -> None:
    prepare_code(tmp_path)
    (tmp_path / "work").mkdir()
    secret = ROOT / "grader" / "rubric.toml"
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, str(tmp_path), str(secret), str(os.getpid())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = json.loads(done.stdout)
    assert found["pid"] == 2  # PID 1 of the new namespace is the grader's waiting process
    assert found["ppid"] == 0  # hidden: it learns no PID but its own
    # A thread limit holds whoever grades: as root, the process is uid 65534 (mapped).
    assert found["threads"] < 100
    if os.geteuid() == 0:
        assert found["uid"] == NOBODY
    assert found["write_scratch"] == found["kill_self"] == found["prlimit_self"] == "allowed"
    for name in ("write_code", "read_repo", "read_proc"):
        # (a checkout under /tmp is behind the confinement's own /tmp: not even there)
        assert found[name] == EACCES or (name == "read_repo" and found[name] == ENOENT), name
    for name in REFUSED:
        assert found[name] == EPERM, name


LANDLOCK_PROBE = PROBE.replace(
    "root = enter_confinement(sys.argv[1])\n"
    'confine.lock_down(read=[root + "/code"], write=[root + "/work"])',
    "root = sys.argv[1]\n"
    "confine.hand_over(root, [root + '/work'])\n"
    'confine.lock_down(read=[root + "/code"], write=[root + "/work"], mode=confine.LANDLOCK)',
)


def test_without_user_namespaces_landlock_seccomp_and_a_real_uid_hold() -> None:
    """As on a host that refuses user namespaces (Docker, Ubuntu 24.04): the grader
    picks the LANDLOCK mode, and a confined process, root or not, runs as an
    unprivileged uid that can touch nothing of the grader's, its processes included."""
    from tests.no_userns import LAUNCHER, readable_python

    python, why = readable_python()
    assert python, why
    where = [python, LAUNCHER, python]
    mode = subprocess.run(
        [*where, "-c", "from grader.child import confine; print(confine.available()[0])"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert mode.stdout.strip() == LANDLOCK, mode.stderr
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="minigrad-landlock-"))  # as the sandbox's are
    try:
        prepare_code(folder)
        (folder / "work").mkdir()
        secret = ROOT / "grader" / "rubric.toml"
        args = [str(folder), str(secret), str(os.getpid())]
        done = subprocess.run(
            [*where, "-I", "-S", "-c", LANDLOCK_PROBE, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(folder)
    found = json.loads(done.stdout)
    assert found["uid"] == (NOBODY if os.geteuid() == 0 else os.getuid())
    assert found["ppid"] == 0
    assert found["write_scratch"] == found["kill_self"] == found["prlimit_self"] == "allowed"
    for name in ("write_code", "read_repo", "read_proc"):
        # (a checkout under /tmp is behind the confinement's own /tmp: not even there)
        assert found[name] == EACCES or (name == "read_repo" and found[name] == ENOENT), name
    for name in REFUSED:
        assert found[name] == EPERM, name


def test_the_seccomp_program_is_a_whole_number_of_instructions() -> None:
    code = seccomp_program()
    assert len(code) % 8 == 0 and 0 < len(code) // 8 < 4096  # BPF_MAXINSNS


def test_replies_too_deep_or_not_json_are_refused() -> None:
    assert parse_reply(b'{"id": 1, "reads": {"a": [1, [2]]}}') == {
        "id": 1,
        "reads": {"a": [1, [2]]},
    }
    assert parse_reply(b'{"id": 1, "x": ' + b"[" * 100_000) is None
    assert parse_reply(b'{"id": 1, "x": ' + b"[" * 40 + b"]" * 40 + b"}") is None
    assert parse_reply(b"not json") is None


def test_only_a_well_formed_reply_to_the_request_passes_the_vetting() -> None:
    from grader.child.driver import Faulty, vet

    request = {"id": 7, "steps": []}
    good = {"id": 7, "ok": True, "reads": {"a": 1.0}, "error": None, "extra": "dropped"}
    assert vet(good, request) == {
        "id": 7,
        "ok": True,
        "reads": {"a": 1.0},
        "error": None,
        "blocked_imports": [],
        "parents": [],
    }
    bad = [
        [good],  # not an object
        {**good, "id": 6},  # another request's
        {**good, "id": True},
        {**good, "ok": "yes"},
        {**good, "reads": [1.0]},
        {**good, "error": {"type": "E", "message": 3, "step": None}},
        {**good, "blocked_imports": [1]},
        {**good, "error": {"type": "E", "message": "m", "step": 0}},  # the request has none
        {"id": 7, "ok": False, "error": None},
    ]
    for reply in bad:
        with pytest.raises(Faulty):
            vet(reply, request)
    hello = {"id": 1, "kind": "hello"}
    with pytest.raises(Faulty):
        vet({"id": 1, "ok": True, "modules": {"os": None}}, hello)
    made = vet({"id": 1, "ok": True, "modules": {"scalar": None}, "hidden": ["x" * 999]}, hello)
    assert made["network_isolated"] is False and made["hidden"] == ["x" * 200]


def test_lines_are_capped_and_extra_lines_are_seen() -> None:
    from grader.child.channel import Lines

    read, write = os.pipe()
    try:
        os.write(write, b'{"a": 1}\n{"b": 2}\n')
        lines = Lines(read, 100)
        assert lines.read() == b'{"a": 1}' and lines.pending()
        assert lines.read() == b'{"b": 2}' and not lines.pending()
        os.write(write, b"x" * 300 + b"\n")
        assert lines.read() is None and lines.overflow and not lines.closed
    finally:
        os.close(read)
        os.close(write)


def test_student_text_is_escaped_and_capped() -> None:
    text = "a\x1b[31mred\x1b[0m\x00\x07b\x1b]0;title\x07c\ud800"
    assert escape.clean(text) == "aredbc"
    assert escape.console("x\ny") == "x y"
    assert escape.md_line("one\n# heading\n| table |") == "one # heading | table |"
    assert escape.fence("``` no ````")[0] == "`````"
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)"):
        assert escape.csv_cell(bad) == "'" + bad
    assert escape.csv_cell("alice") == "alice"
    assert len(escape.clean("m" * 1_000_000)) < escape.MAX_FIELD + 20
    ET.fromstring(f"<a>{escape.clean(chr(0) + chr(0xFFFE) + '&amp;')}</a>")


def test_symlinks_special_files_and_class_file_names_are_refused_or_renamed(
    tmp_path: Path,
) -> None:
    batch = tmp_path / "batch"
    for name in ("linked", "fifo", "grades.csv", "fine"):
        (batch / name / "src" / "minigrad").mkdir(parents=True)
        (batch / name / "src" / "minigrad" / "scalar.py").write_text("x = 1\n")
    (batch / "linked" / "tests").symlink_to(ROOT / "reference" / "tests")
    os.mkfifo(batch / "fifo" / "src" / "minigrad" / "output.log")
    subs = {s.name: s for s in find([batch])}
    assert set(subs) == {"linked", "fifo", "grades.csv_submission", "fine"}
    assert subs["linked"].problem == (
        "tests is a symlink: submissions may hold only regular files and folders"
    )
    assert "src/minigrad/output.log is a special file" in subs["fifo"].problem
    assert subs["fine"].problem == subs["grades.csv_submission"].problem == ""


def test_what_the_students_tools_write_beside_the_package_is_not_part_of_it(
    tmp_path: Path,
) -> None:
    """nox's in-tree virtualenv (lib64 -> lib), reports/, caches: never read, never refused;
    a link inside src/ or tests/ (even under a cache folder's name's parent) still is."""
    repo = tmp_path / "repo"
    (repo / "src" / "minigrad" / "__pycache__").mkdir(parents=True)
    (repo / "src" / "minigrad" / "scalar.py").write_text("x = 1\n")
    (repo / "tests" / ".pytest_cache").mkdir(parents=True)
    venv = repo / ".nox" / "minigrad"
    (venv / "lib").mkdir(parents=True)
    (venv / "lib64").symlink_to("lib")
    (venv / "bin").mkdir()
    (venv / "bin" / "python").symlink_to(sys.executable)
    (repo / "reports").mkdir()
    os.mkfifo(repo / "reports" / "pipe")
    (repo / "tests" / ".pytest_cache" / "link").symlink_to(ROOT)
    assert unsafe(repo) == ""
    (repo / "tests" / "test_link.py").symlink_to(ROOT / "reference" / "tests" / "test_ops.py")
    assert unsafe(repo) == (
        "tests/test_link.py is a symlink: submissions may hold only regular files and folders"
    )
    (repo / "tests" / "test_link.py").unlink()
    (repo / "src" / "minigrad" / "nn.py").symlink_to(ROOT / "reference" / "src")
    assert unsafe(repo).startswith("src/minigrad/nn.py is a symlink")


def test_a_change_to_the_grader_aborts_the_batch_naming_the_submission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = tmp_path / "tamperer"
    (sub / "src" / "minigrad").mkdir(parents=True)
    (sub / "src" / "minigrad" / "scalar.py").write_text("x = 1\n")
    prints = iter([{"grader/rubric.toml": "a"}, {"grader/rubric.toml": "b"}])
    monkeypatch.setattr(pipeline, "fingerprint", lambda: next(prints))
    assert cli.main([str(sub), "--out", str(tmp_path / "out"), "--lab", "lab01"]) == 1
    err = capsys.readouterr().err
    assert "batch aborted" in err and "tamperer" in err and "grader/rubric.toml" in err
    assert not (tmp_path / "out" / "grades.csv").exists()
    # The real fingerprint covers the grader's code and the environment's .pth files.
    found = integrity.fingerprint()
    assert str(ROOT / "grader" / "rubric.toml") in found
    assert any(p.endswith("/*") for p in found)


def test_unconfined_grading_needs_trust_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TRUST_ENV, raising=False)
    monkeypatch.setattr(sandbox, "_mode", ("", "the kernel offers no Landlock (test)"))
    sub = tmp_path / "someone"
    (sub / "src").mkdir(parents=True)
    (sub / "src" / "minigrad").symlink_to(ROOT / "reference" / "src" / "minigrad")
    out = tmp_path / "out"
    assert cli.main([str(sub), "--out", str(out), "--lab", "lab01"]) == 2
    assert "cannot confine student code here" in capsys.readouterr().err
    (sub / "src" / "minigrad").unlink()
    (sub / "src" / "minigrad").mkdir()
    for path in (ROOT / "reference" / "src" / "minigrad").glob("*.py"):
        (sub / "src" / "minigrad" / path.name).write_bytes(path.read_bytes())
    args = [str(sub), "--out", str(out), "--lab", "lab01", "--trust-submissions"]
    assert cli.main(args) == 0
    assert "UNCONFINED" in (out / "someone" / "report.md").read_text()
    assert "UNCONFINED" in (out / "summary.md").read_text()
    assert "UNCONFINED" in capsys.readouterr().out


def test_test_ids_are_the_names_the_student_wrote() -> None:
    from grader.student_tests import known_test

    tests = {"test_a.py": b"import pytest\n\n\ndef test_add():\n    pass\n"}
    assert known_test("test_a.py::test_add", tests) == "test_a.py::test_add"
    # Parametrize ids (which a test could compute from the engine's source) are dropped.
    assert known_test("test_a.py::test_add[class Value: ...]", tests) == "test_a.py::test_add"
    made = known_test("test_a.py::test_class_Value_def___add__", tests)
    assert made == "test_a.py::<a test made at run time>"
    assert known_test("../../reference/x.py::test", tests) == "<a test outside your test files>"


def test_where_the_kernel_refuses_the_grader_says_why() -> None:
    # A process under our own seccomp filter may neither fork nor unshare.
    probe = (
        "from grader.child import confine, privileges, seccomp\n"
        "privileges.no_new_privs()\n"
        "seccomp.seccomp()\n"
        "print(confine.available()[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.stdout.strip() == "cannot start a probe process (Operation not permitted)"


def test_a_tool_that_crashes_is_the_graders_error_not_a_pass(tmp_path: Path) -> None:
    from grader.checks.quality import _Tool

    clean = _Tool(["ruff", "check", "--isolated", "--no-cache", "."], tmp_path)
    assert "All checks passed" in clean.output()
    clean.stop()
    crashing = _Tool(["mypy", "--no-such-option"], tmp_path)
    with pytest.raises(RuntimeError, match="mypy crashed"):
        crashing.output()
    crashing.stop()
