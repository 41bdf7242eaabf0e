"""The catalog of classic mistakes and the planted-bug variants of the reference.

Each variant is the reference with one small textual patch (catalog.toml), applied
when needed, so variants can never drift from the reference.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.diagnose import MISTAKES, Mistake

CATALOG = Path(__file__).with_name("catalog.toml")
__all__ = ["MISTAKES", "VARIANTS", "CatalogError", "Mistake", "Variant", "materialize", "patched"]
REFERENCE = Path(__file__).resolve().parent.parent.parent / "reference" / "src" / "minigrad"


class CatalogError(ValueError):
    """catalog.toml is malformed or a patch no longer applies to the reference."""


@dataclass(frozen=True)
class Variant:
    id: str
    mistake: str
    file: str
    old: str
    new: str
    lab: str  # the lab that must lose points (the mistake's lab unless overridden)


def _load() -> list[Variant]:
    raw = tomllib.loads(CATALOG.read_text(encoding="utf-8"))
    mistakes = MISTAKES
    variants = []
    for v in raw["variant"]:
        if v["mistake"] not in mistakes:
            raise CatalogError(f"variant {v['id']} names unknown mistake {v['mistake']!r}")
        lab = v.get("lab", mistakes[v["mistake"]].lab)
        variants.append(Variant(v["id"], v["mistake"], v["file"], v["old"], v["new"], lab))
    return variants


VARIANTS = _load()


def patched(variant: Variant, reference: Path = REFERENCE) -> str:
    """The text of ``variant.file`` with the variant's patch applied exactly once."""
    text = (reference / variant.file).read_text(encoding="utf-8")
    count = text.count(variant.old)
    if count != 1:
        raise CatalogError(
            f"variant {variant.id}: its patch matches {count} times in {variant.file} (must be 1)"
        )
    return text.replace(variant.old, variant.new, 1)


def materialize(variant: Variant, dest: Path, reference: Path = REFERENCE) -> Path:
    """Write the variant as a submission folder ``dest`` (dest/src/minigrad/...)."""
    pkg = dest / "src" / "minigrad"
    shutil.copytree(reference, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / variant.file).write_text(patched(variant, reference), encoding="utf-8")
    return dest
