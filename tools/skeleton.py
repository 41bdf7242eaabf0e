"""Generate the student skeleton from the reference, and check that it is up to date.

The reference marks each exercise with a solution region::

    # BEGIN SOLUTION lab01
    ...the answer...
    # END SOLUTION

The skeleton is the reference with each region replaced by one ``raise
NotImplementedError(...)`` that names the function and the lab statement to read.
Everything outside the regions (signatures, docstrings, given helpers) is copied as is.

    python -m tools.skeleton write   # regenerate skeleton/ (what `nox -s skeleton` runs)
    python -m tools.skeleton check   # exit 1 and list problems if skeleton/ is stale
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference" / "src" / "minigrad"
SKELETON = ROOT / "skeleton" / "src" / "minigrad"
LOCK = ROOT / "tools" / "skeleton.lock"  # sha256 of each reference file at generation

LAB_STATEMENTS = {
    "lab01": "labs/lab01-ops.md",
    "lab02": "labs/lab02-backward.md",
    "lab03": "labs/lab03-nn.md",
    "lab04": "labs/lab04-training.md",
    "lab05": "labs/lab05-visualize.md",
}

MAX_LINE = 100  # ruff's line-length in pyproject.toml
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION (?P<lab>lab\d\d)\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
DEF = re.compile(r"^(?P<indent>\s*)(?:async\s+)?(?:def|class)\s+(?P<name>\w+)")


class MarkerError(ValueError):
    """A solution region is malformed (unclosed, nested, unknown lab)."""


@dataclass(frozen=True)
class Region:
    """One solution region: the lab it belongs to and its body lines."""

    lab: str
    qualname: str
    lines: tuple[str, ...]


def _qualname(lines: list[str], index: int) -> str:
    """``Class.method`` of the innermost def/class enclosing line ``index``."""
    names: list[tuple[int, str]] = []
    for line in lines[:index]:
        match = DEF.match(line)
        if match:
            depth = len(match["indent"])
            names = [(d, n) for d, n in names if d < depth]
            names.append((depth, match["name"]))
    return ".".join(name for _, name in names) or "<module>"


def _stub(indent: str, message: str) -> list[str]:
    """The ``raise NotImplementedError`` that replaces a region, formatted as ruff would."""
    line = f'{indent}raise NotImplementedError("{message}")'
    if len(line) <= MAX_LINE:
        return [line]
    return [f"{indent}raise NotImplementedError(", f'{indent}    "{message}"', f"{indent})"]


def split(source: str, filename: str = "<source>") -> tuple[str, list[Region]]:
    """Return the skeleton text of ``source`` and the solution regions it removed."""
    lines = source.splitlines()
    out: list[str] = []
    regions: list[Region] = []
    i = 0
    while i < len(lines):
        begin = BEGIN.match(lines[i])
        if not begin:
            if "SOLUTION" in lines[i] and lines[i].lstrip().startswith("#"):
                raise MarkerError(f"{filename}:{i + 1}: stray solution marker: {lines[i]!r}")
            out.append(lines[i])
            i += 1
            continue
        lab = begin["lab"]
        if lab not in LAB_STATEMENTS:
            raise MarkerError(f"{filename}:{i + 1}: unknown lab {lab!r}")
        start = i
        i += 1
        while i < len(lines) and not END.match(lines[i]):
            if BEGIN.match(lines[i]):
                raise MarkerError(f"{filename}:{i + 1}: nested BEGIN SOLUTION")
            i += 1
        if i == len(lines):
            raise MarkerError(f"{filename}:{start + 1}: BEGIN SOLUTION without END SOLUTION")
        qualname = _qualname(lines, start)
        regions.append(Region(lab, qualname, tuple(lines[start + 1 : i])))
        out.extend(_stub(begin["indent"], f"TODO {lab}: {qualname}, see {LAB_STATEMENTS[lab]}"))
        i += 1
    return "\n".join(out) + "\n", regions


def generate(reference: Path = REFERENCE) -> dict[str, str]:
    """File name -> skeleton text, for every module of the reference package."""
    return {
        path.name: split(path.read_text(encoding="utf-8"), str(path))[0]
        for path in sorted(reference.glob("*.py"))
    }


def fingerprint(reference: Path = REFERENCE) -> dict[str, str]:
    """sha256 of every reference module: a changed solution line changes it."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(reference.glob("*.py"))
    }


def write(reference: Path = REFERENCE, skeleton: Path = SKELETON, lock: Path = LOCK) -> list[Path]:
    """Regenerate ``skeleton`` from ``reference``; return the files written."""
    skeleton.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps(fingerprint(reference), indent=2) + "\n")
    wanted = generate(reference)
    for stale in skeleton.glob("*.py"):
        if stale.name not in wanted:
            stale.unlink()
    written = []
    for name, text in wanted.items():
        target = skeleton / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def _signatures(source: str) -> list[str]:
    """Every public-facing definition of a module, as comparable text."""
    found: list[str] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:  # module and class level only: nested closures are solution
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                returns = ast.unparse(node.returns) if node.returns else ""
                found.append(f"def {prefix}{node.name}({ast.unparse(node.args)}) -> {returns}")
            elif isinstance(node, ast.ClassDef):
                bases = ", ".join(map(ast.unparse, node.bases))
                found.append(f"class {prefix}{node.name}({bases})")
                visit(node.body, f"{prefix}{node.name}.")

    visit(ast.parse(source).body, "")
    return sorted(found)


def check(reference: Path = REFERENCE, skeleton: Path = SKELETON, lock: Path = LOCK) -> list[str]:
    """Problems that make ``skeleton`` wrong against ``reference`` (empty when fine)."""
    problems: list[str] = []
    wanted = generate(reference)
    try:
        locked = json.loads(lock.read_text())
    except (OSError, ValueError):
        locked = {}
    for name, digest in fingerprint(reference).items():
        if locked.get(name) != digest:
            problems.append(
                f"skeleton/{name} is stale: reference/{name} changed since the skeleton was "
                "generated; run `nox -s skeleton`"
            )
    present = {p.name for p in skeleton.glob("*.py")}
    for name in sorted(present - wanted.keys()):
        problems.append(f"skeleton/{name} has no counterpart in the reference")
    for name, text in wanted.items():
        target = skeleton / name
        if not target.exists():
            problems.append(f"skeleton/{name} is missing: run `nox -s skeleton`")
            continue
        actual = target.read_text(encoding="utf-8")
        ref_source = (reference / name).read_text(encoding="utf-8")
        if _signatures(actual) != _signatures(ref_source):
            problems.append(f"skeleton/{name}: public signatures differ from the reference")
        if actual != text:
            problems.append(
                f"skeleton/{name} is stale against the reference: run `nox -s skeleton`"
            )
        problems.extend(f"skeleton/{name}: {leak}" for leak in leaks(ref_source, actual))
    return problems


def leaks(reference_source: str, skeleton_source: str) -> list[str]:
    """Solution lines of the reference that appear in the skeleton text.

    A line counts only if it is code (not blank, not a comment) and does not also
    appear outside the solution regions of the reference (then it is given code).
    """
    given_text, regions = split(reference_source)
    given = {line.strip() for line in given_text.splitlines()}
    skeleton_lines = {line.strip() for line in skeleton_source.splitlines()}
    found = []
    for region in regions:
        for line in region.lines:
            code = line.strip()
            if code and not code.startswith("#") and code not in given and code in skeleton_lines:
                found.append(f"solution line of {region.qualname} leaked: {code!r}")
    return found


def main(argv: list[str]) -> int:
    if argv == ["write"]:
        for path in write():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if argv == ["check"]:
        problems = check()
        for problem in problems:
            print(problem)
        print("skeleton is up to date" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    print("usage: python -m tools.skeleton write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
