"""Runs a student's own tests against several engines, each in a confined process.

Started by ``grader.student_tests`` as ``python -I -B <folder>/code/grader/test_runner.py
CONFIG`` (site-packages on: it needs pytest), where ``<folder>`` holds ``code/`` (this
file, worker.py, confine.py), ``tests/`` (the student's test files, copied),
``engines/<n>/minigrad`` (the reference or a planted-bug variant) and ``work/<n>``.

This process confines itself like the engine's worker (``worker.enter_confinement``),
imports pytest (grader code only), then for each engine forks a process in new PID and
mount namespaces where that engine's folder appears at ``<run>/engine`` and its scratch
at ``<run>/scratch`` -- the same paths, the same PID, the same file times for every
engine, so a test cannot tell the reference from a planted-bug copy but by behaviour.
That process locks itself down (``confine.lock_down``: the toolchain read-only) and runs
pytest with no conftest, no config file and no cache. Only pass/fail per test id comes
back, validated here and again by the grader; a run that outlives its time is killed.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import tempfile
import time
from typing import Any

MAX_RESULT = 1_000_000  # bytes of pass/fail one engine's run may send back
MAX_TESTS = 2000
FIXED_TIME = 1_600_000_000  # the mtime of every engine file
CONFINE_FAILED = 121


class Collect:
    """A pytest plugin that records whether each test passed (skips count as passed)."""

    def __init__(self) -> None:
        self.passed: dict[str, bool] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        ok = not report.failed
        self.passed[report.nodeid] = self.passed.get(report.nodeid, True) and ok

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:  # a test file that does not even import
            self.passed[report.nodeid or "<collection>"] = False


def _student(
    root: str,
    engine_dir: str,
    scratch: str,
    engine: dict[str, Any],
    config: dict[str, Any],
    out: int,
) -> None:
    """In the forked, confined process: run pytest, write pass/fail on ``out``, exit."""
    import pytest

    from grader import confine
    from grader.worker import set_limits

    os.chdir(scratch)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    base = [p for p in sys.path if os.path.isdir(p) and not p.startswith(root)]
    set_limits({"memory_mb": config["memory_mb"], "output_kb": config["output_kb"]})
    if config["confine"]:
        reads = [*base, engine_dir, os.path.join(root, "tests")]
        confine.lock_down(read=reads, write=[scratch])
    tempfile.tempdir = scratch
    os.environ["TMPDIR"] = scratch
    sys.path[:] = [engine_dir, *base]
    collect = Collect()
    tests = os.path.join(root, "tests")
    args = [
        tests,
        "-q",
        "-p",
        "no:cacheprovider",
        "--noconftest",
        "--import-mode=importlib",
        "-c",
        os.path.join(root, "tests", "pytest.ini"),
        "--rootdir",
        tests,
        "--basetemp",
        os.path.join(scratch, "tmp"),
        "-o",
        "addopts=",
        "-o",
        "python_files=test_*.py",
        "-o",
        f"pythonpath={tests}",  # helper modules beside the tests
        f"--timeout={config['test_seconds']}",
    ]
    if engine.get("stop_at_first_failure"):
        args.append("-x")
    for nodeid in engine.get("deselect", []):
        args += ["--deselect", nodeid]
    try:
        pytest.main(args, plugins=[collect])
    except BaseException:  # a test that calls sys.exit or worse: count what ran
        collect.passed.setdefault("<run>", False)
    os.write(out, json.dumps(collect.passed).encode()[:MAX_RESULT])
    os._exit(0)


def _run_engine(root: str, index: int, engine: dict[str, Any], config: dict[str, Any]) -> Any:
    """Fork the confined run of one engine; its validated pass/fail, or None."""
    from grader import confine

    engine_dir = os.path.join(root, "engines", str(index))
    scratch = os.path.join(root, "work", str(index))
    os.makedirs(scratch)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # never returns: an exception must not run the parent's loop here too
        try:
            os.close(read_end)
            confine.die_with_parent()
            if config["confine"]:
                # New PID and mount namespaces: the engine and its scratch at fixed paths,
                # and the student's process is PID 2 whichever engine it runs.
                # Fresh tmpfs mounts hold a copy of the engine and the scratch: the same
                # inode numbers and times for every engine.
                confine.unshare_pid_and_mount()
                fixed = (os.path.join(root, "engine"), os.path.join(root, "scratch"))
                confine.mount_tmpfs(fixed[0], "16m")
                confine.mount_tmpfs(fixed[1], "64m")
                _copy_engine(engine_dir, fixed[0])
                init = os.fork()
                if init:
                    os.waitpid(init, 0)
                    os._exit(0)
                confine.die_with_parent()
                child = os.fork()
                if child:  # PID 1 of the new namespace: waits, runs no student code
                    os.close(write_end)
                    os.waitpid(child, 0)
                    os._exit(0)
                confine.die_with_parent()
                _student(root, *fixed, engine, config, write_end)
            _student(root, engine_dir, scratch, engine, config, write_end)  # unconfined
        finally:
            os._exit(CONFINE_FAILED)
    os.close(write_end)
    data = _read_all(read_end, config["engine_seconds"])
    os.close(read_end)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    try:
        passed = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(passed, dict) or len(passed) > MAX_TESTS:
        return None
    return {str(k)[:500]: v is True for k, v in passed.items()}


def _copy_engine(source: str, target: str) -> None:
    """Copy ``source/minigrad/*.py`` into ``target/minigrad``, every time the same."""
    package = os.path.join(target, "minigrad")
    os.mkdir(package)
    for name in sorted(os.listdir(os.path.join(source, "minigrad"))):
        with open(os.path.join(source, "minigrad", name), "rb") as f:
            data = f.read()
        with open(os.path.join(package, name), "wb") as f:
            f.write(data)
        os.utime(os.path.join(package, name), (FIXED_TIME, FIXED_TIME))
    os.utime(package, (FIXED_TIME, FIXED_TIME))
    os.utime(target, (FIXED_TIME, FIXED_TIME))


def _read_all(fd: int, seconds: float) -> bytes:
    """Read ``fd`` until EOF, MAX_RESULT bytes or the time is up (then what came)."""
    chunks, size, end = [], 0, time.monotonic() + seconds
    while size <= MAX_RESULT:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def main() -> None:
    config = json.loads(sys.argv[1])
    root = config["folder"]
    if config["confine"]:
        from grader.worker import enter_confinement

        try:
            root = enter_confinement(root)
        except BaseException:
            os._exit(CONFINE_FAILED)  # before "ready": the grader reports its own error
    os.chdir(root)  # the old cwd is hidden in the new mount namespace
    replies = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    import pytest  # grader code: imported once, before any student code

    # Warm up (plugins, hypothesis, assertion rewriting) on a test of ours: every forked
    # run then starts in milliseconds instead of a second.
    warm = os.path.join(root, "work", "warmup")
    os.makedirs(warm)
    with open(os.path.join(warm, "test_warmup.py"), "w") as f:
        f.write("def test_warmup():\n    assert True\n")
    pytest.main([warm, "-q", "-p", "no:cacheprovider", "--noconftest", "--rootdir", warm])

    replies.write(json.dumps({"ready": True}) + "\n")  # pytest is importable
    replies.flush()
    for index, engine in enumerate(config["engines"]):
        passed = _run_engine(root, index, engine, config)
        replies.write(json.dumps({"engine": engine["name"], "passed": passed}) + "\n")
        replies.flush()


if __name__ == "__main__":
    # Started by path with -I: the grader package (worker, confine) is the folder above.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
