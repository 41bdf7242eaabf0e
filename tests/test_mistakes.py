"""The catalog of classic mistakes: every variant is caught in its lab, diagnosed as its
mistake, and every check earns its place by catching at least one variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import cli
from grader.mistakes import (
    BASES,
    MISTAKES,
    ONE_NODE,
    VARIANTS,
    CatalogError,
    Edit,
    Variant,
    materialize,
    patched,
)
from grader.mistakes.matrix import Row, compute, problems, render
from grader.score import FAILED

COURSE_MISTAKES = {  # the 18 "Classic mistakes" the course lists, by catalog code
    "assign-not-accumulate",
    "missing-upstream",
    "wrong-operand",
    "reflected-order",
    "relu-grad-at-zero",
    "tanh-from-input",
    "exp-from-input",
    "value-exponent",
    "log-clamp",
    "no-seed",
    "forward-order",
    "late-closure",
    "eq-hash-override",
    "recursive-topo",
    "bias-missing",
    "zero-grad-noop",
    "repeated-neuron",
    "zero-init",
}


# The first test that needs the kill matrix grades 96 engines, two at a time: a few
# minutes on a quiet 2-core machine, more on a busy one (the default timeout is 300 s).
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return compute(jobs=2)


def test_catalog_covers_the_course() -> None:
    assert len(VARIANTS) >= 20
    assert len({v.id for v in VARIANTS}) == len(VARIANTS)
    assert {v.mistake for v in VARIANTS} >= COURSE_MISTAKES
    assert {m for m in MISTAKES if MISTAKES[m].course} >= COURSE_MISTAKES
    assert {v.mistake for v in VARIANTS} == set(MISTAKES)  # no mistake without a variant


def test_every_patch_applies_exactly_once_in_every_base() -> None:
    assert set(BASES) == {ONE_NODE, "composed"}
    for base in BASES:
        for variant in VARIANTS:
            assert patched(variant, base=base) != ""


def _variant(old: str, new: str = "x", vid: str = "stale") -> Variant:
    edits = (Edit("scalar.py", old, new),)
    return Variant(vid, "log-clamp", "lab01", {base: edits for base in BASES})


def test_a_stale_patch_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="matches 0 times"):
        materialize(_variant("text not in the reference"), tmp_path / "stale")


def test_the_kill_matrix_has_no_problems(rows: list[Row]) -> None:
    assert problems(rows) == []
    text = render(rows)
    assert f"variants caught: {len(rows)} / {len(rows)}" in text
    assert len(rows) == len(VARIANTS) * len(BASES)


@pytest.mark.parametrize("base", list(BASES))
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_variant_is_caught_in_its_lab_and_diagnosed(
    rows: list[Row], variant: Variant, base: str
) -> None:
    row = next(r for r in rows if r.variant.id == variant.id and r.base == base)
    score, top = row.lab_scores[variant.lab_in(base)]
    if variant.check:  # an extension worth 0 points by default: its check must fail
        assert row.status[variant.check] == FAILED
    else:
        assert score < top
    assert any(s == FAILED for s in row.status.values())
    assert row.diagnosis == variant.mistake


def test_problems_reports_an_uncaught_variant_and_a_useless_check(rows: list[Row]) -> None:
    # A variant that changes nothing, and a matrix in which one check never fails.
    harmless = _variant("x", "x", "harmless")
    reference_row = Row(
        harmless,
        {c: "passed" for c in rows[0].status},
        {lab: (top, top) for lab, (_, top) in rows[0].lab_scores.items()},
        None,
    )
    found = problems([*rows, reference_row])
    assert any("harmless keeps full points" in p for p in found)
    without_relu = [r for r in rows if r.status.get("conv.relu_at_zero") != FAILED]
    assert any("conv.relu_at_zero catches no variant" in p for p in problems(without_relu))


def test_report_names_the_mistake_at_the_top(tmp_path: Path) -> None:
    variant = next(v for v in VARIANTS if v.id == "bug-mul-assign-not-accumulate")
    sub = materialize(variant, tmp_path / "student")
    assert cli.main([str(sub), "--out", str(tmp_path / "out"), "--lab", "lab02"]) == 0
    report = (tmp_path / "out" / "student" / "report.md").read_text()
    head = "\n".join(report.splitlines()[:6])
    assert "**Most likely mistake:**" in head
    assert MISTAKES["assign-not-accumulate"].explain in head


def test_each_lab_statement_lists_its_classic_mistakes() -> None:
    root = Path(__file__).resolve().parent.parent / "labs"
    for code, mistake in MISTAKES.items():
        (statement,) = root.glob(f"{mistake.lab}-*.md")
        text = statement.read_text()
        box = text.split("## Classic mistakes", 1)[1].split("\n## ", 1)[0]
        assert f"`{code}`" in box, f"{statement.name} lacks {code} in its Classic mistakes box"
        section = mistake.reread.split("#", 1)
        target = root / section[0]
        anchor = section[1].replace("-", " ")
        headings = [
            h[3:].strip().lower() for h in target.read_text().splitlines() if h.startswith("## ")
        ]
        assert any(h.replace("-", " ").replace(",", "") == anchor for h in headings), mistake.reread
