"""Build the student repository (the "release") from this course repository.

    python -m tools.release OUT_DIR

writes into OUT_DIR (new or empty; a lone ``.git`` is kept) what students get:

    README.md, noxfile.py, pyproject.toml, .gitignore   (from tools/release_templates/)
    .github/workflows/grade.yml                          (rendered from WORKFLOW_STEPS below)
    labs/                  the lab statements, copied
    src/minigrad/          the skeleton (skeleton/src/minigrad), checked fresh first
    grader/                the grader with its PUBLIC part only (see below)
    requirements/          the pinned requirements, copied
    tests/test_example.py  a sample test of the student's own

The public grader: ``grader/rubric.toml`` lists only the checks whose visibility is
``visible``; the code of the other checks is removed from ``grader/`` (the functions
registered under their ids, and dict entries keyed by their ids, such as diagnosis
rules), with the module-level names only that code used. Everything else of the grader
is shipped as is, so a student's run and CI show exactly what the public checks do.
The catalog of planted-bug variants (``grader/mistakes/``: copies of solution lines) is
instructor-only and left out; the student-facing explanations of the mistakes live in
``grader/diagnoses.toml`` and ship with the grader.

Then the release is checked (``leak_check``, ``verify``); any finding fails the release
with exit status 1 and one line per finding (``path:line: what``). OUT_DIR must then
not be published. Exit status 2 is a usage error.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import answer_key
from tools import skeleton

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).with_name("release_templates")
RUBRIC = ROOT / "grader" / "rubric.toml"
MISTAKES_DIR = ROOT / "grader" / "mistakes"
MISTAKES_CATALOG = MISTAKES_DIR / "catalog.toml"
PUBLIC = "visible"

# Released path -> template file (``{{name}}`` placeholders, see ``_values``).
TEMPLATE_FILES = {
    "README.md": "README.md",
    "noxfile.py": "noxfile.py.txt",
    "pyproject.toml": "pyproject.toml.txt",
    ".gitignore": "gitignore.txt",
    "tests/test_example.py": "test_example.py.txt",
}
WORKFLOW_PATH = ".github/workflows/grade.yml"

# The workflow, as data: rendered to YAML by ``render_workflow`` and read back by the
# tests, which run every ``run`` command (or what the nox session it names runs).
# The grader exits 0 whatever the score, 1 when it could not grade, 2 on a usage
# error: so a red job means "grading could not run", never "points were lost".
# Actions are pinned to their current majors (checked 2026-11: checkout v7,
# setup-python v7, cache v6, upload-artifact v7; Classroom's reporter v1).
LABS_ONLINE = "${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/blob/${GITHUB_SHA}/labs/"
WORKFLOW_STEPS: list[dict[str, str | dict[str, str]]] = [
    {"uses": "actions/checkout@v7"},
    {"uses": "actions/setup-python@v7", "with": {"python-version": "3.11"}},
    {
        "name": "Cache the grading environment",
        "uses": "actions/cache@v6",
        "with": {
            "path": ".nox\n~/.cache/pip",
            "key": "grade-${{ runner.os }}-py3.11-${{ hashFiles('requirements/*.txt', "
            "'noxfile.py') }}",
        },
    },
    {"name": "Install nox", "run": "python -m pip install nox"},
    {"name": "Grade the public checks", "run": "nox -s check -- --out reports"},
    {
        "name": "Explain a red job",
        "if": "failure()",
        "run": 'echo "::error::grading could not run (lost points never fail this job)"',
    },
    {
        # The report's links to the lab statements, made absolute for the summary page.
        "name": "Write the report into the job summary",
        "if": "always()",
        "run": f'sed "s#](../_labs/#]({LABS_ONLINE}#g" reports/*/report.md '
        '>> "$GITHUB_STEP_SUMMARY"',
    },
    {
        "name": "Count the points for GitHub Classroom",
        "id": "minigrad",
        "if": "always()",
        "run": 'python -m grader.classroom reports >> "$GITHUB_OUTPUT"',
    },
    {
        "name": "Report the points to GitHub Classroom",
        "if": "always()",
        "uses": "classroom-resources/autograding-grading-reporter@v1",
        "env": {"MINIGRAD_RESULTS": "${{ steps.minigrad.outputs.result }}"},
        "with": {"runners": "minigrad"},
    },
    {
        "name": "Upload the reports",
        "if": "always()",
        "uses": "actions/upload-artifact@v7",
        "with": {
            "name": "grading-report",
            "path": "reports/**/results.json\nreports/**/report.md\nreports/**/report.html\n"
            "reports/**/junit.xml\nreports/_labs/",
            "if-no-files-found": "warn",
        },
    },
]

# Solution lines that the PUBLIC grader contains on purpose, per released file. Reviewed:
# grader/child/worker.py holds the grader's own textbook training loop (`train.engine_sgd`
# runs it on the student's engine; lab04 describes it step by step), whose lines
# coincide with lines of the reference `fit` and `zero_grad`.
ALLOWED_SOLUTION_LINES: dict[str, frozenset[str]] = {
    "grader/child/worker.py": frozenset(
        {
            "for _ in range(epochs):",
            "p.grad = 0.0",
            "loss.backward()",
            "p.data -= lr * p.grad",
            "losses: list[float] = []",
        }
    ),
}

SKIP_DIRS = {
    ".git",
    ".nox",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
}
FORBIDDEN_PARTS = {"reference": "the hidden reference solution"}
FORBIDDEN_NAMES = {"skeleton.lock": "the skeleton lock of the instructor repository"}


class ReleaseError(Exception):
    """The release cannot be built as asked (one-line message)."""


class TargetError(ReleaseError):
    """OUT_DIR cannot receive a release (a usage error)."""


# ---------------------------------------------------------------- the rubric
def load_rubric(path: Path = RUBRIC) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def hidden_ids(raw: dict[str, Any]) -> list[str]:
    """Check ids that students must not see (visibility other than visible)."""
    return [str(c["id"]) for c in raw.get("check", []) if c.get("visibility", PUBLIC) != PUBLIC]


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise ReleaseError(f"cannot write {value!r} to TOML (only strings and numbers)")


def _toml_table(header: str, table: dict[str, Any]) -> list[str]:
    return [header, *(f"{key} = {_toml_value(v)}" for key, v in table.items()), ""]


def public_rubric(raw: dict[str, Any]) -> str:
    """The rubric with the visible checks only, as TOML (verified by reading it back)."""
    checks = [c for c in raw.get("check", []) if c.get("visibility", PUBLIC) == PUBLIC]
    public = {key: value for key, value in raw.items() if key != "check"} | {"check": checks}
    # Labs with no public check (such as the extra credit) are left out.
    public["labs"] = {
        lab: title
        for lab, title in public.get("labs", {}).items()
        if any(c.get("lab") == lab for c in checks)
    }
    lines = [
        "# The public rubric: the checks you can run yourself (`nox -s check`), what each",
        "# is worth and what you are told when it loses points. Generated from the",
        "# instructor's rubric; the final grade also runs checks that are not listed here.",
        "",
    ]
    for key, value in public.items():
        if key != "check":
            if not isinstance(value, dict):
                raise ReleaseError(f"rubric: top-level key {key!r} is not a table")
            lines += _toml_table(f"[{key}]", value)
    for lab in public.get("labs", {}):
        mine = [c for c in checks if c.get("lab") == lab]
        points = sum(c.get("points", 0) for c in mine)
        lines += [f"# {'-' * 60} {lab} ({points:g} points here)", ""]
        for entry in mine:
            lines += _toml_table("[[check]]", entry)
    text = "\n".join(lines).rstrip("\n") + "\n"
    if tomllib.loads(text) != public:
        raise ReleaseError("the public rubric does not read back as written")
    return text


def _lines_of(node: ast.stmt) -> tuple[int, int]:
    """First line (decorators included) and last line of a statement."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return start, node.end_lineno or node.lineno


def _check_id(node: ast.stmt) -> str | None:
    """The id that ``@check("id", ...)`` on this function registers, if any."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    for dec in node.decorator_list:
        if isinstance(dec, ast.Call) and dec.args:
            func = dec.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            first = dec.args[0]
            if name == "check" and isinstance(first, ast.Constant):
                return str(first.value)
    return None


_IMPORT_GAP = re.compile(r"^((?:import|from) .*)\n\n+(?=(?:import|from) )", re.MULTILINE)


def _drop(source: str, spans: Iterable[tuple[int, int]], comments: bool = False) -> str:
    """``source`` without the 1-based inclusive line spans, tidied as ruff would want it.

    With ``comments``, the comment lines right above a span (they describe it) go too.
    Blank runs are squeezed to two (one between imports), and comment lines left
    dangling at the end of the file go.
    """
    lines = source.splitlines()
    gone: set[int] = set()
    for start, end in spans:
        while comments and start > 1 and lines[start - 2].lstrip().startswith("#"):
            start -= 1
        gone.update(range(start, end + 1))
    kept = [line for number, line in enumerate(lines, 1) if number not in gone]
    while kept and (not kept[-1].strip() or kept[-1].startswith("#")):
        kept.pop()
    text = re.sub(r"\n{4,}", "\n\n\n", "\n".join(kept))
    return _IMPORT_GAP.sub(r"\1\n\n", text).strip("\n") + "\n"


def _hidden_code(source: str, ids: set[str], where: str) -> tuple[list[tuple[int, int]], set[str]]:
    """Line spans of the code that exists only for the hidden checks ``ids``, and the
    names that code reads (candidates for pruning once it is gone)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    spans: list[tuple[int, int]] = []
    reads: set[str] = set()
    for stmt in tree.body:
        if _check_id(stmt) in ids:
            spans.append(_lines_of(stmt))
            reads |= _loads(stmt)
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict) and node.keys:
            for span, value in _entry_spans(node, lines, ids, where):
                spans.append(span)
                reads |= _loads(value)
    return spans, reads


def _starts_line(lines: list[str], node: ast.expr) -> bool:
    return not lines[node.lineno - 1][: node.col_offset].strip()


def _entry_spans(
    node: ast.Dict, lines: list[str], ids: set[str], where: str
) -> list[tuple[tuple[int, int], ast.expr]]:
    """Line spans of the entries of ``node`` keyed by a hidden id.

    An entry runs from its key's line to the line before the next key (or before the
    closing brace), so parentheses and comments around the value go with it; this
    needs every key, and the closing brace, to start a line of its own.
    """
    spans: list[tuple[tuple[int, int], ast.expr]] = []
    ends = [k.lineno - 1 if k is not None else -1 for k in node.keys[1:]]
    ends.append((node.end_lineno or node.lineno) - 1)
    closing = lines[(node.end_lineno or node.lineno) - 1].strip()
    for index, (key, value, end) in enumerate(zip(node.keys, node.values, ends, strict=True)):
        if not (isinstance(key, ast.Constant) and key.value in ids):
            continue
        following = node.keys[index + 1 : index + 2]
        if (
            not _starts_line(lines, key)
            or not all(k is not None and _starts_line(lines, k) for k in following)
            or (not following and not closing.startswith("}"))
            or end < key.lineno
        ):
            raise ReleaseError(
                f"{where}:{key.lineno}: cannot cut the entry for hidden check "
                f"{key.value!r}: put it on lines of its own"
            )
        spans.append(((key.lineno, end), value))
    return spans


@dataclass(frozen=True)
class _Binding:
    name: str
    node: ast.stmt


def _bindings(tree: ast.Module) -> Iterator[_Binding]:
    """Top-level names that pruning may remove: defs, assigns, imports.

    Only names the removed code read are candidates at all, and a check (a function
    registered by its decorator) never is one.
    """
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if _check_id(node) is None:
                yield _Binding(node.name, node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            if isinstance(node.targets[0], ast.Name):
                yield _Binding(node.targets[0].id, node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield _Binding(node.target.id, node)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            for alias in node.names:
                yield _Binding((alias.asname or alias.name).split(".")[0], node)


def _loads(node: ast.AST) -> set[str]:
    """Names ``node`` reads, less those it binds itself (its locals, roughly: so that a
    local ``seed`` of removed code does not make the check ``seed`` a candidate)."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    bound = {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    bound |= {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
    return names - bound


def _prune(source: str, candidates: set[str], external: set[str]) -> str:
    """Remove the top-level names among ``candidates`` that nothing reads any more (in
    this module or ``external``); what a removed definition read becomes a candidate."""
    candidates = set(candidates)
    while True:
        tree = ast.parse(source)
        lines = source.splitlines()
        reads = [(stmt, _loads(stmt)) for stmt in tree.body]
        exported = {
            elt.value
            for stmt in tree.body
            if isinstance(stmt, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets)
            for elt in ast.walk(stmt.value)
            if isinstance(elt, ast.Constant)
        }
        unused: dict[int, set[str]] = {}
        for binding in _bindings(tree):
            name, node = binding.name, binding.node
            if name not in candidates or name in external or name in exported:
                continue
            if "noqa" in lines[node.lineno - 1]:
                continue
            if not any(name in used for stmt, used in reads if stmt is not node):
                unused.setdefault(id(node), set()).add(name)
        if not unused:
            return source
        spans: list[tuple[int, int]] = []
        for node in tree.body:
            names = unused.get(id(node))
            if not names:
                continue
            start, end = _lines_of(node)
            spans.append((start, end))
            candidates |= _loads(node)
            if isinstance(node, ast.Import | ast.ImportFrom):
                keep = [a for a in node.names if (a.asname or a.name).split(".")[0] not in names]
                if keep:  # rewrite the import with the names still read
                    node.names = keep
                    lines[start - 1] = ast.unparse(node)
                    spans[-1] = (start + 1, end)
        source = _drop("\n".join(lines) + "\n", [(a, b) for a, b in spans if a <= b])


def _external_uses(module: str, others: dict[str, str]) -> set[str]:
    """Names of ``module`` that the other released modules import or read as attributes."""
    short = module.rsplit(".", 1)[-1]
    used: set[str] = set()
    for source in others.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module == module:
                used.update(alias.name for alias in node.names)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == short
            ):
                used.add(node.attr)
    return used


def strip_hidden(sources: dict[str, str], ids: set[str]) -> dict[str, str]:
    """Released path -> source with the hidden checks' code cut out (others unchanged)."""
    result = dict(sources)
    touched: dict[str, set[str]] = {}
    for path, source in sources.items():
        spans, reads = _hidden_code(source, ids, path)
        if spans:
            result[path] = _drop(source, spans, comments=True)
            touched[path] = reads
    for path, reads in touched.items():
        module = path.removesuffix(".py").replace("/", ".")
        others = {p: s for p, s in result.items() if p != path}
        result[path] = _prune(result[path], reads, _external_uses(module, others))
    return result


# ---------------------------------------------------------------- the workflow
_PLAIN = re.compile(r"[A-Za-z][\w ./@()*=-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as that string: plain when safe."""
    if _PLAIN.fullmatch(value) and not value.endswith(" ") and value.lower() not in _YAML_WORDS:
        return value
    return "'" + value.replace("'", "''") + "'"


def render_workflow(steps: list[dict[str, str | dict[str, str]]] = WORKFLOW_STEPS) -> str:
    lines = [
        "# Grades every push with the PUBLIC checks (what `nox -s check` runs locally) and",
        "# writes the report into the job summary; the reports are uploaded as artifacts,",
        "# and the points of the public checks are reported to GitHub Classroom.",
        "# Losing points never fails this job: a red job means grading could not run.",
        "# Your grade is computed by your instructor with every check, from their copy",
        "# of the grader: editing this file, grader/ or tests/ cannot change it.",
        "name: grade",
        "",
        "on:",
        "  push:",
        "  workflow_dispatch:",
        "",
        "permissions:",
        "  contents: read",
        "  # Classroom's reporter writes the points as a check run annotation",
        "  checks: write",
        "  actions: read",
        "",
        "jobs:",
        "  grade:",
        "    runs-on: ubuntu-latest",
        "    timeout-minutes: 30",
        "    env:",
        "      # the CPU build of the pinned torch (PyPI's Linux wheel pulls GBs of CUDA)",
        "      PIP_EXTRA_INDEX_URL: https://download.pytorch.org/whl/cpu",
        "    steps:",
    ]
    for step in steps:
        prefix = "      - "
        for key, value in step.items():
            if isinstance(value, dict):
                lines.append(f"{prefix}{key}:")
                for sub, text in value.items():
                    if "\n" in text:
                        lines.append(f"          {sub}: |")
                        lines += [f"            {part}" for part in text.splitlines()]
                    else:
                        lines.append(f"          {sub}: {_yaml_scalar(text)}")
            else:
                lines.append(f"{prefix}{key}: {_yaml_scalar(value)}")
            prefix = "        "
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- building
def _values(raw: dict[str, Any]) -> dict[str, str]:
    checks = [c for c in raw.get("check", []) if not c.get("extra_credit", False)]
    public = [c for c in checks if c.get("visibility", PUBLIC) == PUBLIC]
    later = [c for c in checks if c.get("visibility", PUBLIC) != PUBLIC]
    total = sum(c["points"] for c in checks)
    shown = sum(c["points"] for c in public)
    return {
        "total_points": f"{total:g}",
        "public_points": f"{shown:g}",
        "public_count": str(len(public)),
        "later_points": f"{total - shown:g}",
        "later_count": str(len(later)),
    }


def render_template(name: str, values: dict[str, str]) -> str:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        left = re.findall(r"\{\{\s*\w*\s*\}\}", text)
        raise ReleaseError(f"template {name}: no value for {left}")
    return text


def _files(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted(
        p
        for p in folder.rglob(pattern)
        if p.is_file()
        and not SKIP_DIRS.intersection(p.relative_to(folder).parts)
        and p.suffix != ".pyc"
    )


def _check_target(out_dir: Path) -> None:
    out = out_dir.resolve()
    if out == ROOT or ROOT in out.parents or out in ROOT.parents:
        raise TargetError(f"{out_dir}: give a folder outside the course repository {ROOT}")
    if out.exists() and (not out.is_dir() or any(p.name != ".git" for p in out.iterdir())):
        raise TargetError(f"{out_dir}: give a new or empty folder (a lone .git is kept)")


def _write(out_dir: Path, rel: str, text: str) -> None:
    target = out_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def build(out_dir: Path) -> None:
    """Write the student repository into ``out_dir`` (new or empty)."""
    _check_target(out_dir)
    stale = skeleton.check()
    if stale:
        raise ReleaseError("the skeleton is not releasable: " + "; ".join(stale))
    raw = load_rubric()
    hidden = set(hidden_ids(raw))
    out_dir.mkdir(parents=True, exist_ok=True)

    for rel, template in TEMPLATE_FILES.items():
        _write(out_dir, rel, render_template(template, _values(raw)))
    _write(out_dir, WORKFLOW_PATH, render_workflow())
    for folder, target in (
        (ROOT / "labs", "labs"),
        (skeleton.SKELETON, "src/minigrad"),
        (ROOT / "requirements", "requirements"),
    ):
        for path in _files(folder):
            dest = out_dir / target / path.relative_to(folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)

    # The grader: its Python with the hidden checks cut out, the rubric filtered, any
    # other file (data the grader reads) as is, and without the instructor-only catalog
    # of planted bugs (grader/mistakes/); leak_check guards all of it.
    grader = ROOT / "grader"
    sources: dict[str, str] = {}
    for path in _files(grader):
        rel = f"grader/{path.relative_to(grader).as_posix()}"
        if path.is_relative_to(MISTAKES_DIR):
            continue
        if path.suffix == ".py":
            sources[rel] = path.read_text(encoding="utf-8")
        elif path not in (RUBRIC, MISTAKES_CATALOG):
            (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out_dir / rel)
    for rel, text in strip_hidden(sources, hidden).items():
        _write(out_dir, rel, text)
    _write(out_dir, "grader/rubric.toml", public_rubric(raw))
    # The answer key of the public checks, so that a student's check needs no PyTorch
    # (none when this grader has no key and no PyTorch to build one: still correct).
    public = {str(c["id"]) for c in raw.get("check", []) if c.get("visibility", PUBLIC) == PUBLIC}
    key = answer_key.public_key(public, out_dir / "grader")
    if key is None:
        print("release: no answer key shipped (run `nox -s grade` once to build it)")
    else:
        _write(out_dir, f"grader/{answer_key.SHIPPED}", key.to_json(with_checks=False))


# ---------------------------------------------------------------- checking
def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def _digest(text: str) -> str:
    return hashlib.sha256(_normal(text).encode("utf-8")).hexdigest()


def solution_lines(reference: Path = skeleton.REFERENCE) -> dict[str, str]:
    """Solution line (stripped) -> where it comes from, like tools.skeleton.leaks.

    Code lines of the solution regions of every reference module, except lines that
    also appear outside the regions of any reference module (given code).
    """
    given: set[str] = set()
    found: dict[str, str] = {}
    for path in sorted(reference.glob("*.py")):
        given_text, regions = skeleton.split(path.read_text(encoding="utf-8"), str(path))
        given.update(line.strip() for line in given_text.splitlines())
        for region in regions:
            for line in region.lines:
                code = line.strip()
                if code and not code.startswith("#"):
                    found.setdefault(code, f"{path.name} {region.qualname}")
    return {code: where for code, where in found.items() if code not in given}


def instructor_files() -> dict[str, str]:
    """Digest of each instructor-only file -> its path in the course repository.

    The reference modules that hold solutions, the reference tests, the instructor's
    own tests, the skeleton lock and the planted-bug catalog. Empty files do not count.
    """
    paths = [
        p
        for p in sorted(skeleton.REFERENCE.glob("*.py"))
        if skeleton.split(p.read_text(encoding="utf-8"))[1]
    ]
    paths += sorted((ROOT / "reference" / "tests").glob("*.py"))
    paths += sorted((ROOT / "tests").glob("*.py"))
    paths += [skeleton.LOCK, MISTAKES_CATALOG]
    return {
        _digest(p.read_text(encoding="utf-8")): p.relative_to(ROOT).as_posix()
        for p in paths
        if p.is_file() and _normal(p.read_text(encoding="utf-8"))
    }


def _lab_lines() -> set[str]:
    """Lines of the instructor's lab statements (they name the later checks on purpose)."""
    return {
        line.strip()
        for path in _files(ROOT / "labs")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
    }


_QUOTED = re.compile(r"""(["'])(.+?)(?<!\\)\1""")


def leak_check(out_dir: Path) -> list[str]:
    """Every place in ``out_dir`` where something instructor-only shows (empty: none).

    Looked for in every text file (``.git`` and tool caches are skipped): instructor-
    only paths, copies of instructor-only files, solution lines (a whole line, or a
    whole quoted string, as in a catalog of planted bugs), hidden check ids (allowed only
    on lines of the lab statements, which announce the checks shown after the due date).
    """
    solutions = solution_lines()
    digests = instructor_files()
    hidden = hidden_ids(load_rubric())
    hidden_re = re.compile(
        r"(?<![\w.])(" + "|".join(re.escape(cid) for cid in hidden) + r")(?![\w])"
    )
    lab_lines = _lab_lines()
    problems: list[str] = []
    for path in _files(out_dir):
        rel = path.relative_to(out_dir).as_posix()
        parts = path.relative_to(out_dir).parts
        for part in parts[:-1]:
            if part in FORBIDDEN_PARTS:
                problems.append(f"{rel}: instructor-only folder {part}/ ({FORBIDDEN_PARTS[part]})")
        if parts[-1] in FORBIDDEN_NAMES:
            problems.append(f"{rel}: instructor-only file ({FORBIDDEN_NAMES[parts[-1]]})")
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        if _normal(text) and _digest(text) in digests:
            problems.append(f"{rel}: a copy of the instructor-only {digests[_digest(text)]}")
        allowed = ALLOWED_SOLUTION_LINES.get(rel, frozenset())
        for number, line in enumerate(text.splitlines(), 1):
            code = line.strip()
            quoted = [m.group(2).strip() for m in _QUOTED.finditer(code)]
            for candidate in dict.fromkeys([code, *quoted]):
                if candidate in solutions and candidate not in allowed:
                    problems.append(
                        f"{rel}:{number}: solution line of {solutions[candidate]}: {candidate!r}"
                    )
            if hidden and code not in lab_lines:
                for match in dict.fromkeys(hidden_re.findall(line)):
                    problems.append(f"{rel}:{number}: hidden check id {match!r}")
    return problems


VERIFY = """
import json
from grader.checks import REGISTRY
from grader.rubric import RUBRIC
print(json.dumps({"registry": sorted(REGISTRY), "rubric": sorted(RUBRIC.items)}))
"""


def verify(out_dir: Path) -> list[str]:
    """Problems with the released grader itself: it must import, and its registered
    checks must be exactly the public rubric's (run with this interpreter, which needs
    requirements/grade.txt installed)."""
    done = subprocess.run(
        [sys.executable, "-E", "-B", "-c", VERIFY],
        cwd=out_dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return [
            f"grader/: the released grader does not import: {last} (the release must run "
            "with requirements/grade.txt installed)"
        ]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    registry, rubric = set(found["registry"]), set(found["rubric"])
    problems = [
        f"grader/: check {c} is registered but not in the rubric" for c in registry - rubric
    ]
    problems += [f"grader/: check {c} is in the rubric but has no code" for c in rubric - registry]
    wanted = {
        str(c["id"])
        for c in load_rubric().get("check", [])
        if c.get("visibility", PUBLIC) == PUBLIC
    }
    if rubric != wanted:
        problems.append(f"grader/rubric.toml: lists {sorted(rubric ^ wanted)} wrongly")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m tools.release OUT_DIR", file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    try:
        build(out_dir)
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, TargetError) else 1
    problems = leak_check(out_dir) + verify(out_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"release FAILED: {len(problems)} problem(s); do not publish {out_dir}",
            file=sys.stderr,
        )
        return 1
    count = len(_files(out_dir))
    print(f"release written to {out_dir}: {count} files, no leak found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
