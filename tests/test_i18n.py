"""The course in two languages: complete catalogs, reports in Spanish with no English
sentence outside code, the same scores in both languages, and the language chosen by
--lang, the student's pyproject.toml, the roster or the course's default."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import cli, i18n, rubric
from grader.classic import MISTAKES
from grader.discover import Submission, own_language
from grader.i18n import _
from grader.mistakes import VARIANTS, materialize
from grader.roster import Roster, Student
from tools import i18n as catalogs

ROOT = Path(__file__).resolve().parent.parent
# Planted bugs from every lab: wrong op, backward order, training, network shapes.
BUGS = (
    "bug-add-without-upstream",
    "bug-rsub-wrong-order",
    "bug-backward-forward-order",
    "bug-fit-wrong-update-sign",
    "bug-zero-weight-init",
)
# Words of English prose that Spanish never uses: two of them on one line of a Spanish
# report (outside code, links and the student's own output) make an English sentence.
ENGLISH = frozenset(
    {
        "the",
        "and",
        "of",
        "is",
        "are",
        "your",
        "you",
        "with",
        "must",
        "this",
        "that",
        "was",
        "were",
        "should",
        "each",
        "when",
        "which",
        "from",
        "its",
        "be",
        "for",
        "to",
        "an",
        "or",
        "not",
        "but",
        "by",
        "than",
        "then",
        "got",
        "expected",
        "passed",
        "failed",
        "checks",
        "points",
        "here",
        "what",
        "would",
        "does",
        "did",
        "could",
        "into",
        "only",
        "every",
        "after",
        "before",
        "because",
        "while",
        "their",
        "there",
        "these",
        "those",
        "it",
        "how",
        "why",
    }
)


def english_lines(text: str) -> list[str]:
    """Lines of a Markdown or plain-text report that read as English prose once code
    (fences, `spans`), link targets and URLs are taken out."""
    found = []
    prose = re.sub(r"```.*?```", " ", text, flags=re.S)
    for line in prose.splitlines():
        bare = re.sub(r"`[^`]*`", " ", line)
        bare = re.sub(r"\]\([^)]*\)", "] ", bare)
        bare = re.sub(r"https?://\S+|\S*/\S*|\S+\.(md|py|toml|html|json)\S*", " ", bare)
        words = set(re.findall(r"[a-z]+", bare.lower()))
        if len(words & ENGLISH) >= 2:
            found.append(line.strip())
    return found


def html_text(page: str) -> str:
    """The text of an HTML page a reader sees, code and scripts left out, one line per
    block."""
    page = re.sub(r"<(code|pre|script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<(br|p|div|li|tr|h\d|section|details|summary|text|title)\b", "\n<", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_detector_finds_english_prose() -> None:
    assert english_lines("Both parents of a sum receive the upstream gradient unchanged.")
    assert english_lines("Hint: the gradient must flow to each parent")
    assert not english_lines("Ambos padres de una suma reciben el gradiente sin cambios.")
    assert not english_lines("```python\nthe and of is are\n```\n`the value of x`")


def test_the_catalogs_are_complete_and_compiled() -> None:
    assert catalogs.problems() == []


def test_a_missing_or_broken_translation_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locale = tmp_path / "locale"
    monkeypatch.setattr(catalogs, "TEMPLATE", locale / "grader.pot")
    monkeypatch.setattr(catalogs, "po_path", lambda lang, root=locale: locale / lang / "g.po")
    monkeypatch.setattr(catalogs, "mo_path", lambda lang, root=locale: locale / lang / "g.mo")
    catalogs.update()
    found = catalogs.problems()
    assert any("no translation of" in line for line in found)
    catalog = catalogs.read(locale / "es" / "g.po", "es")
    for m in catalog:
        if m.id and isinstance(m.id, str):
            m.string = "traducido {extra}"  # a field no English message has
    catalogs._write_po(catalog, locale / "es" / "g.po")
    found = catalogs.problems()
    assert any("has the fields" in line for line in found)
    assert any(".mo is older" in line for line in found)


def test_a_message_inside_an_f_string_is_refused() -> None:
    hidden = catalogs.HIDDEN_CALL.search
    assert hidden("""        f'<p><a href="#x">{esc(_("Back to the class"))}</a></p>'""")
    assert hidden("""    return f"{_('compare')}" """)
    assert not hidden("""    text = _("{n} points").format(n=n)""")
    assert not hidden("""    text = f"{_(NAME)}" """)  # a constant, marked with N_ where written
    assert catalogs.hidden_calls() == []


def test_every_message_the_code_uses_is_in_the_catalog() -> None:
    code = {m.id for m in catalogs.template() if m.id}
    assert len(code) > 300, "the grader's messages are extracted"
    with i18n.language("es"):
        untranslated = [m for m in code if isinstance(m, str) and _(m) == m and m.strip()]
    # Texts that read the same in both languages ("total") are translated as themselves
    spanish = catalogs.read(catalogs.po_path("es"), "es")
    unsaid = [m for m in untranslated if getattr(spanish.get(m), "string", None) != m]
    assert not unsaid, unsaid[:5]


def test_choosing_the_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def sub(name: str, lang: str = "") -> Submission:
        folder = tmp_path / name
        folder.mkdir()
        if lang:
            (folder / "pyproject.toml").write_text(f'[tool.minigrad]\nlanguage = "{lang}"\n')
        return Submission(name, folder)

    subs = [sub("ana", "es"), sub("bo"), sub("cy"), sub("di", "klingon"), sub("ed", "Spanish")]
    roster = Roster(
        "roster.csv",
        ["login", "Language"],
        [
            Student("bo", fields={"login": "bo", "Language": "Español"}),
            Student("cy", fields={"login": "cy", "Language": ""}),
            Student("di", fields={"login": "di", "Language": "en"}),
        ],
    )
    chosen = {s.name: s.lang for s in cli._languages(subs, None, roster)}
    assert chosen == {"ana": "es", "bo": "es", "cy": "en", "di": "en", "ed": "es"}
    assert "klingon" in capsys.readouterr().err
    forced = {s.name: s.lang for s in cli._languages(subs, "en", roster)}
    assert set(forced.values()) == {"en"}
    assert own_language(tmp_path / "ana") == "es"
    (tmp_path / "bo" / "pyproject.toml").write_text("[tool.minigrad\nlanguage=")
    assert own_language(tmp_path / "bo") == ""  # malformed: ignored, never a crash


def test_the_language_is_per_block() -> None:
    title = "Lab 1: the ten ops"
    with i18n.language("es"):
        spanish = _(title)
        with i18n.language("en"):
            assert _(title) == title
    assert spanish != title and _(title) == title
    with pytest.raises(i18n.LanguageError, match="use one of en, es"):
        i18n.check("fr")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Five planted-bug engines graded in Spanish (--lang es), and as a mixed class: the
    first two students chose Spanish in their pyproject.toml, the others nothing (the
    course's English), no --lang."""
    base = tmp_path_factory.mktemp("i18n")
    variants = {v.id: v for v in VARIANTS}
    for bug in BUGS:
        materialize(variants[bug], base / "class" / bug)
    shutil.copytree(base / "class", base / "mixed")
    for bug in BUGS[:2]:
        (base / "mixed" / bug / "pyproject.toml").write_text('[tool.minigrad]\nlanguage = "es"\n')
    outs = {}
    for run, folder, lang in (("es", "class", ["--lang", "es"]), ("mixed", "mixed", [])):
        outs[run] = base / f"out-{run}"
        command = [sys.executable, "-m", "grader", str(base / folder), "--jobs", "2", *lang]
        done = subprocess.run(
            [*command, "--out", str(outs[run])],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outs[f"{run}-console"] = Path(base / f"console-{run}.txt")
        outs[f"{run}-console"].write_text(done.stdout + done.stderr)
    return outs


def test_one_class_can_mix_languages(graded: dict[str, Path]) -> None:
    for bug in BUGS:
        report = (graded["mixed"] / bug / "report.md").read_text()
        if bug in BUGS[:2]:
            same = (graded["es"] / bug / "report.md").read_text()
            assert _without_times(report) == _without_times(same)
        else:
            assert report.startswith("# minigrad report")
    # The class page is in the course's language (English here), whatever each report's:
    # the checks and mistakes it names are the rubric's own English text.
    page = html_text((graded["mixed"] / "index.html").read_text())
    english = [i.name for i in rubric.RUBRIC.items.values()]
    english += [m.explain for m in MISTAKES.values()]
    with i18n.language("es"):
        spanish = [_(text) for text in english]
    assert any(text in page for text in english)
    assert not [text for text in spanish if text in page and text not in english]


def _without_times(text: str) -> str:
    return re.sub(r"\d+(\.\d+)? ?s\b", "<time>", text)


@pytest.mark.parametrize("bug", BUGS)
def test_a_spanish_report_has_no_english_sentence(graded: dict[str, Path], bug: str) -> None:
    folder = graded["es"] / bug
    md = (folder / "report.md").read_text()
    assert "Error más probable" in md or "Puntuación" in md or "puntos" in md
    assert english_lines(md) == []
    assert english_lines(html_text((folder / "report.html").read_text())) == []
    results = json.loads((folder / "results.json").read_text())
    shown = [results["output"]] + [
        t["name"] + "\n" + t["output"].replace(t["extra_data"]["counterexample"] or "\0", "")
        for t in results["tests"]
    ]
    assert english_lines("\n".join(shown)) == []
    # Links to a lab statement land in the Spanish statement, on an anchor it has.
    for target, anchor in re.findall(r"\]\(([^)#]*labs/[^)#]*\.md)#([^)]*)\)", md):
        assert "/es/" in target, target
        statement = (folder / target).resolve()
        assert statement.is_file(), target
        assert f'id="{anchor}"' in statement.read_text(), (target, anchor)


def test_the_language_changes_no_score(graded: dict[str, Path]) -> None:
    for bug in BUGS[2:]:  # English in the mixed class
        es = json.loads((graded["es"] / bug / "results.json").read_text())
        en = json.loads((graded["mixed"] / bug / "results.json").read_text())
        assert es["score"] == en["score"]
        assert [t["score"] for t in es["tests"]] == [t["score"] for t in en["tests"]]
        assert es["extra_data"]["language"] == "es" and en["extra_data"]["language"] == "en"
    assert english_lines((graded["es"] / "summary.md").read_text()) == []
    assert english_lines(html_text((graded["es"] / "index.html").read_text())) == []
    assert english_lines(graded["es-console"].read_text()) == []
    # The pictures, in both languages: the class histogram and a failed fit's loss curve
    for lang, run in (("es", "es"), ("en", "mixed")):
        assert "<svg" in (graded[run] / "index.html").read_text()
        page = (graded[run] / "bug-fit-wrong-update-sign" / "report.html").read_text()
        assert page.count("<polyline") >= 2, "the student's loss beside a correct run's"
        assert f'<html lang="{lang}"' in page


def test_the_course_default_comes_from_the_rubric(tmp_path: Path) -> None:
    text = (ROOT / "grader" / "rubric.toml").read_text()
    assert 'language = "en"' in text
    path = tmp_path / "rubric.toml"
    path.write_text(text.replace('language = "en"', 'language = "es"'))
    assert rubric.load(path).language == "es"
    path.write_text(text.replace('language = "en"', 'language = "fr"'))
    with pytest.raises(
        rubric.RubricError, match=r"\[course\] language: no catalog for language 'fr'"
    ):
        rubric.load(path)
