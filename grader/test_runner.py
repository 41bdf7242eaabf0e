"""Runs a student's own tests against several engines, inside a sandboxed child.

Started by ``grader.student_tests`` as ``python -I -B grader/test_runner.py CONFIG``
(site-packages on: it needs pytest). For each engine folder it imports a fresh
``minigrad`` from that folder and runs the student's test files with pytest, with no
conftest, no config file and no cache. It sends back only pass/fail per test id,
never output or messages: a student's test must not become a way to read the
reference or a planted-bug variant.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# The worker's confinement (limits, no network, redirected output) serves here too.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from grader.worker import isolate_network, redirect_stdio, set_limits

del sys.path[0]  # the student's tests see the engine, not the course repository


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


def main() -> None:
    config = json.loads(sys.argv[1])
    isolate_network()  # no network for the student's tests either, where allowed
    set_limits({"memory_mb": config["memory_mb"], "output_kb": config["output_kb"]})
    requests_fd, replies_fd = redirect_stdio()
    os.close(requests_fd)  # the runner takes no requests
    replies = os.fdopen(replies_fd, "w")

    import pytest

    replies.write(json.dumps({"ready": True}) + "\n")  # pytest is importable
    replies.flush()
    base = list(sys.path)
    for engine in config["engines"]:
        for name in [m for m in sys.modules if m == "minigrad" or m.startswith("minigrad.")]:
            del sys.modules[name]
        for name in [m for m in sys.modules if m.startswith(("test_", "tests."))]:
            del sys.modules[name]
        sys.path[:] = [engine["path"], *base]
        collect = Collect()
        args = [
            config["tests"],
            "-q",
            "-p",
            "no:cacheprovider",
            "--noconftest",
            "--import-mode=importlib",
            "-c",
            config["ini"],
            "--rootdir",
            config["root"],
            "-o",
            "addopts=",
            "-o",
            "python_files=test_*.py",
            "-o",
            f"pythonpath={config['tests']}",  # helper modules beside the tests
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
        replies.write(json.dumps({"engine": engine["name"], "passed": collect.passed}) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
