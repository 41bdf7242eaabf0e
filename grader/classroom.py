"""GitHub Classroom: a graded submission's points in the form Classroom's reporter reads.

    python -m grader.classroom REPORTS_DIR >> "$GITHUB_OUTPUT"

prints ``result=<base64 JSON>``: the output that ``classroom-resources/
autograding-grading-reporter`` reads from ``<RUNNER>_RESULTS`` (here ``MINIGRAD_RESULTS``)
and reports to Classroom as "Points <sum of the tests' scores>/<max_score>". The JSON is
what Classroom's own graders write: ``{"version": 1, "status", "max_score", "tests":
[{"name", "status", "score", "message", ...}]}``, one test per check, from the
``results.json`` of the (only) submission in REPORTS_DIR.

The top-level status is ``pass`` whenever the submission was graded, whatever it scored
(the reporter fails the job on ``fail``, and losing points must never fail it), and
``error`` when it could not be graded or the grader failed on a check: results.json's
``extra_data.status`` says which, in any report language.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any


def _graded(results: dict[str, Any]) -> bool:
    """Whether the submission was graded: ``extra_data.status`` (the effective status,
    whatever language the text is in); a results.json from before that field existed
    is read by its English score line."""
    extra = results.get("extra_data")
    status = extra.get("status") if isinstance(extra, dict) else None
    if isinstance(status, str) and status:
        return status == "graded"
    return not str(results.get("output", "")).startswith(("Not graded", "Grader error"))


def classroom_results(results: dict[str, Any]) -> dict[str, Any]:
    """Classroom's runner results for one Gradescope-style ``results.json``."""
    tests = [
        {
            "name": str(t["name"]),
            "status": "pass" if t["status"] == "passed" else "fail",
            "score": t["score"],
            "message": "" if t["status"] == "passed" else str(t.get("output", "")),
            "test_code": "",
            "filename": "",
            "line_no": 0,
            "duration": 0,
        }
        for t in results.get("tests", [])
    ]
    graded = _graded(results)
    return {
        "version": 1,
        "status": "pass" if graded else "error",
        "max_score": sum(t["max_score"] for t in results.get("tests", [])),
        "tests": tests,
    }


def encode(results: dict[str, Any]) -> str:
    text = json.dumps(classroom_results(results), separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m grader.classroom REPORTS_DIR", file=sys.stderr)
        return 2
    found = sorted(Path(args[0]).glob("*/results.json"))
    if len(found) != 1:
        print(
            f"classroom: expected one */results.json in {args[0]}, found {len(found)}",
            file=sys.stderr,
        )
        return 1
    print("result=" + encode(json.loads(found[0].read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
