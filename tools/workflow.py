"""The GitHub Actions workflow of the student repository, as data, rendered to YAML.

The tests read the rendered file back as ``WORKFLOW_STEPS`` and run every ``run``
command (or what the nox session it names runs).
"""

from __future__ import annotations

import re

WORKFLOW_PATH = ".github/workflows/grade.yml"

# The workflow, as data: rendered to YAML by ``render_workflow`` and read back by the
# tests, which run every ``run`` command (or what the nox session it names runs).
# The grader exits 0 whatever the score, 1 when it could not grade, 2 on a usage
# error: so a red job means "grading could not run", never "points were lost".
# Actions are pinned to their current majors (checked 2026-11: checkout v7,
# setup-python v7, cache v6, upload-artifact v7; Classroom's reporter v1).
LABS_ONLINE = "${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/blob/${GITHUB_SHA}/labs/"
WORKFLOW_STEPS: list[dict[str, str | dict[str, str]]] = [
    {"uses": "actions/checkout@v7"},
    {"uses": "actions/setup-python@v7", "with": {"python-version": "3.11"}},
    {
        "name": "Cache the grading environment",
        "uses": "actions/cache@v6",
        "with": {
            "path": ".nox\n~/.cache/pip",
            "key": "grade-${{ runner.os }}-py3.11-${{ hashFiles('requirements/*.txt', "
            "'noxfile.py') }}",
        },
    },
    {"name": "Install nox", "run": "python -m pip install nox"},
    {"name": "Grade the public checks", "run": "nox -s check -- --out reports"},
    {
        "name": "Explain a red job",
        "if": "failure()",
        "run": 'echo "::error::grading could not run (lost points never fail this job)"',
    },
    {
        # The report's links to the lab statements, made absolute for the summary page.
        "name": "Write the report into the job summary",
        "if": "always()",
        "run": f'sed "s#](../_labs/#]({LABS_ONLINE}#g" reports/*/report.md '
        '>> "$GITHUB_STEP_SUMMARY"',
    },
    {
        "name": "Count the points for GitHub Classroom",
        "id": "minigrad",
        "if": "always()",
        "run": 'python -m grader.classroom reports >> "$GITHUB_OUTPUT"',
    },
    {
        "name": "Report the points to GitHub Classroom",
        "if": "always()",
        "uses": "classroom-resources/autograding-grading-reporter@v1",
        "env": {"MINIGRAD_RESULTS": "${{ steps.minigrad.outputs.result }}"},
        "with": {"runners": "minigrad"},
    },
    {
        "name": "Upload the reports",
        "if": "always()",
        "uses": "actions/upload-artifact@v7",
        "with": {
            "name": "grading-report",
            "path": "reports/**/results.json\nreports/**/report.md\nreports/**/report.html\n"
            "reports/**/junit.xml\nreports/_labs/",
            "if-no-files-found": "warn",
        },
    },
]


_PLAIN = re.compile(r"[A-Za-z][\w ./@()*=-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as that string: plain when safe."""
    if _PLAIN.fullmatch(value) and not value.endswith(" ") and value.lower() not in _YAML_WORDS:
        return value
    return "'" + value.replace("'", "''") + "'"


def render_workflow(steps: list[dict[str, str | dict[str, str]]] = WORKFLOW_STEPS) -> str:
    lines = [
        "# Grades every push with the PUBLIC checks (what `nox -s check` runs locally) and",
        "# writes the report into the job summary; the reports are uploaded as artifacts,",
        "# and the points of the public checks are reported to GitHub Classroom.",
        "# Losing points never fails this job: a red job means grading could not run.",
        "# Your grade is computed by your instructor with every check, from their copy",
        "# of the grader: editing this file, grader/ or tests/ cannot change it.",
        "name: grade",
        "",
        "on:",
        "  push:",
        "  workflow_dispatch:",
        "",
        "permissions:",
        "  contents: read",
        "  # Classroom's reporter writes the points as a check run annotation",
        "  checks: write",
        "  actions: read",
        "",
        "jobs:",
        "  grade:",
        "    runs-on: ubuntu-latest",
        "    timeout-minutes: 30",
        "    env:",
        "      # the CPU build of the pinned torch (PyPI's Linux wheel pulls GBs of CUDA)",
        "      PIP_EXTRA_INDEX_URL: https://download.pytorch.org/whl/cpu",
        "    steps:",
    ]
    for step in steps:
        prefix = "      - "
        for key, value in step.items():
            if isinstance(value, dict):
                lines.append(f"{prefix}{key}:")
                for sub, text in value.items():
                    if "\n" in text:
                        lines.append(f"          {sub}: |")
                        lines += [f"            {part}" for part in text.splitlines()]
                    else:
                        lines.append(f"          {sub}: {_yaml_scalar(text)}")
            else:
                lines.append(f"{prefix}{key}: {_yaml_scalar(value)}")
            prefix = "        "
    return "\n".join(lines) + "\n"
