"""The grader's message catalogs, managed with Babel.

    python -m tools.i18n update    extract every message, update each language's .po, compile
    python -m tools.i18n compile   compile each .po to its .mo (after editing translations)
    python -m tools.i18n merge PART.po ...   fill missing translations from a translator's file
    python -m tools.i18n check     exit 1 when a catalog is stale or lacks a translation

Messages come from two places: the grader's Python code (``_``, ``N_`` and ``ngettext``
calls, extracted by Babel) and what instructors write in the rubric's TOML files (check
titles and hints, lab titles, the classic mistakes' explanations). The template is
``grader/locale/grader.pot``; each language has ``grader/locale/LANG/LC_MESSAGES/
grader.po`` (edited by translators) and ``grader.mo`` (compiled, what the grader reads).
"""

from __future__ import annotations

import io
import re
import string
import sys
import tomllib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from grader.i18n import DOMAIN, ENGLISH, LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).resolve().parent.parent
GRADER = ROOT / "grader"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
# The child program runs confined without the grader's modules: it sends data, and the
# grader words it. Instructor-only tools (the mistakes' matrix) are not translated.
SKIP = ("child", "mistakes")  # folders of grader/
# The fields a student or TA reads, per TOML file of grader/ (and every [labs] title)
TOML_TEXT = {
    "rubric.toml": ("name", "message"),
    "rubric_hidden.toml": ("name", "message"),
    "diagnoses.toml": ("explain",),
}


def po_path(lang: str, root: Path = LOCALE_DIR) -> Path:
    return root / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str, root: Path = LOCALE_DIR) -> Path:
    return root / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def translated_languages() -> list[str]:
    return [lang for lang in LANGUAGES if lang != ENGLISH]


def _python_messages() -> Iterator[tuple[str, int, str | tuple[str, ...], list[str]]]:
    method_map = [*((f"{folder}/**", "ignore") for folder in SKIP), ("**.py", "python")]
    for filename, lineno, message, comments, _context in extract_from_dir(
        GRADER,
        method_map=method_map,
        keywords=KEYWORDS,
        comment_tags=("i18n:",),
        strip_comment_tags=True,
    ):
        yield f"grader/{filename}", lineno, message, list(comments)


def _strings(value: object) -> Iterator[tuple[str, str]]:
    """(field, text) for every student-facing field anywhere in a TOML document."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                yield key, item
            else:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _toml_messages() -> Iterator[tuple[str, int, str, list[str]]]:
    for name, wanted in TOML_TEXT.items():
        path = GRADER / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
        for key, value in _strings(data):
            if key in wanted or value in data.get("labs", {}).values():
                yield f"grader/{name}", _line_of(text, value), value, [f"{name}: {key}"]


def _line_of(text: str, value: str) -> int:
    at = text.find(value[:60])
    return text.count("\n", 0, at) + 1 if at >= 0 else 0


def template() -> Catalog:
    """The template: every message the grader can show, with where it comes from."""
    catalog = Catalog(project="minigrad-lab", domain=DOMAIN, fuzzy=False)
    found: Iterable[tuple[str, int, str | tuple[str, ...], list[str]]] = [
        *_python_messages(),
        *_toml_messages(),
    ]
    for where, lineno, message, comments in found:
        catalog.add(message, locations=[(where, lineno)], auto_comments=comments)
    return catalog


def _write_po(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    write_po(buf, catalog, width=96, omit_header=False, sort_output=False, no_location=False)
    text = _stable(buf.getvalue().decode("utf-8"))
    path.write_text(text, encoding="utf-8")


def _stable(text: str) -> str:
    """The .po text without the lines that change at every run (dates, Babel's version)."""
    drop = ("POT-Creation-Date", "PO-Revision-Date", "Generated-By")
    return "".join(
        line for line in text.splitlines(keepends=True) if not any(d in line for d in drop)
    )


def read(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def _save(catalog: Catalog, path: Path) -> None:
    """Write ``catalog`` to ``path`` (a .pot, or a language's .po and its .mo beside)."""
    _write_po(catalog, path)
    if path.suffix == ".po":
        path.with_suffix(".mo").write_bytes(compiled(catalog))


def compiled(catalog: Catalog) -> bytes:
    """The .mo bytes: the same for the same catalog on any day (Babel would stamp the
    header with the time of the run)."""
    catalog.creation_date = catalog.revision_date = FIXED_DATE
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def update() -> None:
    tmpl = template()
    _save(tmpl, TEMPLATE)
    for lang in translated_languages():
        path = po_path(lang)
        catalog = read(path, lang) if path.exists() else Catalog(locale=lang, domain=DOMAIN)
        catalog.update(tmpl, update_header_comment=False, no_fuzzy_matching=True)
        _save(catalog, path)


def merge(parts: list[Path], lang: str = "es") -> int:
    """Fill the translations ``lang``'s catalog lacks from other .po files (a
    translator's part); returns how many were filled. Compiles the result."""
    catalog = read(po_path(lang), lang)
    filled = 0
    for part in parts:
        for m in read(part, lang):
            if not m.id or not m.string or m.fuzzy:
                continue
            mine = catalog.get(m.id)
            if mine is not None and not (
                mine.string if not isinstance(mine.string, tuple) else all(mine.string)
            ):
                mine.string = m.string
                filled += 1
    _save(catalog, po_path(lang))
    return filled


def drop_private(locale_dir: Path, private: tuple[str, ...]) -> int:
    """Remove from the catalogs under ``locale_dir`` every message used only in files
    under ``private`` (paths such as ``grader/checks/hidden``): the student release
    ships no text of the hidden checks. Recompiles; returns how many were removed."""
    removed = 0

    def public(m: Message) -> bool:
        return not m.locations or any(not where.startswith(private) for where, _ in m.locations)

    for path in [
        locale_dir / TEMPLATE.name,
        *(po_path(lang, locale_dir) for lang in translated_languages()),
    ]:
        if not path.exists():
            continue
        lang = None if path.suffix == ".pot" else path.parent.parent.name
        catalog = read(path, lang)
        for m in list(catalog):
            if m.id and not public(m):
                catalog.delete(m.id)
                removed += 1
        _save(catalog, path)
    return removed


def compile_all() -> None:
    for lang in translated_languages():
        mo_path(lang).write_bytes(compiled(read(po_path(lang), lang)))


def _fields(text: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError:
        return {"<malformed>"}


def _texts(message: Message) -> list[tuple[str, str]]:
    """(English, translation) pairs of a message: one, or one per plural form."""
    ids = (
        [str(i) for i in message.id] if isinstance(message.id, (tuple, list)) else [str(message.id)]
    )
    raw = message.string
    strs = [str(s or "") for s in raw] if isinstance(raw, (tuple, list)) else [str(raw or "")]
    return [(ids[min(i, len(ids) - 1)], s) for i, s in enumerate(strs)]


HIDDEN_CALL = re.compile(r"""\bf(["']).*\{[^}]*\b(_|N_|ngettext)\(\s*["']""")


def hidden_calls() -> list[str]:
    """``_("...")`` written inside an f-string: Babel cannot see it, so it would never
    reach the catalog (take it out into a variable)."""
    found = []
    for path in sorted(GRADER.rglob("*.py")):
        rel = path.relative_to(GRADER).as_posix()
        if rel.split("/")[0] in SKIP:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if HIDDEN_CALL.search(line):
                found.append(
                    f"grader/{rel}:{number}: a message inside an f-string is not extracted"
                )
    return found


def problems() -> list[str]:
    """Why the catalogs are not ready: stale template, missing or broken translations."""
    out: list[str] = hidden_calls()
    want = {m.id for m in template() if m.id}
    have = {m.id for m in read(TEMPLATE) if m.id} if TEMPLATE.exists() else set()
    for text in sorted(map(str, want - have))[:10]:
        out.append(f"grader.pot lacks {text!r}: run `nox -s i18n`")
    for text in sorted(map(str, have - want))[:10]:
        out.append(f"grader.pot still has {text!r}, which no code uses: run `nox -s i18n`")
    for lang in translated_languages():
        path = po_path(lang)
        if not path.exists():
            out.append(f"no catalog for {lang}: run `nox -s i18n` and translate {path}")
            continue
        catalog = read(path, lang)
        ids = {m.id for m in catalog if m.id}
        for text in sorted(map(str, want - ids))[:10]:
            out.append(f"{lang}: {text!r} is not in {path.name}: run `nox -s i18n`")
        for m in catalog:
            if not m.id:
                continue
            for english, translated in _texts(m):
                if not translated or m.fuzzy:
                    out.append(f"{lang}: no translation of {english!r}")
                elif _fields(english) != _fields(translated):
                    out.append(
                        f"{lang}: the translation of {english!r} has the fields "
                        f"{sorted(_fields(translated))}, not {sorted(_fields(english))}"
                    )
        mo = mo_path(lang)
        if not mo.exists() or mo.read_bytes() != compiled(catalog):
            out.append(f"{lang}: {mo.name} is older than {path.name}: run `nox -s i18n`")
    return out


def main(argv: list[str]) -> int:
    if argv == ["update"]:
        update()
    elif argv[:1] == ["merge"] and len(argv) > 1:
        print(f"filled {merge([Path(a) for a in argv[1:]])} translations")
    elif argv == ["compile"]:
        compile_all()
    elif argv == ["check"]:
        found = problems()
        for line in found[:40]:
            print(f"i18n: {line}", file=sys.stderr)
        if len(found) > 40:
            print(f"i18n: ... and {len(found) - 40} more", file=sys.stderr)
        return 1 if found else 0
    else:
        print("usage: python -m tools.i18n update|compile|check|merge PART.po ...", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
