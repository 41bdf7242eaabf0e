"""A batch runs like a build system: workers forked from a preloaded server, --jobs
defaulting to the number of CPUs, one plain progress line per submission on stderr."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader import cli

ROOT = Path(__file__).resolve().parent.parent


def test_jobs_default_to_the_number_of_cpus() -> None:
    assert cli.parse([]).jobs == (os.cpu_count() or 1)


def test_a_batch_prints_one_plain_progress_line_per_submission_with_an_eta(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "batch"
    for name in ("ada", "bob", "cy"):
        source = ROOT / ("skeleton" if name == "cy" else "reference") / "src"
        shutil.copytree(source, batch / name / "src")
    out = tmp_path / "out"
    assert cli.main([str(batch), "--out", str(out), "--jobs", "2", "--lab", "lab01"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in lines] == ["[1/3", "[2/3", "[3/3"]
    assert all("s left]" in line and "elapsed" in line for line in lines)
    assert "\x1b" not in captured.err and "\r" not in captured.err
    assert {line.split()[1].rstrip(":") for line in lines} == {"ada", "bob", "cy"}
    assert "[1/3]" not in captured.out  # stdout: the table and the summary only
    for name in ("ada", "bob", "cy"):
        assert (out / name / "results.json").is_file()
