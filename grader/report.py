"""Report: write what a grading run found, for students, CI viewers and gradebooks.

Per submission, one report model (grader.render.model) is built and rendered to
``results.json`` (Gradescope's autograder schema), ``report.md`` (what a student reads
first), ``report.html`` (the same as one page) and ``junit.xml`` (for CI test viewers).
The class files are grader/classbook.py's and grader/classview.py's. Links to the lab
statements are relative (``results.LABS``): ``write_labs`` copies the statements next
to the reports, so the links work wherever the reports are written.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

from grader.render.gradescope import results_json
from grader.render.html import write_html
from grader.render.junit import junit
from grader.render.markdown import report_md
from grader.render.model import build
from grader.results import Graded

ROOT = Path(__file__).resolve().parent.parent


def write_labs(out_dir: Path, source: Path = ROOT / "labs") -> None:
    """Copy the lab statements, with their translations (``labs/es/``), to
    ``out_dir/_labs/`` (the reports' reread links, in the report's language)."""
    if not source.is_dir():
        return
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.is_symlink():
            target = out_dir / "_labs" / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())


def write_all(graded: Graded, out_dir: Path) -> Path:
    """Write the per-submission reports into ``out_dir/<name>/``; return that dir."""
    folder = out_dir / graded.name
    folder.mkdir(parents=True, exist_ok=True)
    model = build(graded)
    (folder / "results.json").write_text(json.dumps(results_json(model), indent=2) + "\n")
    (folder / "report.md").write_text(report_md(model))
    write_html(model, folder)
    ET.ElementTree(junit(model)).write(folder / "junit.xml", encoding="utf-8", xml_declaration=True)
    return folder
