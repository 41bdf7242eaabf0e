"""The skeleton is generated from the reference: never stale, never leaking answers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import skeleton as gen

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path, Path]:
    ref = tmp_path / "reference"
    skel = tmp_path / "skeleton"
    shutil.copytree(gen.REFERENCE, ref)
    shutil.copytree(gen.SKELETON, skel)
    lock = tmp_path / "skeleton.lock"
    shutil.copyfile(gen.LOCK, lock)
    return ref, skel, lock


def test_committed_skeleton_is_up_to_date() -> None:
    assert gen.check() == []


def test_deleting_a_solution_line_makes_the_skeleton_stale(copies: tuple[Path, Path, Path]) -> None:
    ref, skel, lock = copies
    assert gen.check(ref, skel, lock) == []
    scalar = ref / "scalar.py"
    text = scalar.read_text()
    line = "            other.grad -= out.grad\n"
    assert line in text
    scalar.write_text(text.replace(line, "", 1))
    problems = gen.check(ref, skel, lock)
    assert any("scalar.py is stale" in p for p in problems), problems


def test_a_leaked_solution_line_is_found(copies: tuple[Path, Path, Path]) -> None:
    ref, skel, lock = copies
    assert gen.check(ref, skel, lock) == []
    target = skel / "scalar.py"
    target.write_text(target.read_text() + "\n# self.grad += other.data * out.grad\n")
    assert gen.leaks((ref / "scalar.py").read_text(), target.read_text()) == []  # comment
    target.write_text(target.read_text() + "x = 1\nself.grad += other.data * out.grad\n")
    assert any("leaked" in p for p in gen.check(ref, skel, lock))


def test_changed_signature_is_reported(copies: tuple[Path, Path, Path]) -> None:
    ref, skel, lock = copies
    assert gen.check(ref, skel, lock) == []
    target = skel / "nn.py"
    text = target.read_text()
    old = "def __init__(self, nin: int, nout: int, nonlin: bool = True) -> None:"
    assert old in text
    target.write_text(text.replace(old, "def __init__(self, nin: int, nout: int) -> None:"))
    assert any("signatures differ" in p for p in gen.check(ref, skel, lock))


def test_every_solution_region_becomes_a_stub_naming_its_lab() -> None:
    for path in sorted(gen.REFERENCE.glob("*.py")):
        text, regions = gen.split(path.read_text(), path.name)
        for region in regions:
            assert f"TODO {region.lab}: {region.qualname}" in text
            assert gen.LAB_STATEMENTS[region.lab] in text
    # Every lab statement the stubs point to exists.
    for statement in gen.LAB_STATEMENTS.values():
        assert (ROOT / statement).is_file(), statement


def test_unclosed_region_is_an_error() -> None:
    source = "def f() -> int:\n    # BEGIN SOLUTION lab01\n    return 1\n"
    with pytest.raises(gen.MarkerError, match="without END"):
        gen.split(source)


def test_the_skeleton_exercises_all_raise() -> None:
    # Outside the given code, every public function of the skeleton is a stub.
    text = (gen.SKELETON / "scalar.py").read_text()
    assert text.count("raise NotImplementedError") == 16  # 14 op methods, sigmoid, backward
