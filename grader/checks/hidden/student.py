"""Bonus: the student's own tests, graded by the classic mistakes they would catch."""

from __future__ import annotations

from functools import partial

from grader.checks.base import Context, Fail, NotRun, check
from grader.classic import MISTAKES
from grader.discover import test_files
from grader.mistakes import VARIANTS as ALL
from grader.mistakes import behavioural, materialize
from grader.student_tests import grade_tests

VARIANTS = behavioural(ALL)
PLANTED = [(v.id, partial(materialize, v)) for v in VARIANTS]


@check("tests.catch_mistakes")
def catch_mistakes(ctx: Context) -> None:
    if not test_files(ctx.submission):
        raise NotRun("no tests/test_*.py in your submission: write tests to earn this bonus")
    box = ctx.sandbox
    verdict = grade_tests(ctx.submission, box.limits, PLANTED, box.tests)
    mistake_of = {v.id: v.mistake for v in VARIANTS}
    missed = sorted({mistake_of[v] for v in verdict.missed})
    share = len(verdict.caught) / len(VARIANTS)
    if verdict.wrong or verdict.missed:
        lines = [
            f"- your test {t} fails on a correct engine: the test is wrong" for t in verdict.wrong
        ]
        lines += [f"- not caught: {MISTAKES[code].explain} (`{code}`)" for code in missed]
        lines += [
            f"- your test {t} was not counted: the grader's sandbox refuses what it does "
            "(such as starting a program)"
            for t in verdict.refused
        ]
        if verdict.unrun:
            lines.append(
                f"- {len(verdict.unrun)} planted mistake(s) were not tried: your tests used "
                f"up their {box.limits.tests_seconds:g} s (of CPU) on the engines before them "
                "(faster tests reach them all)"
            )
        raise Fail(
            f"your tests catch {len(verdict.caught)} of {len(VARIANTS)} planted mistakes"
            + (f"; {len(verdict.wrong)} test(s) fail on a correct engine" if verdict.wrong else ""),
            expected=f"all pass on a correct engine; each of {len(VARIANTS)} buggy ones fails",
            got="\n".join(lines),
            partial=share,
            observed={
                "caught": len(verdict.caught),
                "wrong": verdict.wrong,
                "missed": missed,
                "refused": verdict.refused,
            },
        )
