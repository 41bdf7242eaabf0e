"""The catalog of classic mistakes and the planted-bug variants of the reference.

Each variant is the reference with one or more small textual edits (catalog.toml),
applied when needed, so variants can never drift from the reference. A *base* is a
correct engine written another way (``composed``: sub, div and the reflected forms
built from other ops, as the original lab suggests); every variant is also planted in
each base, with its own edit where the base's text differs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.classic import MISTAKES, Mistake

CATALOG = Path(__file__).with_name("catalog.toml")
__all__ = [
    "BASES",
    "MISTAKES",
    "VARIANTS",
    "CatalogError",
    "Edit",
    "Mistake",
    "Variant",
    "materialize",
    "patched",
]
REFERENCE = Path(__file__).resolve().parent.parent.parent / "reference" / "src" / "minigrad"
ONE_NODE = "one-node"  # the reference itself: one node per op
VARIANT_PREFIX = "bug-"  # a planted bug's id; a mistake's code (diagnoses.toml) has none


class CatalogError(ValueError):
    """catalog.toml is malformed or a patch no longer applies to the reference."""


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` by ``new``, exactly once, in ``file``."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Variant:
    id: str
    mistake: str
    lab: str  # the lab that must lose points (the mistake's lab unless overridden)
    edits: dict[str, tuple[Edit, ...]]  # base -> the edits that plant it there
    check: str = ""  # for a check worth 0 points by default: it must fail instead
    base_labs: tuple[tuple[str, str], ...] = ()  # (base, lab) where the lab differs there

    def lab_in(self, base: str) -> str:
        """The lab that must lose points when the variant is planted in ``base``."""
        return dict(self.base_labs).get(base, self.lab)

    @property
    def file(self) -> str:
        return self.edits[ONE_NODE][0].file


def _edits(raw: dict[str, Any], prefix: str = "") -> tuple[Edit, ...]:
    old, new = raw[prefix + "old"], raw[prefix + "new"]
    olds, news = ([old], [new]) if isinstance(old, str) else (old, new)
    if len(olds) != len(news):
        raise CatalogError(f"{raw.get('id')}: {prefix}old and {prefix}new differ in length")
    file = raw.get(prefix + "file", raw["file"])
    return tuple(Edit(file, o, n) for o, n in zip(olds, news, strict=True))


def _load() -> tuple[dict[str, tuple[Edit, ...]], list[Variant]]:
    raw = tomllib.loads(CATALOG.read_text(encoding="utf-8"))
    bases = {ONE_NODE: ()} | {
        name: tuple(Edit(e["file"], e["old"], e["new"]) for e in base["edit"])
        for name, base in raw.get("base", {}).items()
    }
    variants = []
    for v in raw["variant"]:
        if v["mistake"] not in MISTAKES:
            raise CatalogError(f"variant {v['id']} names unknown mistake {v['mistake']!r}")
        if not str(v["id"]).startswith(VARIANT_PREFIX):
            raise CatalogError(f"variant {v['id']}: a planted bug's id starts {VARIANT_PREFIX!r}")
        lab = v.get("lab", MISTAKES[v["mistake"]].lab)
        edits = {ONE_NODE: _edits(v)}
        for base in bases:
            if base != ONE_NODE:
                own = f"{base}_"
                edits[base] = _edits(v, own) if own + "old" in v else edits[ONE_NODE]
        base_labs = tuple((b, v[f"{b}_lab"]) for b in bases if f"{b}_lab" in v)
        variants.append(Variant(v["id"], v["mistake"], lab, edits, v.get("check", ""), base_labs))
    return bases, variants


BASES, VARIANTS = _load()


def _apply(text: str, edit: Edit, what: str) -> str:
    count = text.count(edit.old)
    if count != 1:
        raise CatalogError(f"{what}: its patch matches {count} times in {edit.file} (must be 1)")
    return text.replace(edit.old, edit.new, 1)


def base_files(base: str = ONE_NODE, reference: Path = REFERENCE) -> dict[str, str]:
    """The engine files of a base: the reference with the base's edits applied."""
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(reference.glob("*.py"))}
    for edit in BASES[base]:
        files[edit.file] = _apply(files[edit.file], edit, f"base {base}")
    return files


def patched(variant: Variant, reference: Path = REFERENCE, base: str = ONE_NODE) -> str:
    """The text of the variant's (first) file with its edits applied, each exactly once."""
    return variant_files(variant, reference, base)[variant.edits[base][0].file]


def variant_files(
    variant: Variant, reference: Path = REFERENCE, base: str = ONE_NODE
) -> dict[str, str]:
    files = base_files(base, reference)
    for edit in variant.edits[base]:
        files[edit.file] = _apply(files[edit.file], edit, f"variant {variant.id} ({base})")
    return files


def write_engine(files: dict[str, str], dest: Path) -> Path:
    """Write engine files as a submission folder ``dest`` (dest/src/minigrad/...)."""
    pkg = dest / "src" / "minigrad"
    pkg.mkdir(parents=True)
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    return dest


def materialize(
    variant: Variant | None, dest: Path, reference: Path = REFERENCE, base: str = ONE_NODE
) -> Path:
    """Write the variant (or, for None, the base itself) as a submission folder."""
    if variant is None:
        return write_engine(base_files(base, reference), dest)
    return write_engine(variant_files(variant, reference, base), dest)


STYLE_ONLY = {"lint-findings"}  # mistakes no test of behaviour can (or should) catch


def behavioural(variants: list[Variant]) -> list[Variant]:
    """The variants a student's tests are measured against (the extra credit)."""
    return [v for v in variants if v.mistake not in STYLE_ONLY]
