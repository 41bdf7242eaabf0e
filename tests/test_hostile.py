"""Hostile submissions: the grader survives each one, scores it honestly, and a batch of
them completes with every report written.

Every submission is built in ``tmp_path``: a copy of the reference (or skeleton) package
with one hostile patch, or a package written from scratch. Hangs are graded with a
2-second request limit so the file stays fast.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import cli
from grader.discover import Submission
from grader.rubric import RUBRIC
from grader.sandbox import Limits
from grader.score import FAILED, GRADER_ERROR, PASSED, Graded, run_checks

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PKG = ROOT / "reference" / "src" / "minigrad"
SKELETON_PKG = ROOT / "skeleton" / "src" / "minigrad"
FAST = dataclasses.replace(RUBRIC, limits=Limits(request_seconds=2.0, submission_seconds=60))

ADD_LINE = 'out = Value(self.data + other.data, (self, other), "+")'
MUL_LINE = 'out = Value(self.data * other.data, (self, other), "*")'
AFTER_IMPORTS = 'Operand = Union["Value", int, float]\n'


# ---------------------------------------------------------------- helpers
def copy_package(tmp_path: Path, name: str, source: Path = REFERENCE_PKG) -> Path:
    """A submission folder ``tmp_path/name`` holding a copy of ``source`` as src/minigrad."""
    shutil.copytree(
        source, tmp_path / name / "src" / "minigrad", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path / name


def patch(folder: Path, old: str, new: str, file: str = "scalar.py") -> None:
    path = folder / "src" / "minigrad" / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the patch must match exactly once in {file}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def patched_reference(tmp_path: Path, name: str, old: str, new: str) -> Submission:
    folder = copy_package(tmp_path, name)
    patch(folder, old, new)
    return Submission(name, folder)


def before_add(code: str) -> tuple[str, str]:
    """A patch that runs ``code`` at the start of every ``a + b`` (inside __add__)."""
    return ADD_LINE, code.replace("\n", "\n        ") + "\n        " + ADD_LINE


def at_import(code: str) -> tuple[str, str]:
    """A patch that runs ``code`` when scalar.py is imported (after its own imports)."""
    return AFTER_IMPORTS, AFTER_IMPORTS + code + "\n"


def status_of(graded: Graded) -> dict[str, str]:
    return {o.id: o.status for o in graded.outcomes}


def outcome_summary(graded: Graded, cid: str) -> str:
    return next(o.summary for o in graded.outcomes if o.id == cid)


def assert_survived(graded: Graded) -> None:
    """Graded normally: every check has an outcome, none is the grader's own error."""
    assert graded.status == "graded"
    assert len(graded.outcomes) == len(RUBRIC.items)
    assert GRADER_ERROR not in status_of(graded).values(), [
        (o.id, o.summary) for o in graded.outcomes if o.status == GRADER_ERROR
    ]


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting to be reaped is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def read_pids(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


@pytest.fixture
def pid_file() -> Iterator[Path]:
    """Where a hostile submission records the pids it spawns; anything left is killed.

    Not under the temp dir or the repository: the sandbox hides both from the child.
    """
    folder = Path(tempfile.mkdtemp(prefix="minigrad-pids-", dir="/var/tmp"))
    path = folder / "spawned.pids"
    yield path
    for pid in read_pids(path):
        if alive(pid) and _ours(pid):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


def _ours(pid: int) -> bool:
    """The pid still runs what the submission spawned (not a recycled pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return argv[:2] == [b"sleep", b"600"] or any(a.endswith(b"worker.py") for a in argv)


# ---------------------------------------------------------------- (a) a hang
def test_endless_loop_in_add_is_stopped_and_other_checks_still_run(tmp_path: Path) -> None:
    sub = patched_reference(tmp_path, "hang", *before_add("while True:\n    pass"))
    start = time.monotonic()
    graded = run_checks(sub, rubric=FAST)
    assert time.monotonic() - start < 30
    assert_survived(graded)
    status = status_of(graded)
    assert status["ops.add"] == FAILED
    summary = outcome_summary(graded, "ops.add")
    assert "did not answer" in summary and "stopped" in summary
    assert any("did not answer" in note for note in graded.notes)
    for cid in ("ops.mul", "ops.sub", "ops.div", "ops.tanh", "conv.identity"):
        assert status[cid] == PASSED, cid
    assert 0 < graded.score < graded.max_score


# ---------------------------------------------------------------- (b) (c) broken imports
IMPORT_BREAKERS = {
    "missing_module": at_import("import minigrad_helpers_that_do_not_exist"),
    "raises_import_error": at_import('raise ImportError("the engine refuses to load")'),
}


@pytest.mark.parametrize("case", sorted(IMPORT_BREAKERS))
def test_import_error_scores_zero_with_a_note_and_a_report(tmp_path: Path, case: str) -> None:
    folder = copy_package(tmp_path, case)
    patch(folder, *IMPORT_BREAKERS[case])
    out = tmp_path / "out"
    assert cli.main([str(folder), "--out", str(out)]) == 0
    results = json.loads((out / case / "results.json").read_text())
    assert results["score"] == 0
    report = (out / case / "report.md").read_text()
    assert "minigrad/scalar.py does not import" in report
    assert ("ModuleNotFoundError" if case == "missing_module" else "ImportError") in report
    assert (out / case / "junit.xml").exists()

    graded = run_checks(Submission(case, folder), labs={"lab01"})
    assert graded.score == 0
    assert any("scalar.py does not import" in note for note in graded.notes)


def test_syntax_error_scores_zero_with_a_note(tmp_path: Path) -> None:
    sub = patched_reference(
        tmp_path,
        "syntax",
        "def __add__(self, other: Operand) -> Value:",
        "def __add__(self, other) -> Value",
    )
    graded = run_checks(sub)
    assert_survived(graded)
    assert graded.score == 0
    assert any("scalar.py does not import: SyntaxError" in note for note in graded.notes)


# ---------------------------------------------------------------- (d) exits
def test_sys_exit_at_import_scores_zero(tmp_path: Path) -> None:
    sub = patched_reference(tmp_path, "sys_exit", *at_import("import sys\nsys.exit(3)"))
    graded = run_checks(sub)
    assert_survived(graded)
    assert graded.score == 0
    assert any("does not import: SystemExit: 3" in note for note in graded.notes)


def test_os_exit_in_mul_fails_mul_only(tmp_path: Path) -> None:
    sub = patched_reference(
        tmp_path, "os_exit", MUL_LINE, '__import__("os")._exit(1)\n        ' + MUL_LINE
    )
    graded = run_checks(sub, rubric=FAST)
    assert_survived(graded)
    status = status_of(graded)
    assert status["ops.mul"] == FAILED
    assert "exited with status 1" in outcome_summary(graded, "ops.mul")
    for cid in (
        "ops.add",
        "ops.sub",
        "ops.neg",
        "ops.div",
        "ops.pow",
        "ops.exp",
        "ops.log",
        "ops.tanh",
    ):
        assert status[cid] == PASSED, cid
    assert graded.lab_score("lab01")[0] > 0
    assert 0 < graded.score < graded.max_score


# ---------------------------------------------------------------- (e) a huge print
@pytest.mark.parametrize("where", ["in_add", "at_import"])
def test_huge_print_is_stopped_at_the_output_cap(tmp_path: Path, where: str) -> None:
    code = 'print("x" * 10**8)'
    sub = patched_reference(
        tmp_path, where, *(before_add(code) if where == "in_add" else at_import(code))
    )
    graded = run_checks(sub, rubric=FAST)
    assert_survived(graded)
    cap = "printed more than 1024 KB of output and was stopped"
    assert any(cap in note for note in graded.notes), graded.notes
    assert len(graded.output_tail) <= 1500
    status = status_of(graded)
    if where == "in_add":
        assert status["ops.add"] == FAILED and cap in outcome_summary(graded, "ops.add")
        assert status["ops.mul"] == PASSED
        assert 0 < graded.score < graded.max_score
    else:
        assert graded.score == 0


# ---------------------------------------------------------------- (f) a memory hog
def test_memory_hog_gets_memory_error_and_grading_goes_on(tmp_path: Path) -> None:
    sub = patched_reference(tmp_path, "memory", *before_add("bytearray(8 * 1024**3)"))
    graded = run_checks(sub, rubric=FAST)
    assert_survived(graded)
    status = status_of(graded)
    assert status["ops.add"] == FAILED
    assert "MemoryError" in outcome_summary(graded, "ops.add")
    assert status["ops.mul"] == PASSED
    assert 0 < graded.score < graded.max_score


# ---------------------------------------------------------------- (g) a rigged test setup
FORCE_PASS_HOOK = """\
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
"""


def test_conftest_that_forces_passes_is_never_run(tmp_path: Path) -> None:
    folder = copy_package(tmp_path, "rigged", SKELETON_PKG)
    (folder / "conftest.py").write_text(FORCE_PASS_HOOK)
    (folder / "tests").mkdir()
    (folder / "tests" / "conftest.py").write_text(FORCE_PASS_HOOK)
    (folder / "tests" / "test_everything.py").write_text("def test_ok():\n    assert False\n")
    (folder / "src" / "minigrad" / "conftest.py").write_text(FORCE_PASS_HOOK)
    (folder / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\ntestpaths = ["tests"]\n'
        "[tool.ruff]\nexclude = ['*']\n[tool.mypy]\nignore_errors = true\n"
    )
    graded = run_checks(Submission("rigged", folder))
    assert_survived(graded)
    assert graded.score == 0
    assert all(graded.lab_score(lab)[0] == 0 for lab in RUBRIC.labs)


# ---------------------------------------------------------------- (h) a float equal to anything
LIAR_ENGINE = '''\
"""An engine whose numbers claim to equal anything: every op returns Liar(0.0)."""

from __future__ import annotations


class Liar(float):
    __eq__ = lambda s, o: True  # noqa: E731
    __ne__ = lambda s, o: False  # noqa: E731
    __lt__ = lambda s, o: True  # noqa: E731
    __gt__ = lambda s, o: True  # noqa: E731
    __hash__ = float.__hash__


NUMBER = Liar


def _noop():
    pass


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = NUMBER(data)
        self.grad = NUMBER(0.0)
        self._prev = tuple(_children)
        self._op = _op
        self._backward = _noop

    def _wrong(self, other, op):
        other = other if isinstance(other, Value) else Value(other)
        return Value(NUMBER(0.0), (self, other), op)

    def __add__(self, other):
        return self._wrong(other, "+")

    def __sub__(self, other):
        return self._wrong(other, "-")

    def __mul__(self, other):
        return self._wrong(other, "*")

    def __truediv__(self, other):
        return self._wrong(other, "/")

    def __pow__(self, n):
        return Value(NUMBER(0.0), (self,), "**")

    def __neg__(self):
        return Value(NUMBER(0.0), (self,), "neg")

    __radd__ = __add__
    __rsub__ = __sub__
    __rmul__ = __mul__
    __rtruediv__ = __truediv__

    def exp(self):
        return Value(NUMBER(0.0), (self,), "exp")

    log = relu = tanh = exp

    def backward(self):
        self.grad = NUMBER(0.0)
'''


def test_float_subclass_that_equals_everything_earns_only_what_its_numbers_earn(
    tmp_path: Path,
) -> None:
    liar = copy_package(tmp_path, "liar", SKELETON_PKG)
    (liar / "src" / "minigrad" / "scalar.py").write_text(LIAR_ENGINE)
    honest = copy_package(tmp_path, "honest_zero", SKELETON_PKG)
    (honest / "src" / "minigrad" / "scalar.py").write_text(
        LIAR_ENGINE.replace("NUMBER = Liar", "NUMBER = float")
    )

    lied = run_checks(Submission("liar", liar))
    plain = run_checks(Submission("honest_zero", honest))
    assert_survived(lied)
    assert_survived(plain)
    # The lie buys nothing: the same wrong numbers as plain floats earn exactly the same.
    assert status_of(lied) == status_of(plain)
    assert lied.score == plain.score
    assert lied.score <= 0.05 * lied.max_score
    for cid in ("ops.add", "ops.mul", "ops.tanh", "ops.reflected", "conv.zero_pow_zero"):
        assert status_of(lied)[cid] == FAILED, cid


# ---------------------------------------------------------------- (i) a torch / numpy engine
def test_torch_backed_engine_does_not_import(tmp_path: Path) -> None:
    sub = patched_reference(tmp_path, "torch_engine", *at_import("import torch"))
    graded = run_checks(sub, labs={"lab01"})
    assert graded.score == 0
    assert status_of(graded)["lab01.imports"] != PASSED
    assert any("torch" in note and "does not import" in note for note in graded.notes), graded.notes


def test_numpy_tried_at_run_time_loses_the_imports_point(tmp_path: Path) -> None:
    code = 'try:\n    np = __import__("numpy")\nexcept ImportError:\n    np = None'
    sub = patched_reference(tmp_path, "numpy_try", *at_import(code))
    graded = run_checks(sub, labs={"lab01"})
    status = status_of(graded)
    assert status["lab01.imports"] == FAILED
    got = next(o.got for o in graded.outcomes if o.id == "lab01.imports")
    assert "tried to import numpy" in got
    assert all(s == PASSED for cid, s in status.items() if cid != "lab01.imports")
    assert graded.lab_score("lab01") == (35.0, 36.0)


# ---------------------------------------------------------------- (j) processes left behind
def spawn_once(code: str) -> tuple[str, str]:
    """Run ``code`` on the first ``a + b`` of each student process only."""
    guarded = (
        'if not globals().get("_SPAWNED"):\n    globals()["_SPAWNED"] = True\n    '
        + code.replace("\n", "\n    ")
    )
    return before_add(guarded)


def spawners(pid_file: Path) -> dict[str, str]:
    record = f'open("{pid_file}", "a").write(f"{{_pid}}\\n")'
    popen = '_pid = __import__("subprocess").Popen(["sleep", "600"]{}).pid\n'
    fork = (
        '_pid = __import__("os").fork()\n'
        "if _pid == 0:\n"
        '    __import__("time").sleep(600)\n'
        '    __import__("os")._exit(0)\n'
    )
    return {
        "popen": popen.format("") + record,
        "fork": fork + record,
        "popen_new_session": popen.format(", start_new_session=True") + record,
    }


@pytest.mark.parametrize("how", ["popen", "fork", "popen_new_session"])
def test_no_process_is_left_behind(tmp_path: Path, pid_file: Path, how: str) -> None:
    sub = patched_reference(tmp_path, how, *spawn_once(spawners(pid_file)[how]))
    graded = run_checks(sub, rubric=FAST)
    assert_survived(graded)
    spawned = read_pids(pid_file)
    assert spawned, "the submission should have spawned a process"
    assert graded.lab_score("lab01") == (36.0, 36.0)
    deadline = time.monotonic() + 2
    while any(alive(pid) for pid in spawned) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in spawned if alive(pid)]
    assert left == [], f"processes left running after grading: {left}"


# ---------------------------------------------------------------- (k) fake replies on fd 1
def test_fake_reply_on_stdout_does_not_break_grading(tmp_path: Path) -> None:
    sub = patched_reference(
        tmp_path,
        "fake_reply",
        *at_import('__import__("os").write(1, b\'{"id": 1, "ok": true}\\n\')'),
    )
    graded = run_checks(sub)
    assert_survived(graded)
    assert graded.score == graded.max_score == 100
    assert '{"id": 1, "ok": true}' in graded.output_tail


FORGE_REPLIES = """\
for _fd in range(3, 12):
    try:
        __import__("os").write(_fd, b'{"id": 2, "ok": true, "reads": {}, "error": null}\\n')
    except OSError:
        pass"""


def test_forged_replies_on_every_descriptor_earn_nothing(tmp_path: Path) -> None:
    """Writing reply-shaped lines on the real reply pipe is caught or earns nothing."""
    sub = patched_reference(tmp_path, "forger", *at_import(FORGE_REPLIES))
    graded = run_checks(sub, rubric=FAST)
    assert_survived(graded)
    assert graded.score == 0
    assert any("wrote over the grader's reply channel" in note for note in graded.notes), (
        graded.notes
    )


# ---------------------------------------------------------------- (l) a batch of them
BATCH = {
    "a_import_error": at_import("import minigrad_helpers_that_do_not_exist"),
    "b_os_exit": (MUL_LINE, '__import__("os")._exit(1)\n        ' + MUL_LINE),
    "c_huge_print": before_add('print("x" * 10**8)'),
    "d_memory_hog": before_add("bytearray(8 * 1024**3)"),
    "e_torch": at_import("import torch"),
}


def test_batch_of_hostile_submissions_completes(tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    for name, (old, new) in BATCH.items():
        patch(copy_package(batch, name), old, new)
    syntax = copy_package(batch, "f_syntax_error")
    patch(
        syntax, "def __add__(self, other: Operand) -> Value:", "def __add__(self, other) -> Value"
    )
    copy_package(batch, "z_reference")
    out = tmp_path / "out"

    assert cli.main([str(batch), "--out", str(out), "--jobs", "2"]) == 0

    names = sorted([*BATCH, "f_syntax_error", "z_reference"])
    for name in names:
        for report in ("results.json", "report.md", "junit.xml"):
            assert (out / name / report).is_file(), f"{name}/{report} missing"
    with (out / "grades.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["name"] for row in rows) == names
    by_name = {row["name"]: row for row in rows}
    assert by_name["z_reference"]["total"] == "100"
    assert all(row["note"] == "" for row in rows)  # graded: a score, no reason for a blank
    for name in ("a_import_error", "e_torch", "f_syntax_error"):
        assert by_name[name]["total"] == "0", name
    for name in ("b_os_exit", "c_huge_print", "d_memory_hog"):
        assert 0 < float(by_name[name]["total"]) < 100, name
    assert "printed more than 1024 KB" in (out / "c_huge_print" / "report.md").read_text()


def _namespaces_allowed() -> bool:
    """Whether this machine lets a process unshare its network and mount namespaces
    (root, or unprivileged user namespaces): where it does not, the grader runs
    without them and says so in every report."""
    import subprocess
    import sys

    probe = "import ctypes, sys; sys.exit(ctypes.CDLL(None).unshare(0x40000000 | 0x00020000))"
    return subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


NAMESPACES = pytest.mark.skipif(
    not _namespaces_allowed(), reason="this machine refuses network/mount namespaces"
)


# ---------------------------------------------------------------- (m) no network
@NAMESPACES
def test_student_code_has_no_network(tmp_path: Path) -> None:
    import socket

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    code = (
        "import socket as _s\n"
        "try:\n"
        f"    _s.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'leak')\n"
        "except OSError:\n"
        "    pass\n"
    )
    sub = patched_reference(tmp_path, "phones_home", *at_import(code))
    graded = run_checks(sub)
    assert_survived(graded)
    # It earns what it honestly earns: every op works (the import of socket costs it
    # the imports and quality points only).
    lost = {o.id for o in graded.outcomes if o.status != PASSED and o.max_score > 0}
    assert lost == {"lab01.imports", "lab02.quality"}
    with pytest.raises(TimeoutError):
        server.accept()  # nobody connected: the child had no network
    server.close()


# ---------------------------------------------------------------- (n) no peeking at files
@NAMESPACES
def test_student_code_cannot_read_the_reference_or_other_submissions(tmp_path: Path) -> None:
    import tempfile

    reference = ROOT / "reference" / "src" / "minigrad" / "scalar.py"
    neighbour = Path(tempfile.gettempdir()) / "minigrad-neighbour-submission.py"
    neighbour.write_text("x = 1\n")
    code = (
        f"for _path in ({str(reference)!r}, {str(neighbour)!r}):\n"
        "    try:\n"
        "        open(_path).read()\n"
        "    except OSError:\n"
        "        continue\n"
        "    raise RuntimeError('could read ' + _path)\n"
    )
    try:
        sub = patched_reference(tmp_path, "peeker", *at_import(code))
        graded = run_checks(sub)
    finally:
        neighbour.unlink()
    assert_survived(graded)
    # Nothing was readable, so nothing sabotaged itself: only the style of the probe
    # code itself may cost the quality points.
    lost = {o.id for o in graded.outcomes if o.status != PASSED and o.max_score > 0}
    assert lost <= {"lab02.quality"}, (lost, graded.notes)
    assert not any("could see the file system" in note for note in graded.notes)
