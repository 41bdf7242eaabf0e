"""One submission's path from its folder to its written reports, stage by stage.

    find      grader/discover.py      the folder, its layout (the batch: cli.main)
              grader/collect.py       what collect recorded for it (commit, time)
    copy      grader/sandbox.py       the package and its tests copied, nothing followed
    confine   grader/child/           the copy runs confined, as another user
    check     grader/score.py         every check of the rubric, in dependency order
    diagnose  grader/diagnose.py      the classic mistake behind each failure
    cap       grader/results.py       student text escaped and capped
    late      grader/late.py          the late policy, from the collected time
    render    grader/report.py        report.md, results.json, report.html
    record    grader/classbook.py     the class record (the batch: cli.main, once)

``grade_one`` walks them top to bottom; each stage is one call into one module, and no
stage calls back into an earlier one. The sandbox (copy, confine), the checks and the
diagnosis share one ``score.run_checks`` call: they run inside one sandbox.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from grader import collect, i18n, late
from grader.discover import Submission
from grader.i18n import _
from grader.integrity import Tampered, changes, fingerprint
from grader.report import write_all
from grader.results import Graded, cap_graded
from grader.rubric import RUBRIC
from grader.score import invalid, run_checks


def grade_one(
    submission: Submission, out_dir: Path, labs: set[str] | None, public: bool = False
) -> Graded:
    """Grade and write reports for one submission. Raises only ``Tampered``: the
    grader's own files changed while this submission was graded."""
    before = fingerprint()
    with i18n.language(submission.lang or RUBRIC.language):
        graded = _stages(submission, out_dir, labs, public)
    changed = changes(before, fingerprint())
    if changed:
        raise Tampered(
            f"the grader's files changed while grading {submission.name} (or a submission "
            f"graded at the same time): {', '.join(changed[:5])}"
        )
    return graded


def _stages(
    submission: Submission, out_dir: Path, labs: set[str] | None, public: bool = False
) -> Graded:
    record = collected(submission)
    if submission.problem or (record and record.get("problem")):
        problem = str((record or {}).get("problem") or submission.problem)
        graded = invalid(submission, problem, labs=labs, public=public)
    else:
        try:
            graded = run_checks(submission, labs=labs, public=public)
        except Exception as exc:  # a bug of ours: say so, never a silent student zero
            graded = _grader_error(submission, _("the grader crashed"), exc, labs, public)
    graded = cap_graded(graded)  # student text: escaped and capped before any report
    try:
        late.apply(graded, RUBRIC.late, record)
    except Exception as exc:  # a bug of ours: the grade stands, the report says so
        graded.notes.append(
            _("(grader) the late penalty could not be computed: {error}").format(error=exc)
        )
    try:
        write_all(graded, out_dir)
    except Exception as exc:  # a report writer bug: keep the batch going, say so plainly
        graded = _grader_error(
            submission, _("the grader could not write this report"), exc, labs, public
        )
        write_all(graded, out_dir)
    return graded


def _grader_error(
    submission: Submission, what: str, exc: Exception, labs: set[str] | None, public: bool
) -> Graded:
    """A report saying the grader itself failed (never the student's zero)."""
    detail = traceback.format_exception_only(exc)[-1].strip()
    return invalid(submission, f"{what}: {detail}", labs=labs, status="grader_error", public=public)


def collected(submission: Submission) -> dict[str, object] | None:
    """What ``collect`` recorded for this submission, if it was collected."""
    try:
        return collect.record_for(submission.path)
    except OSError:
        return None
