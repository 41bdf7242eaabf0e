"""results.json: Gradescope's autograder schema, our own fields in ``extra_data``.

Nothing here depends on timing except ``execution_time``, so the same submission gives
the same file. ``extra_data.status`` is the submission's effective status (``graded``,
``invalid`` or ``grader_error``, see ``results.effective_status``) and
``extra_data.language`` the language its text is written in: tools read those, never
the words. (grader/gradescope.py is the autograder's entry point that writes it.)
"""

from __future__ import annotations

from typing import Any

from grader import i18n
from grader.i18n import _
from grader.render.model import ReportModel, check_output, lab_path, of
from grader.results import PASSED, Graded, effective_status


def results_json(report: ReportModel | Graded) -> dict[str, Any]:
    """Gradescope's results.json for one submission."""
    m = of(report)
    tests = [
        {
            "name": f"{o.lab} {o.id}: {o.name}",
            "number": str(number),
            "score": o.score,
            "max_score": o.max_score,
            "status": "passed" if o.status == PASSED else "failed",
            "output": check_output(o),
            "tags": [o.lab],
            "visibility": o.visibility,
            "extra_data": {
                "lab": o.lab,
                "check_id": o.id,
                "outcome": o.status,
                "blocked_by": o.blocked_by,
                "diagnosis": o.diagnosis,
                "counterexample": o.counterexample,
                "expected": o.expected,
                "got": o.got,
            },
        }
        for number, o in enumerate(m.outcomes, start=1)
    ]
    output = [m.summary]
    # Gradescope shows this line at once: the model's headline names only what a visible
    # check shows (grader.results.headline), the same headline as every other report
    shown = m.likely
    if shown:
        output.append(
            _("Most likely mistake: {explanation}").format(explanation=shown["explanation"])
        )
        if shown.get("reread"):
            output.append(_("Reread {path}").format(path=lab_path(shown["reread"])))
    if m.late:
        output.append(m.late)
    return {
        "score": m.graded.final_score,
        "execution_time": round(m.graded.seconds, 2),
        "output": "\n".join(output),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        # status and language: what tools read (grader/classroom.py), whatever the words
        "extra_data": {
            "commit": m.graded.commit,
            "late": m.graded.late,
            "status": effective_status(m.graded),
            "language": i18n.current(),
        },
        "tests": tests,
    }
