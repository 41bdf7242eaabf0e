"""The Spanish lab statements (labs/es/) keep step with the English ones (labs/).

Each English statement ``labs/NAME.md`` has a Spanish twin ``labs/es/NAME.md``: the same
sections at the same levels in the same order, every Spanish heading preceded by an
explicit anchor that carries its English twin's GitHub anchor (``<a id="the-ten-ops"></a>``),
so a link such as ``lab01-ops.md#the-ten-ops`` in a report lands on the same section in
``es/lab01-ops.md``. The numbers are the same (the whole text's numeric literals, as a
multiset), the code blocks hold the same code (comments may be translated) and the same
numbers, and the first line of each file links to its twin.
"""

from __future__ import annotations

import io
import re
import tokenize
import tomllib
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grader.report import write_labs

ROOT = Path(__file__).resolve().parent.parent
LABS = ROOT / "labs"
ES = LABS / "es"
ENGLISH = sorted(LABS.glob("*.md"))
# Every file whose ``reread`` fields the reports turn into links to a lab section.
LINKING = [ROOT / "grader" / n for n in ("rubric.toml", "rubric_hidden.toml", "diagnoses.toml")]

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
LINK = re.compile(r'\]\(([^)\s]+)\)|href="([^"]+)"')
# A numeric literal as either language writes it: a sign (ASCII or U+2212), digits with
# optional thousands separators (comma in English, no-break space in Spanish), a
# fraction and an exponent; not part of an identifier such as x1, lab01 or 3h.
NUMBER = re.compile(
    r"(?<![\w.])[-\u2212]?\d+(?:[,\u00a0\u202f]\d{3})*(?:\.\d+)?(?:e[-\u2212+]?\d+)?(?!\w)"
)


@dataclass(frozen=True)
class Heading:
    level: int
    title: str
    anchor: str | None  # the explicit <a id> on the line just before it, if any


@dataclass(frozen=True)
class Block:
    info: str
    text: str


def slug(title: str) -> str:
    """The anchor GitHub gives a heading (github-slugger's rule, without duplicates)."""
    text = re.sub(r"<[^>]+>", "", title).replace("`", "").lower()
    kept = (
        ch
        for ch in text
        if ch in " -" or unicodedata.category(ch)[0] in "LMN" or unicodedata.category(ch) == "Pc"
    )
    return "".join(kept).replace(" ", "-")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(index, line) of every line outside fenced code blocks."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    for i, line in enumerate(text.splitlines()):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(2)[0] * 3
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            out.append((i, line))
    return out


def headings(text: str) -> list[Heading]:
    lines = text.splitlines()
    found: list[Heading] = []
    for i, line in prose_lines(text):
        m = HEADING.match(line)
        if m:
            before = ANCHOR.fullmatch(lines[i - 1].strip()) if i else None
            found.append(Heading(len(m.group(1)), m.group(2), before.group(1) if before else None))
    return found


def anchors(text: str) -> set[str]:
    """Every anchor a link into this file may name: GitHub's heading slugs, explicit ids."""
    found: set[str] = set()
    seen: Counter[str] = Counter()
    for h in headings(text):
        base = slug(h.title)
        found.add(base if not seen[base] else f"{base}-{seen[base]}")
        seen[base] += 1
    for _, line in prose_lines(text):
        found.update(ANCHOR.findall(line))
    return found


def blocks(text: str) -> list[Block]:
    out: list[Block] = []
    fence: str | None = None
    info = ""
    body: list[str] = []
    for line in text.splitlines():
        m = FENCE.match(line)
        if fence is None and m:
            fence, info, body = m.group(2)[0] * 3, m.group(3).strip(), []
        elif fence is not None and line.strip().startswith(fence):
            out.append(Block(info, "\n".join(body) + "\n"))
            fence = None
        elif fence is not None:
            body.append(line)
    return out


def code_only(block: Block) -> str:
    """The block without its comments (Python's by tokenize, else from a '#' on)."""
    if block.info == "python":
        tokens = tokenize.generate_tokens(io.StringIO(block.text).readline)
        kept = [t for t in tokens if t.type != tokenize.COMMENT]
        text = tokenize.untokenize(kept)
    else:
        text = re.sub(r"(^|\s)#.*$", "", block.text, flags=re.MULTILINE)
    return "\n".join(line.rstrip() for line in text.splitlines())


def numbers(text: str) -> Counter[str]:
    text = ANCHOR.sub("", text)
    return Counter(
        re.sub(r"[,\u00a0\u202f]", "", n.replace("\u2212", "-")) for n in NUMBER.findall(text)
    )


def rereads() -> list[str]:
    """Every 'file#anchor' a report may link to (each ``reread`` of the linking files)."""

    def walk(value: Any) -> list[str]:
        if isinstance(value, dict):
            own = [value["reread"]] if isinstance(value.get("reread"), str) else []
            return own + [r for v in value.values() for r in walk(v)]
        if isinstance(value, list):
            return [r for v in value for r in walk(v)]
        return []

    return sorted({r for path in LINKING for r in walk(tomllib.loads(path.read_text()))})


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def twin(english: Path) -> Path:
    return ES / english.name


def show(items: list[tuple[int, str]] | list[tuple[int, str | None]]) -> str:
    return "\n".join(f"  {'#' * level} {name}" for level, name in items)


# ---------------------------------------------------------------- the pairs
def test_every_statement_has_a_spanish_twin_and_no_other() -> None:
    assert [p.name for p in ENGLISH] == [
        "README.md",
        "lab00-derivatives.md",
        "lab01-ops.md",
        "lab02-backward.md",
        "lab03-nn.md",
        "lab04-training.md",
        "lab05-visualize.md",
    ]
    assert sorted(p.name for p in ES.glob("*.md")) == [p.name for p in ENGLISH]


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.name)
def test_each_file_opens_with_a_link_to_its_twin(english: Path) -> None:
    assert read(english).splitlines()[0] == f"**English** · [Español](es/{english.name})"
    assert read(twin(english)).splitlines()[0] == f"[English](../{english.name}) · **Español**"


# ---------------------------------------------------------------- sections
@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.name)
def test_the_spanish_sections_are_the_english_ones_with_their_anchors(english: Path) -> None:
    want = [(h.level, slug(h.title)) for h in headings(read(english))]
    got = [(h.level, h.anchor) for h in headings(read(twin(english)))]
    assert len(want) > 3
    assert got == want, (
        f"{twin(english).relative_to(ROOT)} must have the sections of {english.name}, in "
        "order and at the same levels, each Spanish heading right after "
        f'<a id="<English anchor>"></a>.\nEnglish:\n{show(want)}\nSpanish:\n{show(got)}'
    )
    # GitHub also gives each Spanish heading its own slug: never another section's anchor.
    ids = {anchor for _, anchor in want}
    clashes = [h.title for h in headings(read(twin(english))) if slug(h.title) in ids - {h.anchor}]
    assert not clashes, f"{twin(english).name}: slugs that name another section: {clashes}"


def test_every_section_a_report_links_to_exists_in_both_languages() -> None:
    links = rereads()
    assert len(links) > 20 and "lab01-ops.md#the-ten-ops" in links
    missing = []
    for link in links:
        name, _, anchor = link.partition("#")
        for path in (LABS / name, ES / name):
            if not path.is_file() or anchor not in anchors(read(path)):
                missing.append(f"{path.relative_to(ROOT)}#{anchor}")
    assert not missing, f"sections the reports link to, not found: {missing}"


@pytest.mark.parametrize(
    "path", [*ENGLISH, *(twin(p) for p in ENGLISH)], ids=lambda p: p.relative_to(LABS).as_posix()
)
def test_every_link_between_statements_lands(path: Path) -> None:
    broken = []
    for _, line in prose_lines(read(path)):
        for groups in LINK.findall(line):
            ref = next(g for g in groups if g)
            if ref.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = ref.partition("#")
            target = (path.parent / file).resolve() if file else path
            if not target.is_file() or (anchor and anchor not in anchors(read(target))):
                broken.append(ref)
    assert not broken, f"{path.relative_to(ROOT)}: links that land nowhere: {broken}"


# ---------------------------------------------------------------- numbers and code
@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.name)
def test_the_spanish_statement_has_the_same_numbers(english: Path) -> None:
    want, got = numbers(read(english)), numbers(read(twin(english)))
    assert sum(want.values()) > 10
    only_en, only_es = sorted((want - got).elements()), sorted((got - want).elements())
    assert got == want, (
        f"{twin(english).relative_to(ROOT)}: numbers only in English {only_en}, "
        f"only in Spanish {only_es}"
    )


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.name)
def test_the_code_blocks_hold_the_same_code_and_numbers(english: Path) -> None:
    want, got = blocks(read(english)), blocks(read(twin(english)))
    assert [b.info for b in got] == [b.info for b in want]
    for n, (en, es) in enumerate(zip(want, got, strict=True), 1):
        assert code_only(es) == code_only(en), f"code block {n} of {english.name} differs"
        assert numbers(es.text) == numbers(en.text), f"code block {n} of {english.name}"


# ---------------------------------------------------------------- the parsers themselves
def test_the_parsers_see_what_github_sees() -> None:
    assert slug("Lab 1 — The ten ops (36 points)") == "lab-1--the-ten-ops-36-points"
    assert slug("Check yourself with g = 1.7") == "check-yourself-with-g--17"
    assert slug("Neuron, Layer, MLP") == "neuron-layer-mlp"
    assert slug("¿Cómo de pequeño debe ser `h`?") == "cómo-de-pequeño-debe-ser-h"
    text = '<a id="x"></a>\n## Dos\n\n```python\n# not a heading: 1.5\nx = 2  # y 3\n```\n'
    assert headings(text) == [Heading(2, "Dos", "x")]
    assert anchors(text) == {"x", "dos"}
    (block,) = blocks(text)
    assert code_only(block) == "\nx = 2" and numbers(block.text) == Counter(["1.5", "2", "3"])
    assert numbers("x1 = 2, 3h, \u22120.425, 1e-9, 10,000 nodos y 10\u00a0000, lab01") == Counter(
        ["2", "-0.425", "1e-9", "10000", "10000"]
    )


# ---------------------------------------------------------------- where the labs go
def test_the_reports_carry_the_spanish_statements(tmp_path: Path) -> None:
    write_labs(tmp_path)
    for english in ENGLISH:
        assert (tmp_path / "_labs" / english.name).read_bytes() == english.read_bytes()
        copied = tmp_path / "_labs" / "es" / english.name
        assert copied.read_bytes() == twin(english).read_bytes()
