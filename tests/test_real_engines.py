"""Engines written the way students write them are graded on what they compute.

Each engine of tests/engines/ is graded in full; its points per lab and its headline
diagnosis are pinned. Composed ops, ``_prev`` as a set, parameters in set order, ReLU
networks, another name for the parents, closures stored on the wrong node: only the
behaviour the lab asks for is judged, and what is lost is named.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import cli
from grader.discover import Submission
from grader.score import Graded, run_checks
from tests.real_engines import NAMES, build

FULL = {"lab01": 36.0, "lab02": 32.0, "lab03": 16.0, "lab04": 12.0, "lab05": 4.0}
NONE = dict.fromkeys(FULL, 0.0)

# engine -> (points per lab, headline mistake)
EXPECTED: dict[str, tuple[dict[str, float], str | None]] = {
    # Composed ops and a set of parents cost nothing; what is lost: an AssertionError
    # instead of TypeError for a Value exponent, 0 ** 0's gradient, the recursive
    # topological sort, no type hints (quality), ReLU neurons (nn.forward).
    "micrograd_style": (
        {"lab01": 34.0, "lab02": 27.0, "lab03": 13.0, "lab04": 11.0, "lab05": 4.0},
        "lint-findings",
    ),
    "composed": (FULL, None),
    "set_prev": (FULL, None),
    "children_naming": ({**FULL, "lab05": 2.0}, "parents-name"),
    "self_backward": ({**FULL, "lab02": 21.0, "lab04": 4.0}, "closure-on-self"),
    "layer_list": ({**FULL, "lab03": 12.0}, "layer-always-list"),
    "relu_neurons": ({**FULL, "lab03": 14.0, "lab04": 4.0}, "activation-not-tanh"),
    "numpy_exp": (NONE, "forbidden-import"),
    "returns_none": (
        {"lab01": 28.0, "lab02": 9.0, "lab03": 0.0, "lab04": 2.0, "lab05": 0.0},
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


@pytest.mark.parametrize("name", ["micrograd_style", "self_backward", "returns_none"])
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


def _scores(out: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for results in sorted(out.glob("*/results.json")):
        data = json.loads(results.read_text())
        found[results.parent.name] = [data["score"], [t["score"] for t in data["tests"]]]
    return found


def test_grading_twice_gives_the_same_scores(tmp_path: Path) -> None:
    # Sets of parents and of parameters iterate in a different order in every child
    # (their hashes are addresses), yet the scores must not move.
    batch = tmp_path / "batch"
    for name in ("micrograd_style", "set_prev"):
        build(name, batch / name)
    runs = []
    for i in range(2):
        out = tmp_path / f"out{i}"
        assert cli.main([str(batch), "--out", str(out), "--lab", "lab02", "--lab", "lab04"]) == 0
        runs.append(_scores(out))
    assert runs[0] == runs[1] and len(runs[0]) == 2
