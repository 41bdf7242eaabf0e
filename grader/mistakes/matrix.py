"""The kill matrix: grade every catalog variant and record which checks catch it.

    python -m grader.mistakes.matrix [--jobs N]     (what `nox -s mutants` runs)

Prints the matrix (variant x check: X = the check failed), once per base (the
reference, one node per op, and the composed base), then the verdicts the self-tests
enforce: every variant loses points in its lab and keeps full points in the labs
before it; every check with points catches at least one variant; the headline names
the variant's mistake and explains at least as many points as any single failed check.
"""

from __future__ import annotations

import argparse
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from grader.discover import Submission
from grader.mistakes import BASES, ONE_NODE, VARIANTS, Variant, materialize
from grader.results import costliest
from grader.rubric import RUBRIC
from grader.score import FAILED, PASSED, run_checks

# Checks that cannot catch a planted bug, and why.
EXEMPT = {"ops.construct": "given code worth 0 points: a root other checks depend on"}
# Extra-credit checks grade the student's own tests, not the engine: they are exempt.


@dataclass(frozen=True)
class Row:
    """One variant's grading, reduced to what the matrix needs."""

    variant: Variant
    status: dict[str, str]
    lab_scores: dict[str, tuple[float, float]]
    diagnosis: str | None
    base: str = ONE_NODE
    explained: float = 0.0  # the points the headline explains
    worst: float = 0.0  # the most points a single failed check loses


def grade_variant(variant: Variant, base: str = ONE_NODE) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        sub = materialize(variant, Path(tmp) / variant.id, base=base)
        graded = run_checks(Submission(variant.id, sub), labs=set(RUBRIC.labs) - {"bonus"})
    return Row(
        variant,
        {o.id: o.status for o in graded.outcomes},
        {lab: graded.lab_score(lab) for lab in graded.labs},
        graded.diagnosis["code"] if graded.diagnosis else None,
        base,
        costliest(graded.outcomes)[1],
        max((o.lost for o in graded.outcomes if o.status == FAILED), default=0.0),
    )


def compute(jobs: int = 2, bases: tuple[str, ...] = tuple(BASES)) -> list[Row]:
    """Grade every variant planted in every base (rows grouped by base)."""
    pairs = [(v, b) for b in bases for v in VARIANTS]
    if jobs <= 1:
        return [grade_variant(v, b) for v, b in pairs]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        return list(pool.map(grade_variant, *zip(*pairs, strict=True)))


def problems(rows: list[Row]) -> list[str]:
    """Everything the mutation self-test fails on (empty when the catalog is covered)."""
    found = []
    labs = list(RUBRIC.labs)
    for row in rows:
        v = row.variant
        lab = v.lab_in(row.base)
        score, top = row.lab_scores[lab]
        where = v.id if row.base == ONE_NODE else f"{v.id} (in the {row.base} base)"
        if v.check and row.status.get(v.check) != FAILED:
            found.append(f"variant {where} passes {v.check}, the check it plants a bug in")
        elif not v.check and score >= top:
            found.append(f"variant {where} keeps full points in {lab}: no check catches it")
        for before in labs[: labs.index(lab)]:
            kept, lab_top = row.lab_scores[before]
            if kept < lab_top:
                lost = [
                    c
                    for c, s in row.status.items()
                    if RUBRIC.items[c].lab == before and s != PASSED
                ]
                found.append(f"variant {where} ({lab}) also costs {before} points: {lost}")
        if row.diagnosis != v.mistake:
            found.append(f"variant {where} is diagnosed as {row.diagnosis}, not {v.mistake}")
        if row.explained < row.worst:
            found.append(
                f"variant {where}: the headline explains {row.explained:g} points, "
                f"less than one failed check loses ({row.worst:g})"
            )
    for cid, item in RUBRIC.items.items():
        if cid in EXEMPT or item.points == 0 or item.extra_credit:
            continue
        if not any(row.status.get(cid) == FAILED for row in rows):
            found.append(f"check {cid} catches no variant: add a variant it catches, or drop it")
    return found


def render(rows: list[Row]) -> str:
    checks = list(RUBRIC.items)
    width = max(len(r.variant.id) for r in rows)
    lines = [
        f"kill matrix: {len(rows)} variants x {len(checks)} checks (X failed, . passed, - not run;"
        " * planted in the composed base)"
    ]
    numbers = [f"{i + 1:02d}" for i in range(len(checks))]  # columns, see the legend
    lines.append(" " * (width + 8) + "".join(n[0] for n in numbers))
    lines.append(" " * (width + 8) + "".join(n[1] for n in numbers))
    marks = {FAILED: "X", PASSED: ".", "not_run": "-"}
    for r in rows:
        cells = "".join(marks.get(r.status.get(c, ""), " ") for c in checks)
        base = "" if r.base == ONE_NODE else "*"
        lines.append(f"{r.variant.id + base:<{width + 1}}{r.variant.lab_in(r.base)}  {cells}")
    kills = {c: sum(r.status.get(c) == FAILED for r in rows) for c in checks}
    unique = [
        c
        for c in checks
        if any(
            r.status.get(c) == FAILED and sum(s == FAILED for s in r.status.values()) == 1
            for r in rows
        )
    ]
    right = sum(r.diagnosis == r.variant.mistake for r in rows)
    lines += ["", "columns:"]
    lines += [f"  {n} {c} (catches {kills[c]})" for n, c in zip(numbers, checks, strict=True)]
    lines += [
        "",
        f"variants caught: {sum(any(s == FAILED for s in r.status.values()) for r in rows)}"
        f" / {len(rows)}",
        f"diagnosis accuracy: {right} / {len(rows)}",
        f"checks that catch at least one variant: {sum(k > 0 for k in kills.values())}"
        f" / {len(checks)}; sole catcher of some variant: {len(unique)}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.mistakes.matrix")
    parser.add_argument("--jobs", type=int, default=2)
    rows = compute(parser.parse_args().jobs)
    print(render(rows))
    found = problems(rows)
    for problem in found:
        print(f"PROBLEM: {problem}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
