"""Build the real-style engines of tests/engines/ as submission folders."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from grader.mistakes import REFERENCE

ENGINES = Path(__file__).with_name("engines")
STYLES = {s["name"]: s for s in tomllib.loads((ENGINES / "styles.toml").read_text())["style"]}
OWN = sorted(p.name for p in ENGINES.iterdir() if p.is_dir() and any(p.glob("*.py")))
NAMES = [*OWN, "composed", *STYLES]


def build(name: str, dest: Path) -> Path:
    """Write the engine ``name`` as ``dest/src/minigrad`` and return ``dest``."""
    pkg = dest / "src" / "minigrad"
    if name == "composed":
        from grader.mistakes import materialize

        return materialize(None, dest, base="composed")
    shutil.copytree(REFERENCE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    own = ENGINES / name
    if own.is_dir():
        for path in own.glob("*.py"):
            shutil.copyfile(path, pkg / path.name)
        return dest
    for edit in STYLES[name]["edit"]:
        path = pkg / edit["file"]
        text = path.read_text()
        count = text.count(edit["old"])
        if count == 0 or (count > 1 and not edit.get("all")):
            raise ValueError(f"{name}: an edit matches {count} times in {edit['file']}")
        path.write_text(text.replace(edit["old"], edit["new"]))
    return dest
