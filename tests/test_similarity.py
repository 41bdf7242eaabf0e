"""Similarity: on a batch with two near-copies and a copy of an archived implementation,
the class view flags exactly those, with the skeleton's code discounted, and never
imports or runs the code it reads."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from grader import cli, pipeline, similarity
from grader.score import PASSED, Graded, Outcome
from grader.similarity import Document, compare

ROOT = Path(__file__).resolve().parent.parent
SKELETON = ROOT / "skeleton" / "src" / "minigrad"
REFERENCE = ROOT / "reference" / "src" / "minigrad"


def own_code(seed: int, functions: int = 12) -> str:
    """Code nobody else wrote: functions of random arithmetic (different per seed)."""
    rng = random.Random(seed)
    ops = ["+", "-", "*", "/", "%", "**"]
    lines = []
    for i in range(functions):
        lines.append(f"def helper_{seed}_{i}(a, b):")
        for j in range(rng.randint(2, 4)):
            lhs = f"t{j}"
            expr = f"a {rng.choice(ops)} {rng.randint(2, 97)} {rng.choice(ops)} b"
            if rng.random() < 0.4:
                lines.append(f"    if a > {rng.randint(1, 50)}:")
                lines.append(f"        {lhs} = ({expr}) {rng.choice(ops)} {rng.random():.3f}")
                lines.append("    else:")
                lines.append(f"        {lhs} = [{rng.randint(0, 9)}, a, b][{rng.randint(0, 2)}]")
            else:
                lines.append(f"    {lhs} = {expr}")
        lines.append(f"    return t0 {rng.choice(ops)} {rng.randint(3, 60)}")
        lines.append("")
    return "\n".join(lines) + "\n"


def renamed(text: str) -> str:
    """A disguised copy: identifiers renamed, comments reworded, blank lines added."""
    for old, new in (("other", "rhs"), ("out", "result"), ("grad", "grad"), ("topo", "order")):
        text = re.sub(rf"\b{old}\b", new, text)
    text = re.sub(r"#.*", "# my own work", text)
    return text.replace("\n\n", "\n\n\n")


def write_batch(folder: Path, archive: Path) -> None:
    """alice: the reference; bob: alice disguised; carol: the untouched skeleton; dave:
    the skeleton and code of his own; erin: the skeleton and a disguised copy of the
    archived implementation; archive/public-minigrad: that implementation."""

    def engine(
        name: str, extra: str = "", base: Path = SKELETON, edit: Callable[[str], str] = str
    ) -> None:
        package = folder / name / "src" / "minigrad"
        package.mkdir(parents=True)
        for path in sorted(base.glob("*.py")):
            text = edit(path.read_text())
            if path.name == "scalar.py":
                text += "\n\n" + extra
            (package / path.name).write_text(text)

    engine("alice", base=REFERENCE)
    engine("bob", base=REFERENCE, edit=renamed)
    engine("carol")
    engine("dave", own_code(1))
    (archive / "public-minigrad").mkdir(parents=True)
    (archive / "public-minigrad" / "engine.py").write_text(own_code(2))
    (archive / "notes.txt").write_text("not python: ignored\n")
    engine("erin", renamed(own_code(2)))


def test_the_class_view_flags_exactly_the_near_copies_and_the_archive_hit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subs, archive, out = tmp_path / "submissions", tmp_path / "archive", tmp_path / "reports"
    write_batch(subs, archive)
    trap = subs / "dave" / "src" / "minigrad" / "nn.py"
    trap.write_text(trap.read_text() + "\nraise SystemExit('imported!')\n")  # read, never run

    def fake(submission: object, **_: object) -> Graded:
        name = getattr(submission, "name", "")
        o = Outcome("ops.add", "lab01", "a + b", PASSED, 2, 2, "visible")
        return Graded(name, str(getattr(submission, "path", "")), "graded", "", [o], {}, 0.1)

    monkeypatch.setattr(pipeline, "run_checks", fake)
    assert cli.main([str(subs), "--out", str(out), "--archive", str(archive), "--jobs", "1"]) == 0
    index = (out / "index.html").read_text()
    summary = (out / "summary.md").read_text()
    section = summary[summary.index("## Possible copies") : summary.index("## Checks the class")]
    assert "5 engine(s) compared with each other and with 1 archive entr(ies)" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and "%" in line]
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| alice", "bob"],
        ["| erin", "archive: public-minigrad"],
    ] or [row.split(" | ")[:2] for row in rows] == [
        ["| erin", "archive: public-minigrad"],
        ["| alice", "bob"],
    ]
    shares = [int(x) for row in rows for x in re.findall(r"(\d+)%", row)]
    assert min(shares) >= 60
    pages = sorted((out / "_similarity").glob("*.html"))
    assert len(pages) == 2
    assert 'href="_similarity/1.html"' in index and 'href="_similarity/2.html"' in index
    assert index.index('id="students"') < index.index('id="similarity"')
    side = next(p.read_text() for p in pages if "alice" in p.read_text())
    assert side.count("<mark>") >= 1 and "Back to the class" in side
    assert "def __add__" in side  # the engine's own text, escaped
    assert "<script" not in side and "http://" not in side and "https://" not in side


def test_the_skeleton_is_discounted_and_texts_are_compared_not_names() -> None:
    skeleton = "\n".join(p.read_text() for p in sorted(SKELETON.glob("*.py")))
    plain = [Document("carol", skeleton), Document("zed", skeleton)]
    assert compare(plain, boilerplate=skeleton).flagged == []
    assert [m.left for m in compare(plain).flagged] == ["carol"]  # without the discount
    mine = [Document("a", own_code(5)), Document("b", own_code(6))]
    assert compare(mine).flagged == []
    copied = [Document("a", own_code(5)), Document("b", renamed(own_code(5)))]
    (match,) = compare(copied).flagged
    assert match.left_share > 0.9 and match.right_share > 0.9 and match.left_slices


def test_links_and_unreadable_files_are_not_read(tmp_path: Path) -> None:
    package = tmp_path / "s" / "src" / "minigrad"
    package.mkdir(parents=True)
    secret = tmp_path / "secret.py"
    secret.write_text("TOKEN = 'do not read'\n")
    (package / "scalar.py").symlink_to(secret)
    (package / "nn.py").write_bytes(b"x = 1\n\xff\xfe\n")
    doc = similarity.engine_document("s", tmp_path / "s")
    assert "do not read" not in doc.text and "x = 1" in doc.text
    shutil.rmtree(package)
    assert similarity.engine_document("s", tmp_path / "s").text == ""


def test_the_side_by_side_marks_matches_and_cuts_long_unmatched_stretches() -> None:
    text = "\n".join(f"line {i} <b>" for i in range(40))
    start, end = text.index("line 20"), text.index("line 22")
    shown = similarity.highlighted(text, [(start, end)], context=2)
    assert "<mark>line 20 &lt;b&gt;\nline 21 &lt;b&gt;\n</mark>" in shown
    assert "line 18" in shown and "line 24" in shown
    assert "line 5 " not in shown and "line 30" not in shown
    assert "18 line(s) not matched" in shown and "15 line(s) not matched" in shown
    assert similarity.highlighted("a<b", []) == "a&lt;b"


def test_the_side_by_side_page_keeps_both_columns_in_the_window() -> None:
    """Long lines wrap inside their column, and a column may shrink below its widest
    line, so the right one is never cut off (checked by eye in Chromium at 1280 px)."""
    wide = "x = " + "1 + " * 200 + "1\n"
    match = similarity.Match("alice", "bob", "pair", 1.0, 1.0, [(0, len(wide))], [(0, 3)])
    page = similarity.side_by_side(match, Document("alice", wide), Document("bob", wide))
    style = page[page.index("<style>") : page.index("</style>")]
    assert re.search(
        r"\.sides \{[^}]*grid-template-columns: minmax\(0, 1fr\) minmax\(0, 1fr\)", style
    )
    assert re.search(r"\.sides > div \{ min-width: 0; \}", style)
    assert re.search(
        r"\.sides pre \{[^}]*white-space: pre-wrap;[^}]*overflow-wrap: anywhere", style
    )
    assert page.count("<pre>") == 2


def counted(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """A list that grows by one at each call of copydetect's ``name`` from now on."""
    import copydetect

    calls: list[int] = []
    real = getattr(copydetect, name)

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(copydetect, name, counting)
    return calls


def test_copies_are_fingerprinted_and_compared_once_and_pages_are_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five identical engines and one renamed copy: every pair is still flagged, with
    the same shares as when each is compared alone, but each distinct pair of texts is
    compared once, and only the strongest matches get a side-by-side page."""
    calls = counted(monkeypatch, "compare_files")
    prints = counted(monkeypatch, "CodeFingerprint")
    same = [Document(f"s{i}", own_code(7)) for i in range(5)]
    report = compare([*same, Document("r", renamed(own_code(7)))])
    assert len(report.flagged) == 15  # 10 pairs of copies, 5 with the renamed one
    assert len(calls) == 2  # copy with copy once, copy with the renamed one once
    assert len(prints) == 2  # the copy's text once, the renamed one's once
    alone = compare([same[0], Document("r", renamed(own_code(7)))]).flagged[0]
    with_r = [m for m in report.flagged if "r" in (m.left, m.right)]
    assert {(m.left_share, m.right_share) for m in with_r} == {
        (alone.left_share, alone.right_share)
    }
    texts = {d.name: d for d in [*same, Document("r", renamed(own_code(7)))]}
    similarity.write_pages(report, texts, tmp_path, most=4)
    assert len(list((tmp_path / "_similarity").glob("*.html"))) == 4
    assert [bool(m.page) for m in report.flagged] == [True] * 4 + [False] * 11


def test_fingerprints_computed_ahead_are_used_and_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grader fingerprints a batch in a thread while it grades: the class step then
    fingerprints nothing again, and flags exactly what it flags on its own."""
    write_batch(tmp_path / "batch", tmp_path / "archive")
    folders = {p.name: p for p in sorted((tmp_path / "batch").iterdir())}
    alone, _ = similarity.check_class(folders, tmp_path / "archive")
    known = similarity.fingerprint_class(folders)
    made = counted(monkeypatch, "CodeFingerprint")
    ahead, _ = similarity.check_class(folders, tmp_path / "archive", known=known)
    assert len(made) == 2  # the skeleton (boilerplate) and the one archive entry only
    assert [(m.left, m.right, m.left_share) for m in ahead.flagged] == [
        (m.left, m.right, m.left_share) for m in alone.flagged
    ]
    assert len(alone.flagged) == 2


def test_the_matches_are_the_same_in_every_process(tmp_path: Path) -> None:
    """Python salts ``hash()`` per process; the fingerprints must not depend on it, or a
    page's shares and marks would change each time the class is graded."""
    code = (
        "import json, sys\n"
        "from grader.similarity import Document, compare\n"
        "a, b = sys.argv[1], sys.argv[2]\n"
        "r = compare([Document('a', a), Document('b', b)], flag=0.0)\n"
        "print(json.dumps([(m.left_share, m.right_share, m.left_slices) for m in r.flagged]))\n"
    )
    left = (REFERENCE / "scalar.py").read_text(encoding="utf-8")
    right = left.replace("self.grad +=", "self.grad = self.grad +")
    seen = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code, left, right],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env=env,
        )
        seen.add(done.stdout)
    assert len(seen) == 1, seen
    assert json.loads(seen.pop())[0][0] > 0.5
