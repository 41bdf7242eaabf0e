"""Bonus: the student's own tests, graded by the classic mistakes they would catch."""

from __future__ import annotations

from functools import partial

from grader.checks.base import Context, Fail, NotRun, check
from grader.classic import MISTAKES
from grader.discover import test_files
from grader.i18n import _
from grader.mistakes import VARIANTS as ALL
from grader.mistakes import behavioural, materialize
from grader.student_tests import grade_tests

VARIANTS = behavioural(ALL)
PLANTED = [(v.id, partial(materialize, v)) for v in VARIANTS]


@check("tests.catch_mistakes")
def catch_mistakes(ctx: Context) -> None:
    if not test_files(ctx.submission):
        raise NotRun(
            _("no {tests} in your submission: write tests to earn this bonus").format(
                tests="tests/test_*.py"
            )
        )
    box = ctx.sandbox
    verdict = grade_tests(ctx.submission, box.limits, PLANTED, box.tests)
    mistake_of = {v.id: v.mistake for v in VARIANTS}
    missed = sorted({mistake_of[v] for v in verdict.missed})
    share = len(verdict.caught) / len(VARIANTS)
    if verdict.wrong or verdict.missed:
        lines = [
            "- " + _("your test {test} fails on a correct engine: the test is wrong").format(test=t)
            for t in verdict.wrong
        ]
        lines += [
            "- "
            + _("not caught: {mistake}").format(mistake=_(MISTAKES[code].explain))
            + f" (`{code}`)"
            for code in missed
        ]
        lines += [
            "- "
            + _(
                "your test {test} was not counted: the grader's sandbox refuses what it does "
                "(such as starting a program)"
            ).format(test=t)
            for t in verdict.refused
        ]
        if verdict.unrun:
            lines.append(
                "- "
                + _(
                    "{n} planted mistake(s) were not tried: your tests used up their {seconds} s "
                    "(of CPU) on the engines before them (faster tests reach them all)"
                ).format(n=len(verdict.unrun), seconds=f"{box.limits.tests_seconds:g}")
            )
        raise Fail(
            (
                _(
                    "your tests catch {caught} of {total} planted mistakes; {wrong} test(s) "
                    "fail on a correct engine"
                )
                if verdict.wrong
                else _("your tests catch {caught} of {total} planted mistakes")
            ).format(caught=len(verdict.caught), total=len(VARIANTS), wrong=len(verdict.wrong)),
            expected=_("all pass on a correct engine; each of {n} buggy ones fails").format(
                n=len(VARIANTS)
            ),
            got="\n".join(lines),
            partial=share,
            observed={
                "caught": len(verdict.caught),
                "wrong": verdict.wrong,
                "missed": missed,
                "refused": verdict.refused,
            },
        )
