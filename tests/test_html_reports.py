"""HTML reports: the per-submission page and the class view are self-contained, escape
everything the student controls, and carry the same numbers as the Markdown reports."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from grader.classview import class_stats, index_html, summary_md, write_class_view
from grader.discover import Submission
from grader.render import kit
from grader.render.graph import graph_drawing, graph_text
from grader.render.histogram import histogram
from grader.render.html import report_html, write_html
from grader.score import FAILED, NOT_RUN, PASSED, Graded, Outcome, run_checks

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
LABS = {"lab01": "Lab 1: the ten ops", "lab02": "Lab 2: the backward pass"}

# c = a * b with a.grad wrong: expected -3, the student's code gave 0.
GRAPH: list[dict[str, Any]] = [
    {"name": "a", "op": "", "data": 2.0, "prev": [], "expected_grad": -3.0, "got_grad": 0.0},
    {"name": "b", "op": "", "data": -3.0, "prev": [], "expected_grad": 2.0, "got_grad": 2.0},
    {"name": "c", "op": "mul", "data": -6.0, "prev": [0, 1], "expected_grad": 1.0, "got_grad": 1.0},
]


def outcome(cid: str, lab: str, status: str, points: float, **extra: Any) -> Outcome:
    return Outcome(
        id=cid,
        lab=lab,
        name=f"check {cid}",
        status=status,
        score=points if status == PASSED else 0.0,
        max_score=points,
        visibility="visible",
        **extra,
    )


def graded(name: str, outcomes: list[Outcome], **extra: Any) -> Graded:
    return Graded(
        name=name,
        path=f"/submissions/{name}",
        status="graded",
        problem="",
        outcomes=outcomes,
        labs=LABS,
        seconds=1.0,
        **extra,
    )


def diagnose(o: Outcome, code: str, explanation: str) -> Outcome:
    reread = "lab02-backward.md#chain"
    setattr(o, "diagnosis", {"code": code, "explanation": explanation, "reread": reread})  # noqa: B010
    return o


@pytest.fixture
def hostile() -> Graded:
    """2 / 5 in lab01 (one pass, one fail), 0 / 4 in lab02 (not run); student text is HTML."""
    failed = outcome(
        "ops.mul",
        "lab01",
        FAILED,
        3,
        summary=f"your code raised ValueError: {HOSTILE}",
        expected="a.grad = -3.0",
        got=f"a.grad = 0.0 {HOSTILE}",
        counterexample="from minigrad.scalar import Value\n\nc = a * b  # a < b & b > a",
        hint="Each parent gets the other parent's data times out.grad.",
        reread="lab01-ops.md#the-ten-ops",
        observed={"graph": GRAPH},
    )
    diagnose(failed, "forgot_chain_rule", "the local gradient is not multiplied by out.grad")
    return graded(
        "alice",
        [
            outcome("ops.add", "lab01", PASSED, 2),
            failed,
            outcome(
                "graph.seed",
                "lab02",
                NOT_RUN,
                4,
                summary="not run because 'check ops.mul' (ops.mul) it did not pass",
                blocked_by="ops.mul",
            ),
        ],
        notes=[f"your code printed {HOSTILE}"],
        output_tail=f"debug {HOSTILE}\nlast line\n",
    )


@pytest.fixture
def no_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("grader.render.graph.shutil.which", lambda name: None)


# ------------------------------------------------------------------ the report page


def test_page_escapes_student_text_and_has_no_script(hostile: Graded) -> None:
    page = report_html(hostile)
    assert "<script" not in page.lower()
    assert f"your code raised ValueError: {ESCAPED}" in page
    assert f"debug {ESCAPED}\nlast line</pre>" in page
    assert f"<li>your code printed {ESCAPED}</li>" in page
    assert "c = a * b  # a &lt; b &amp; b &gt; a" in page


@pytest.mark.parametrize("dot", [False, True], ids=["text-tree", "dot"])
def test_page_references_nothing_on_the_network(
    hostile: Graded, dot: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if dot and shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed")
    if not dot:
        monkeypatch.setattr("grader.render.graph.shutil.which", lambda name: None)
    page = report_html(hostile)
    assert ("<svg" in page) is dot
    assert "http://" not in page
    assert "https://" not in page
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_page_has_the_totals_and_per_lab_scores(hostile: Graded) -> None:
    page = report_html(hostile)
    assert '<div class="total low">Score 2 / 9</div>' in page
    assert '<td>Lab 1: the ten ops</td><td class="num">2 / 5</td><td class="num">1 / 2</td>' in page
    assert '<td class="num">0 / 4</td><td class="num">0 / 1</td>' in page


def test_page_shows_every_lost_point_and_the_not_run_list(hostile: Graded) -> None:
    page = report_html(hostile)
    assert "<h2>Points lost</h2>" in page
    assert "<dt>expected</dt><dd>a.grad = -3.0</dd>" in page
    assert f"<dt>got</dt><dd>a.grad = 0.0 {ESCAPED}</dd>" in page
    assert "Each parent gets the other parent&#x27;s data times out.grad." in page
    assert '<a href="../_labs/lab01-ops.md#the-ten-ops">' in page
    assert (
        "<strong>Likely mistake:</strong> the local gradient is not multiplied by out.grad "
        "(<code>forgot_chain_rule</code>)</p>" in page
    )
    assert (
        "<strong>Most likely mistake:</strong> the local gradient is not multiplied by out.grad "
        '(<code>forgot_chain_rule</code>; reread <a href="../_labs/lab02-backward.md#chain">'
        in page
    )
    assert "<h2>Not run yet</h2>" in page
    assert "waits for <code>ops.mul</code>" in page
    assert page.count('class="badge passed"') == 1
    assert page.count('class="badge failed"') == 2  # in "Points lost" and "All checks"
    assert page.count('class="badge not_run"') == 1
    assert "Every check passed" not in page


def test_page_without_diagnosis_attribute_or_failures() -> None:
    ok = graded("bob", [outcome("ops.add", "lab01", PASSED, 2)])
    assert getattr(ok.outcomes[0], "diagnosis", None) is None  # works before and after the field
    page = report_html(ok)
    assert '<div class="total full">Score 2 / 2</div>' in page
    assert "Every check passed." in page
    assert "Points lost" not in page and "Likely mistake" not in page


def test_write_html_writes_report_html(hostile: Graded, tmp_path: Path) -> None:
    path = write_html(hostile, tmp_path / "alice")
    assert path == tmp_path / "alice" / "report.html"
    assert path.read_text(encoding="utf-8") == report_html(hostile)


# ------------------------------------------------------------------ graph drawing


@pytest.mark.usefixtures("no_dot")
def test_graph_falls_back_to_a_text_tree_without_dot() -> None:
    drawing = graph_drawing(GRAPH)
    assert "<svg" not in drawing
    assert '<pre class="graph-text">' in drawing
    tree = graph_text(GRAPH).splitlines()
    assert tree[0].startswith("c = mul(…)")  # the output on top, its inputs below
    assert tree[1].startswith("    └── a (leaf)") and tree[2].startswith("    └── b (leaf)")
    assert "grad expected -3, got 0" in tree[1] and "WRONG" in tree[1]
    assert "grad expected 2, got 2" in tree[2] and "WRONG" not in tree[2]
    assert "grad expected 1, got 1" in tree[0]
    for line in tree:
        assert kit.esc(line) in drawing


@pytest.mark.usefixtures("no_dot")
def test_graph_text_escapes_and_survives_malformed_nodes() -> None:
    nodes: list[Any] = [
        {"name": "x", "op": HOSTILE, "data": 1.0, "prev": [1, 7, "z"], "expected_grad": 1.0},
        {"name": "y", "op": "add", "data": 2.0, "prev": [0]},  # a cycle back to x
        "not a node",
    ]
    drawing = graph_drawing(nodes)
    assert "<script" not in drawing
    assert "&lt;script&gt;" in drawing
    text = graph_text(nodes)
    assert "(cycle)" in text
    assert "#2 (leaf)" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_graph_renders_as_inline_svg_with_dot() -> None:
    drawing = graph_drawing(GRAPH)
    assert "<svg" in drawing and "<pre" not in drawing
    assert "<?xml" not in drawing and "DOCTYPE" not in drawing
    assert "http://" not in drawing
    shown = html.unescape(drawing)  # graphviz writes "-" as "&#45;"
    for text in ("c = mul", "grad expected -3", "grad got 0", "grad expected 2", "grad got 2"):
        assert f">{text}</text>" in shown
    assert drawing.count("#cf222e") >= 1  # the wrong node is outlined in red
    hostile_nodes = [{**GRAPH[0], "op": HOSTILE}]
    assert "<script" not in graph_drawing(hostile_nodes)


# ------------------------------------------------------------------ class view


def test_histogram_bins() -> None:
    scores = [0, 9.5, 10, 55, 89.99, 99.9, 100, 100]
    assert histogram(scores, 100) == [2, 1, 0, 0, 0, 1, 0, 0, 1, 3]
    assert histogram([-5, 120], 100, bins=4) == [1, 0, 0, 1]  # clamped into the end bins
    assert histogram([7.2, 36], 36, bins=10) == [0, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    assert histogram([], 100) == [0] * 10
    assert histogram([0, 0], 0, bins=3) == [2, 0, 0]


def class_of_three() -> list[Graded]:
    """add: 3 of 3 pass; mul: 2 of 3; seed: 1 of 3 (1 failed, 1 not run). Totals 9, 5, 2."""

    def student(name: str, mul: str, seed: str) -> Graded:
        outcomes = [
            outcome("ops.add", "lab01", PASSED, 2),
            outcome("ops.mul", "lab01", mul, 3),
            outcome("graph.seed", "lab02", seed, 4),
        ]
        for o in outcomes[1:]:
            if o.status == FAILED:
                diagnose(o, "forgot_accumulate", "used = instead of +=")
        return graded(name, outcomes)

    return [
        student("carol", PASSED, PASSED),
        student("alice", PASSED, FAILED),
        student("bob <b>", FAILED, NOT_RUN),
    ]


def test_pass_rates_are_sorted_ascending() -> None:
    stats = class_stats(class_of_three())
    assert [c.id for c in stats.checks] == ["graph.seed", "ops.mul", "ops.add"]
    rates = [c.pass_rate for c in stats.checks]
    assert rates == sorted(rates)
    assert rates == pytest.approx([100 / 3, 200 / 3, 100.0])
    seed = stats.checks[0]
    assert (seed.failed, seed.not_run) == (1, 1)
    assert [(d.code, d.count, len(d.students)) for d in stats.diagnoses] == [
        ("forgot_accumulate", 2, 2)
    ]


def test_statistics_count_graded_submissions_and_pass_rates_those_that_tried() -> None:
    """Not gradable submissions are left out of every number; a check's pass rate counts
    only the graded submissions that attempted its lab."""
    nothing = graded(
        "dan",
        [
            outcome("ops.add", "lab01", NOT_RUN, 2),
            outcome("ops.mul", "lab01", NOT_RUN, 3),
            outcome("graph.seed", "lab02", NOT_RUN, 4),
        ],
    )
    nothing.status = "invalid"
    # bob did not touch lab02: his "not run" graph.seed is not a failure of the check
    stats = class_stats([*class_of_three(), nothing], attempted={"bob <b>": ["lab01"]})
    seed = next(c for c in stats.checks if c.id == "graph.seed")
    assert (seed.total, seed.passed, seed.failed, seed.not_run) == (2, 1, 1, 0)
    assert seed.pass_rate == 50
    add = next(c for c in stats.checks if c.id == "ops.add")
    assert (add.total, add.pass_rate) == (3, 100)
    assert (stats.count, stats.counted, stats.invalid, stats.not_graded) == (4, 3, 1, 1)
    assert stats.mean == pytest.approx(16 / 3) and sum(stats.bins) == 3
    summary = summary_md(sorted([*class_of_three(), nothing], key=lambda g: g.name), stats)
    assert "4 submission(s): 3 graded, 1 not graded (1 not gradable)." in summary
    assert "over the 3 graded submission(s); those not graded are left out" in summary


def test_class_view_pages(tmp_path: Path) -> None:
    results = class_of_three()
    write_class_view(results, tmp_path)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    for name, href in [("alice", "alice"), ("carol", "carol"), ("bob &lt;b&gt;", "bob%20%3Cb%3E")]:
        assert f'<a href="{href}/report.html">{name}</a>' in index
        assert f'href="{href}/report.md"' in index
        assert f"]({href}/report.md)" in summary
    assert "<b>" not in index and "<script" not in index
    assert "http://" not in index and "https://" not in index
    # hardest check first, in both pages
    assert index.index("<code>graph.seed</code>") < index.index("<code>ops.mul</code>")
    assert index.index("<code>ops.mul</code>") < index.index("<code>ops.add</code>")
    assert summary.index("`graph.seed`") < summary.index("`ops.mul`") < summary.index("`ops.add`")
    assert "| 33% | 3 | 1 | 1 |" in summary and "| 67% | 3 | 1 | 0 |" in summary
    # mean (9 + 5 + 2) / 3 = 5.3, median 5, min 2, max 9, out of 9, none not graded
    assert "| 3 | 5.3 | 5 | 2 | 9 | 9 | 0 |" in summary
    assert '<td class="num">5.3</td>' in index
    assert index.count("<rect ") == 10  # one bar per bin
    assert "<code>forgot_accumulate</code>" in index
    assert "| `forgot_accumulate` | 2 | 2 |" in summary


def test_class_view_leaves_grader_errors_out_of_the_numbers(tmp_path: Path) -> None:
    broken = graded("dave", [outcome("ops.add", "lab01", PASSED, 2)])
    broken.status = "grader_error"
    write_class_view([*class_of_three(), broken], tmp_path)
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "4 submission(s): 3 graded, 1 not graded (1 with a grader error)." in summary
    assert "| 3 | 5.3 | 5 | 2 | 9 | 9 | 1 |" in summary  # the three graded; one not
    assert (
        "| [dave](dave/report.md) ([html](dave/report.html)) | 2 / 2 |  "
        "| grader error, regrade: see the report | grader_error |" in summary
    )


def test_the_class_page_leads_with_the_students_then_the_checks_they_fail() -> None:
    results = class_of_three()
    for g in results:  # the unattempted extra credit fails for everyone: never "hardest"
        g.outcomes.append(outcome("student.tests", "bonus", NOT_RUN, 0))
    results[1].late = {"deadline": "d", "committed": "c", "days": 2, "percent": 20, "points": 1}
    stats = class_stats(results)
    assert [c.id for c in stats.hardest] == ["graph.seed", "ops.mul"]
    index = index_html(sorted(results, key=lambda g: g.name), stats)
    summary = summary_md(sorted(results, key=lambda g: g.name), stats)
    for page in (index, summary):
        students = page.index("Students")
        hardest = page.index("Checks the class fails most")
        assert students < hardest < page.index("Most frequent mistakes")
        assert page.index("Score distribution") > hardest
        assert "student.tests" not in page[hardest : page.index("Most frequent mistakes")]
    # alice: 5 points less 20% = 4, two days late, her headline mistake
    assert (
        "| [alice](alice/report.md) ([html](alice/report.html)) | 4 / 9 | 2 d late, -20% "
        "| used = instead of += | graded |" in summary
    )
    assert "<td>2 d late, -20%</td><td>used = instead of +=</td>" in index
    assert "| [carol](carol/report.md) ([html](carol/report.html)) | 9 / 9 |  | every check" in (
        summary
    )


# ------------------------------------------------------------------ end to end


def test_reference_and_skeleton_end_to_end(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "reference" / "src", tmp_path / "ref" / "src")  # engine only
    results = [
        run_checks(Submission("reference", tmp_path / "ref")),
        run_checks(Submission("skeleton", ROOT / "skeleton")),
    ]
    pages = {g.name: write_html(g, tmp_path / g.name) for g in results}
    write_class_view(results, tmp_path)
    assert all(p.is_file() for p in pages.values())
    assert (tmp_path / "index.html").is_file() and (tmp_path / "summary.md").is_file()
    skeleton = pages["skeleton"].read_text(encoding="utf-8")
    assert '<div class="total low">Score 0 / 100</div>' in skeleton
    assert "<h2>Points lost</h2>" in skeleton and "<h2>Not run yet</h2>" in skeleton
    reference = pages["reference"].read_text(encoding="utf-8")
    assert '<div class="total full">Score 100 / 100</div>' in reference
    assert "Every check passed." in reference
    # Both fits drawn: the reference's losses and a correct SGD's from the same start,
    # which for the reference are the same numbers.
    curves = re.findall(r'<svg class="curve".*?</svg>', reference, re.S)
    assert len(curves) == 2 and "<h2>Training</h2>" in reference
    for svg in curves:
        correct, mine = (line.split() for line in re.findall(r'<polyline points="([^"]*)"', svg))
        # the same losses, drawn at the same places, until the correct run reaches the goal
        assert len(correct) > 1 and mine[: len(correct)] == correct
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="reference/report.html"' in index and 'href="skeleton/report.html"' in index
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "| 2 | 50 | 50 | 0 | 100 | 100 | 0 |" in summary
    for text in (skeleton, reference, index):
        assert "<script" not in text and "http://" not in text and "https://" not in text


def test_every_report_says_the_same_headline_the_costliest_even_a_plain_crash() -> None:
    from grader.render.gradescope import results_json
    from grader.render.junit import junit
    from grader.render.markdown import report_md

    # A diagnosed 2-point failure and a 3-point crash with the same message in two checks
    # (one of them waiting on the other): the crash costs 5 points and heads every report.
    crash = {"raised": "ValueError", "message": f"bad {HOSTILE}", "steps": []}
    first = outcome(
        "ops.exp", "lab01", FAILED, 2, summary=f"your code raised ValueError: bad {HOSTILE}"
    )
    first.observed = dict(crash)
    waiting = outcome("ops.log", "lab01", NOT_RUN, 3, blocked_by="ops.exp")
    named = diagnose(outcome("ops.mul", "lab01", FAILED, 2), "wrong-operand", "used a, not b")
    g = graded("eve", [first, waiting, named])
    headline = g.diagnosis
    assert headline is not None and headline["code"] == "ValueError"
    assert "This costs 5 points (`ops.exp`, `ops.log`)" in headline["explanation"]
    said = headline["explanation"]
    assert f"Most likely mistake: {said}" in results_json(g)["output"]
    assert f"**Most likely mistake:** {said} (`ValueError`" in report_md(g)
    page = report_html(g)
    assert f"<strong>Most likely mistake:</strong> {html.escape(said, quote=True)}" in page
    assert HOSTILE not in page
    props = junit(g).find("properties")
    assert props is not None and props[0].get("value") == said


def test_the_loss_curve_draws_both_runs_and_the_goal_and_survives_bad_numbers() -> None:
    from grader.render.curve import loss_curve_svg

    svg = loss_curve_svg(
        {"seed": 1, "goal": 0.5, "losses": [4.0, 2.0, 1.0, 0.4], "correct": [4.0, 1.0, 0.3]}
    )
    assert svg.startswith('<svg class="curve"') and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2 and 'stroke="#cf222e"' in svg  # both runs, the goal
    assert ">1</text>" in svg and "goal: loss &lt; 0.5" in svg  # a decade tick; escaped
    odd = loss_curve_svg(
        {"seed": "<b>", "goal": 0.1, "losses": [float("nan"), float("inf"), "x", 0.0, 2.0]}
    )
    assert "<b>" not in odd and "nan" not in odd and "inf" not in odd
    assert odd.count("<polyline") == 1  # the one run with two numbers to join
