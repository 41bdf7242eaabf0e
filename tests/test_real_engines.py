"""Engines written the way students write them are graded on what they compute.

Each engine of tests/engines/ is graded in full; its points per lab and its headline
are pinned. Composed ops, ``_prev`` as a set, parents under any name, a ``backward()``
that applies each op's rule itself, parameters in set order, ReLU networks, closures
stored on the wrong node: only the behaviour the lab asks for is judged, each mistake
costs its own checks, and what is lost is named. An engine that computes nothing earns
nothing; an engine whose result depends on the order a set iterates in gets the same
grade on every run, and is told so.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from grader import cli
from grader.discover import Submission
from grader.results import costliest
from grader.score import Graded, run_checks
from tests.real_engines import NAMES, build

FULL = {"lab01": 36.0, "lab02": 32.0, "lab03": 16.0, "lab04": 12.0, "lab05": 4.0}
NONE = dict.fromkeys(FULL, 0.0)

# engine -> (points per lab, headline: a mistake's code, or for a failure no diagnosis
# names the exception's type or the check's id)
EXPECTED: dict[str, tuple[dict[str, float], str | None]] = {
    # Composed ops and a set of parents cost nothing; what is lost: an AssertionError
    # instead of TypeError for a Value exponent, 0 ** 0's gradient, the recursive
    # topological sort, no type hints (quality), ReLU neurons (nn.forward).
    "micrograd_style": (
        {"lab01": 34.0, "lab02": 27.0, "lab03": 13.0, "lab04": 11.0, "lab05": 4.0},
        "lint-findings",
    ),
    # backward() applies each op's rule by its name (no closures): the ops are judged
    # through it, and everything passes.
    "op_dispatch": (FULL, None),
    # Parents in a list named prevs, -, / and the reflected ops composed: full points;
    # only the 0-point construction check names the difference (the headline, as no
    # point is lost).
    "prevs_list": (FULL, "parents-name"),
    # No exp, log or tanh (like karpathy's micrograd), so ReLU neurons: the three ops
    # and the checks that need them (tanh's convention, the neuron's drawing) are lost,
    # never the graph checks (their graphs leave those ops out); ReLU costs nn.forward
    # and training; no type hints cost quality.
    "no_exp_log_tanh": (
        {"lab01": 28.0, "lab02": 30.0, "lab03": 13.0, "lab04": 6.0, "lab05": 0.0},
        "activation-not-tanh",
    ),
    # Every value 0: nothing earned.
    "constant": (NONE, "ops.add"),
    # backward() unpacks a set of two parents (a real bug: a - b and a / b are right or
    # wrong with the set's order): the same grade every run, diagnosed set-order.
    "set_order": (
        {"lab01": 27.0, "lab02": 30.0, "lab03": 15.0, "lab04": 9.0, "lab05": 4.0},
        "set-order",
    ),
    "composed": (FULL, None),
    "set_prev": (FULL, None),
    "children_naming": ({**FULL, "lab05": 2.0}, "parents-name"),
    "self_backward": ({**FULL, "lab02": 21.0, "lab04": 4.0}, "closure-on-self"),
    "layer_list": ({**FULL, "lab03": 12.0}, "layer-always-list"),
    "relu_neurons": ({**FULL, "lab03": 14.0, "lab04": 4.0}, "activation-not-tanh"),
    "numpy_exp": (NONE, "forbidden-import"),
    # mul returns None: every check that multiplies waits for ops.mul or fails with it;
    # the random graphs and gradcheck, built without mul, still pass.
    "returns_none": (
        {"lab01": 28.0, "lab02": 14.0, "lab03": 0.0, "lab04": 2.0, "lab05": 0.0},
        "op-returns-none",
    ),
}
LABS = set(FULL)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Graded]:
    root = tmp_path_factory.mktemp("engines")
    return {
        name: run_checks(Submission(name, build(name, root / name)), labs=LABS) for name in NAMES
    }


def test_every_engine_is_pinned() -> None:
    assert set(EXPECTED) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_points_per_lab_and_headline(graded: dict[str, Graded], name: str) -> None:
    points, headline = EXPECTED[name]
    result = graded[name]
    assert {lab: result.lab_score(lab)[0] for lab in FULL} == points
    assert (result.diagnosis or {}).get("code") == headline


@pytest.mark.parametrize("name", ["micrograd_style", "self_backward", "returns_none", "set_order"])
def test_each_diagnosis_stands_next_to_the_checks_it_explains(
    graded: dict[str, Graded], name: str
) -> None:
    _, headline = EXPECTED[name]
    explained = [o for o in graded[name].outcomes if o.diagnosis]
    assert explained
    assert any(o.diagnosis and o.diagnosis["code"] == headline for o in explained)
    assert all(o.status == "failed" for o in explained)


def test_a_naming_slip_names_the_expected_attribute(graded: dict[str, Graded]) -> None:
    construct = next(o for o in graded["children_naming"].outcomes if o.id == "ops.construct")
    assert "`_prev`" in construct.summary and "`_children`" in construct.summary


def _scores(out: Path) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for results in sorted(out.glob("*/results.json")):
        data = json.loads(results.read_text())
        found[results.parent.name] = [data["score"], *[t["score"] for t in data["tests"]]]
    return found


@pytest.fixture(scope="module")
def regraded(graded: dict[str, Graded], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every engine graded twice more, as a batch (the fixture above was the first)."""
    root = tmp_path_factory.mktemp("again")
    batch = root / "batch"
    for name in NAMES:
        build(name, batch / name)
    outs = []
    for i in range(2):
        out = root / f"out{i}"
        labs = [arg for lab in sorted(LABS) for arg in ("--lab", lab)]
        assert cli.main([str(batch), "--out", str(out), "--jobs", "2", *labs]) == 0
        outs.append(out)
    return outs


def test_grading_three_times_gives_the_same_scores(
    graded: dict[str, Graded], regraded: list[Path]
) -> None:
    # Sets of parents and of parameters would iterate in another order in every child
    # (their hashes are addresses); the child fixes that order, and the scores must not
    # move: not even set_order's, whose verdicts depend on it.
    first = {n: [g.score, *[o.score for o in g.outcomes]] for n, g in graded.items()}
    runs = [_scores(out) for out in regraded]
    assert runs[0] == runs[1] == first and len(first) == len(NAMES)


def test_the_set_order_case_is_named_in_its_checks(graded: dict[str, Graded]) -> None:
    flagged = [o for o in graded["set_order"].outcomes if o.observed.get("set_order")]
    assert flagged and all(o.status == "failed" for o in flagged)
    assert all("order in which a set of Values iterates" in o.summary for o in flagged)
    assert {"ops.sub", "ops.div"} <= {o.id for o in flagged}


def _headlines(folder: Path) -> list[str | None]:
    """The headline as results.json, report.md and report.html say it."""
    output = json.loads((folder / "results.json").read_text())["output"].splitlines()
    shown = [line.removeprefix("Most likely mistake: ") for line in output]
    in_json = next((line for line, s in zip(output, shown, strict=True) if line != s), None)
    md = (folder / "report.md").read_text()
    line = next((x for x in md.splitlines() if x.startswith("**Most likely mistake:** ")), None)
    in_md = None if line is None else line.split(":** ", 1)[1].rsplit(" (`", 1)[0]
    page = (folder / "report.html").read_text()
    marker = "<strong>Most likely mistake:</strong> "
    in_html = (
        html.unescape(page.split(marker, 1)[1].split(" (<code>", 1)[0]) if marker in page else None
    )
    return [
        None if in_json is None else in_json.removeprefix("Most likely mistake: "),
        in_md,
        in_html,
    ]


def test_every_report_names_the_same_headline_and_it_is_the_costliest(
    graded: dict[str, Graded], regraded: list[Path]
) -> None:
    for name, result in graded.items():
        said = _headlines(regraded[0] / name)
        want = result.diagnosis["explanation"] if result.diagnosis else None
        assert said == [want] * 3, name
        _, explained = costliest(result.outcomes)
        worst = max((o.lost for o in result.outcomes if o.status == "failed"), default=0.0)
        assert explained >= worst, name
