"""Run: every check of the rubric on one submission, in dependency order, and score it.

Outcomes are plain data (``Outcome``), ready for the reports. Three kinds of trouble
are kept apart: the student's code failed a check (``failed``), a check could not run
because a check it depends on failed (``not_run``), and the grader itself broke
(``grader_error``, never counted against the student's score in the summary).
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from grader import collect
from grader.checks import REGISTRY, Context, Fail, quality
from grader.checks.base import NotRun
from grader.clock import MachineBusy
from grader.diagnose import diagnose_failures
from grader.discover import PROBLEMS, Submission, translated
from grader.i18n import N_, _
from grader.program import Program
from grader.results import FAILED, GRADER_ERROR, NOT_RUN, PASSED, Graded, Outcome
from grader.rubric import RUBRIC, Rubric
from grader.sandbox import Sandbox, StepSkipped, StudentFault

__all__ = ["FAILED", "GRADER_ERROR", "NOT_RUN", "PASSED", "Graded", "Outcome", "run_checks"]


def selected(rubric: Rubric, labs: set[str] | None, public: bool) -> list[str]:
    """Rubric ids in the chosen labs (and only the visible ones when ``public``)."""
    return [
        cid
        for cid, item in rubric.items.items()
        if (labs is None or item.lab in labs) and (not public or item.visibility == "visible")
    ]


def depends(cid: str, rubric: Rubric, public: bool = False) -> list[str]:
    """Dependencies of a check that this run grades (others count as satisfied).

    A public run never runs or names a hidden check, even as a dependency.
    """
    return [
        d
        for d in REGISTRY[cid].depends
        if d in rubric.items
        and d in REGISTRY
        and (not public or rubric.items[d].visibility == "visible")
    ]


def attempted(cid: str, rubric: Rubric, public: bool = False) -> list[str]:
    """The check's ``any_of`` list, limited like ``depends`` to what this run grades."""
    return [
        d
        for d in REGISTRY[cid].any_of
        if d in rubric.items
        and d in REGISTRY
        and (not public or rubric.items[d].visibility == "visible")
    ]


def _blocked(
    cid: str, outcomes: dict[str, Outcome], rubric: Rubric, public: bool
) -> Outcome | None:
    """Why ``cid`` cannot run (an outcome naming the cause), or None when it can."""
    for dep in depends(cid, rubric, public):
        o = outcomes[dep]
        if o.status in (NOT_RUN, GRADER_ERROR) or (o.status == FAILED and o.blocks):
            if o.status == GRADER_ERROR:
                reason = _("the grader failed on it")
            elif o.status == NOT_RUN:
                reason = _("that check could not run")
            else:
                reason = _("your code raised or stopped there")
            return _outcome(
                cid,
                rubric,
                NOT_RUN,
                summary=_("not run because '{check}' ({id}) did not finish: {reason}").format(
                    check=o.name, id=dep, reason=reason
                ),
                blocked_by=dep,
            )
    first = attempted(cid, rubric, public)
    if first and not any(outcomes[d].status == PASSED for d in first):
        return _outcome(
            cid,
            rubric,
            NOT_RUN,
            summary=_("not run yet: it counts once at least one of the lab's other checks passes"),
        )
    return None


def used(cid: str, rubric: Rubric, public: bool = False) -> list[str]:
    """The checks whose verdicts ``cid`` reads (``uses``, ``rests_on``), limited like
    ``depends``."""
    return [
        d
        for d in dict.fromkeys([*REGISTRY[cid].uses, *REGISTRY[cid].rests_on])
        if d in rubric.items
        and d in REGISTRY
        and (not public or rubric.items[d].visibility == "visible")
    ]


def order(rubric: Rubric, labs: set[str] | None, public: bool = False) -> list[str]:
    """Check ids to run: the selected checks and what they depend on or use, those first."""
    wanted = [cid for cid in selected(rubric, labs, public) if cid in REGISTRY]
    result: list[str] = []
    seen: set[str] = set()

    def visit(cid: str) -> None:
        if cid in seen:
            return
        seen.add(cid)
        for dep in depends(cid, rubric, public) + attempted(cid, rubric, public):
            visit(dep)
        for dep in used(cid, rubric, public):
            visit(dep)
        result.append(cid)

    for cid in wanted:
        visit(cid)
    return result


def _outcome(cid: str, rubric: Rubric, status: str, partial: float = 0.0, **extra: Any) -> Outcome:
    item = rubric.items[cid]
    share = 1.0 if status == PASSED else partial
    return Outcome(
        id=cid,
        lab=item.lab,
        name=_(item.name),
        status=status,
        score=round(item.points * share, 2),
        max_score=0.0 if item.extra_credit else item.points,
        extra_max=item.points if item.extra_credit else 0.0,
        visibility=item.visibility,
        hint="" if status == PASSED else _(item.message),
        reread=item.reread,
        **extra,
    )


def run_checks(
    submission: Submission,
    rubric: Rubric = RUBRIC,
    labs: set[str] | None = None,
    public: bool = False,
) -> Graded:
    """Grade one submission: never raises for anything the student's code does."""
    start = time.monotonic()
    ids = order(rubric, labs, public)
    shown = set(selected(rubric, labs, public))
    outcomes: dict[str, Outcome] = {}
    with Sandbox(submission.path, rubric.limits) as sandbox:
        ctx = Context(sandbox, sandbox.package_dir, submission.path)
        if quality.IDS & set(ids):
            quality.start(ctx)  # ruff and mypy read the copy while the checks run
        notes = list(sandbox.notes)
        notes.extend(_import_notes(sandbox))
        # the quality checks last (nothing depends on them): mypy has had all the other
        # checks' time to finish, in the background
        for cid in sorted(ids, key=lambda c: c in quality.IDS):
            blocked = _blocked(cid, outcomes, rubric, public)
            outcomes[cid] = blocked if blocked is not None else _run_both(cid, ctx, rubric)
            ctx.statuses[cid] = outcomes[cid].status
            curve = ctx.cache.get("curves", {}).pop(cid, None)
            if curve is not None and outcomes[cid].status in (PASSED, FAILED):
                outcomes[cid].observed["curve"] = curve  # the HTML report draws it
            for why in sandbox.stuck.values():  # what hangs now is charged to this check
                ctx.cache.setdefault("stuck_by", {}).setdefault(why, cid)
        if any(o.status == FAILED for o in outcomes.values()):
            # The probes get time of their own: a submission whose checks used up its
            # budget on a busy machine is diagnosed as on a quiet one.
            sandbox.grant(PROBE_SECONDS)
            diagnose_failures(ctx, outcomes)
        quality.stop(ctx)
        tail = sandbox.output_tail()
        notes.extend(dict.fromkeys(sandbox.events))  # whole sentences ("your code ...")
    return Graded(
        name=submission.name,
        path=str(submission.path),
        status="graded",
        problem="",
        outcomes=[outcomes[cid] for cid in ids if cid in shown],
        labs={lab: _(title) for lab, title in rubric.labs.items() if labs is None or lab in labs},
        seconds=time.monotonic() - start,
        notes=notes,
        output_tail=tail,
    )


PROBE_SECONDS = 15.0  # the diagnosis probes' own time, after the checks
# Checks not run again in the reversed set order: those that run no program of their own
# on the engine (quality, extra credit: the order cannot matter), and the training checks
# (hundreds of epochs each: their verdict in the fixed order stands, the same every run).
NOT_TWICE = quality.IDS | {cid for cid in REGISTRY if cid.startswith("train.")}
SET_ORDER = N_(
    "passes or fails with the order in which a set of Values iterates (graded here as "
    "failed, the same on every run)"
)


def _keeps_sets(ctx: Context) -> bool:
    """Whether the engine keeps a node's parents in a set (found once per submission):
    then a result may depend on the order that set iterates in."""
    if "set_parents" not in ctx.cache:
        ctx.cache["set_parents"] = False
        p = Program()
        a = p.const(2.0)
        p.steps.append(["read_node", a])
        try:
            run = ctx.run(p)
        except StudentFault:
            return False
        node = run.reads.get(a + "#node") if run.error is None else None
        kind = node.get("parents_kind") if isinstance(node, dict) else None
        ctx.cache["set_parents"] = kind in ("set", "frozenset")
    return bool(ctx.cache["set_parents"])


def _run_both(cid: str, ctx: Context, rubric: Rubric) -> Outcome:
    """Run a check; for an engine that keeps its parents in sets, run it again with every
    set of Values iterating the other way. A check whose verdict depends on that order
    fails, on every run, and says why (the grader fixes the order in both runs)."""
    first = _run_one(cid, ctx, rubric)
    if (
        cid in NOT_TWICE
        or rubric.items[cid].extra_credit  # the students' own tests: no program of ours
        or first.status not in (PASSED, FAILED)
        or first.observed.get("fault")
        or not _keeps_sets(ctx)
    ):
        return first
    ctx.order = "reversed"
    try:
        second = _run_one(cid, ctx, rubric)
    finally:
        ctx.order = ""
    if second.status not in (PASSED, FAILED) or second.observed.get("fault"):
        return first  # a hang or the time budget: nothing learnt about the order
    if second.status == first.status and (first.status == PASSED or _said(first) == _said(second)):
        return first
    failed = first if first.status == FAILED else second
    failed.summary = f"{failed.summary} ({_(SET_ORDER)})" if failed.summary else _(SET_ORDER)
    failed.observed["set_order"] = True
    return failed


def _said(o: Outcome) -> tuple[str, str]:
    """What a failure says went wrong (not the numbers it got: a sum taken in another
    order may differ in its last digits)."""
    return o.summary, o.expected


def _run_one(cid: str, ctx: Context, rubric: Rubric) -> Outcome:
    t0 = time.monotonic()
    ctx.forget_runs()
    try:
        REGISTRY[cid].func(ctx)
    except NotRun as none:
        return _outcome(
            cid,
            rubric,
            NOT_RUN,
            summary=none.summary,
            blocked_by=none.blocked_by,
            seconds=time.monotonic() - t0,
        )
    except Fail as fail:
        example = fail.counterexample
        if example is None and ctx.last_run is not None:  # the program the check judged
            example = ctx.last_run.python()
        return _outcome(
            cid,
            rubric,
            FAILED,
            partial=fail.partial,
            summary=fail.summary,
            expected=fail.expected,
            got=fail.got,
            counterexample=example,
            observed=fail.observed,
            blocks=fail.blocking,
            seconds=time.monotonic() - t0,
        )
    except StepSkipped as skipped:  # needs a step the student's code already hung in
        why = skipped.why
        return _outcome(
            cid,
            rubric,
            NOT_RUN,
            summary=str(skipped),
            blocked_by=ctx.cache.get("stuck_by", {}).get(why),  # the check that hung there
            seconds=time.monotonic() - t0,
        )
    except StudentFault as fault:  # a hang, a crash, the time budget used up, ...
        return _outcome(
            cid,
            rubric,
            FAILED,
            summary=str(fault),
            blocks=True,
            observed={"fault": True},
            seconds=time.monotonic() - t0,
        )
    except MachineBusy as busy:  # a grader error: never the student's timeout
        return _outcome(cid, rubric, GRADER_ERROR, summary=str(busy), seconds=time.monotonic() - t0)
    except Exception:
        return _outcome(
            cid,
            rubric,
            GRADER_ERROR,
            summary=_("the grader itself failed on this check (not your fault): {error}").format(
                error=traceback.format_exc(limit=3).strip().splitlines()[-1]
            ),
            observed={"traceback": traceback.format_exc(limit=6)},
            seconds=time.monotonic() - t0,
        )
    return _outcome(cid, rubric, PASSED, seconds=time.monotonic() - t0)


def _import_notes(sandbox: Sandbox) -> list[str]:
    """One line per module of the submission that does not import."""
    try:
        reply = sandbox.request({"kind": "hello"})
    except StudentFault as fault:
        return [_("importing your package failed: {fault}").format(fault=fault)]
    notes = []
    if not reply.get("hidden"):
        notes.append(_("(grader) your code could see the file system: no mount namespace here"))
    if reply.get("network_isolated") is False:
        notes.append(
            _(
                "(grader) your code ran with network access: this machine refused a network "
                "namespace"
            )
        )
    modules = reply.get("modules")
    if isinstance(modules, dict):
        # One note per error: a module that imports a broken one fails with its error.
        failing: dict[str, list[str]] = {}
        for name, error in modules.items():
            if isinstance(error, dict):
                what = f"{error.get('type')}: {error.get('message')}"
                failing.setdefault(what, []).append(f"minigrad/{name}.py")
        for what, names in failing.items():
            if names[1:]:
                notes.append(
                    _("{file} does not import: {error} (nor, with the same error, {files})").format(
                        file=names[0], error=what, files=", ".join(names[1:])
                    )
                )
            else:
                notes.append(_("{file} does not import: {error}").format(file=names[0], error=what))
            if what.split(":")[0] in SYNTAX_ERRORS:
                notes.append(
                    _(
                        "the grader runs Python 3.11: syntax that is new in 3.12 or later "
                        "(`type X = ...`, `def f[T](...)`, the same quotes nested in an "
                        "f-string) does not parse here"
                    )
                )
    return notes


SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")


def invalid(
    submission: Submission,
    problem: str,
    rubric: Rubric = RUBRIC,
    labs: set[str] | None = None,
    status: str = "invalid",
    public: bool = False,
) -> Graded:
    """A report for a submission that could not be graded at all (score 0 or error)."""
    ids = selected(rubric, labs, public)
    if status == "invalid":  # written in English when found: the student's language here
        problem = translated(problem, (*PROBLEMS, *collect.PROBLEMS))
    outcomes = [
        _outcome(cid, rubric, NOT_RUN if status == "invalid" else GRADER_ERROR, summary=problem)
        for cid in ids
    ]
    return Graded(
        name=submission.name,
        path=str(submission.path),
        status=status,
        problem=problem,
        outcomes=outcomes,
        labs={lab: t for lab, t in rubric.labs.items() if labs is None or lab in labs},
        seconds=0.0,
    )
