"""The child's view of an engine's graph: parents found by identity, a walk that says
when it cannot drive the graph, and sets of Values that iterate in a fixed order."""

from __future__ import annotations

from typing import Any

import pytest

from grader.child import interpreter, objects


class Node:
    """A toy Value: its parents in ``prevs``, a container made by ``holder``."""

    def __init__(self, data: float, parents: tuple[Node, ...] = (), holder: Any = list) -> None:
        self.data = data
        self.grad = 0.0
        self.prevs = holder(parents)
        self.label = "node"


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    saved = dict(objects.learned)
    objects.learned.clear()
    yield
    objects.learned.clear()
    objects.learned.update(saved)


@pytest.mark.parametrize("holder", [list, tuple, set, frozenset, dict.fromkeys])
def test_parents_are_found_by_identity_under_any_name_in_any_container(holder: Any) -> None:
    class Value(Node):
        pass

    a, b = Value(1.0, holder=holder), Value(2.0, holder=holder)
    c = Value(3.0, (a, b), holder=holder)
    objects.learn(c, [a, b])
    assert objects.learned[Value] == "prevs"
    assert {id(p) for p in objects.parents(c)} == {id(a), id(b)}
    assert objects.parents_attr(a) == "prevs" and objects.parents(a) == []


def test_a_composed_op_teaches_the_name_through_its_middle_node() -> None:
    class Value(Node):
        pass

    a, b = Value(1.0), Value(2.0)
    negated = Value(-2.0, (b,))
    c = Value(-1.0, (a, negated))  # a - b built as a + (-b)
    objects.learn(c, [a, b])
    assert objects.learned[Value] == "prevs"
    assert [n.data for n in objects.nodes_under(c)] == [-1.0, 1.0, -2.0, 2.0]


def test_a_leaf_names_where_it_keeps_its_no_parents() -> None:
    class Value(Node):
        pass

    assert objects.leaf_parents_attr(Value(1.0)) == "prevs"


def test_the_walk_says_when_it_cannot_drive_the_graph() -> None:
    class Value(Node):
        pass

    program = interpreter.Interpreter()
    program.env = {"a": Value(1.0), "b": Value(2.0)}
    program.leaves = ["a", "b"]
    program.env["c"] = Value(3.0, (program.env["a"], program.env["b"]))
    objects.learn(program.env["c"], [program.env["a"], program.env["b"]])
    with pytest.raises(objects.WalkImpossible, match="no _backward"):
        program.do_walk_backward("c")
    program.env["lonely"] = Value(5.0)
    program.leaves.append("lonely")
    program.env["c"]._backward = lambda: None
    with pytest.raises(objects.WalkImpossible, match="lonely cannot be reached"):
        program.do_walk_backward("c")


def test_sets_of_values_iterate_in_the_order_asked_for() -> None:
    class Value(Node):
        pass

    def order(reversed_order: bool) -> list[float]:
        objects.order_sets(Value, reversed_order)
        a, b, c = Value(1.0), Value(2.0), Value(3.0)
        return [v.data for v in {a, b, c}]

    try:
        assert order(False) == [1.0, 2.0, 3.0] == order(False)
        assert order(True) == [3.0, 2.0, 1.0]
        a = Value(1.0)
        assert a in {a} and len({a, Value(1.0)}) == 2  # still identity
    finally:
        objects.hashing.update(sign=1, next=0)


def test_a_hash_of_the_engines_own_is_left_alone() -> None:
    class ByValue(Node):
        def __eq__(self, other: object) -> bool:
            return isinstance(other, ByValue) and other.data == self.data

        def __hash__(self) -> int:
            return hash(self.data)

    objects.order_sets(ByValue, False)
    assert ByValue.__hash__ is not objects._ordered_hash
    assert len({ByValue(1.0), ByValue(1.0)}) == 1
