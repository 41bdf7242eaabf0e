"""The stopwatch that charges student code for the time it used (grader/clock.py)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from grader import clock

# Reads a line, then computes for about that many seconds of CPU, then says so.
SPIN = """
import sys, time
for line in sys.stdin:
    end = time.process_time() + float(line)
    while time.process_time() < end:
        pass
    print("done", flush=True)
"""


def test_a_request_starts_where_the_last_ended_and_walks_the_tree_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each start after the first reuses the last sample; a process that waits between
    requests is charged nothing for the wait, and each request its own computing."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {SPIN!r}])",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdin is not None and parent.stdout is not None
    try:
        deadline = time.monotonic() + 30
        while not clock.leaves(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        watch = clock.Stopwatch(parent.pid)
        samples: list[float] = []
        real = clock.Stopwatch._sample

        def counted(self: clock.Stopwatch, born_after: float | None) -> None:
            samples.append(time.monotonic())
            real(self, born_after)

        monkeypatch.setattr(clock.Stopwatch, "_sample", counted)
        used = []
        for seconds in (0.3, 0.0, 0.3):
            watch.start()
            parent.stdin.write(f"{seconds}\n")
            parent.stdin.flush()
            assert parent.stdout.readline() == "done\n"
            used.append(watch.used())
            time.sleep(0.3)  # the grader's own work between requests: not charged
        assert len(samples) == 3  # one walk per request: its end
        assert 0.25 <= used[0] < 0.6 and used[1] < 0.1 and 0.25 <= used[2] < 0.6, used
    finally:
        below = clock.leaves(parent.pid)
        parent.stdin.close()  # the spinning child reads its end: it ends too
        parent.kill()
        parent.wait()
        for pid in below:
            subprocess.run(["kill", "-9", str(pid)], check=False, capture_output=True)
