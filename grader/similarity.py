"""Similarity: flag engines that are unusually alike, with a side-by-side view of the match.

Fingerprinting is copydetect's (winnowed k-grams of the tokenized code, identifiers and
strings normalized, so renaming variables or rewording comments does not hide a copy).
It runs in the grader's process on the student's source as TEXT: the ``.py`` files of
``src/minigrad/`` are read (regular files only, never a link, at most ``MAX_BYTES`` each)
and never imported or run.

- Every pair of submissions is compared; the skeleton's given code is boilerplate (its
  fingerprints are discounted), so two untouched skeletons match nothing.
- Every submission is compared with each entry of the archive: the instructor's folder
  of known implementations (a public repository of this engine, last year's
  submissions). An archive entry is a sub-folder (all its ``.py`` files, at any depth)
  or a single ``.py`` file at its top. The archive is ``--archive DIR``, by default
  ``archive/`` at the root of the course repository when it exists (keep it out of the
  student release: tools/release.py never copies it).

A pair is flagged when the share of either side's fingerprinted code found in the
other reaches ``FLAG`` (default 0.6). A flag is a reason to look, not a verdict: the
side-by-side page (``_similarity/<n>.html``) highlights the matching parts.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.i18n import _
from grader.render.kit import esc, page

NOISE = 25  # k: matches shorter than this many normalized characters are ignored
GUARANTEE = 30  # matches at least this long are always found (winnowing window)
FLAG = 0.6
MAX_BYTES = 200_000
MAX_PAGES = 100  # side-by-side pages written, for the strongest matches
FOLDER = "_similarity"  # in the report folder; no GitHub login starts with "_"
ROOT = Path(__file__).resolve().parent.parent
SKELETON = ROOT / "skeleton" / "src" / "minigrad"


@dataclass
class Document:
    """One engine as one text: its files in name order, each after a header line."""

    name: str
    text: str
    kind: str = "submission"  # or "archive"


@dataclass
class Match:
    left: str
    right: str
    kind: str  # "pair" (two submissions) or "archive" (a submission and an archive entry)
    left_share: float  # share of the left's fingerprinted code found in the right
    right_share: float
    left_slices: list[tuple[int, int]] = field(default_factory=list)
    right_slices: list[tuple[int, int]] = field(default_factory=list)
    page: str = ""  # the side-by-side page, relative to the report folder


@dataclass
class Report:
    compared: list[str]  # submissions compared
    archive: list[str]  # archive entries compared with
    flagged: list[Match]
    problem: str = ""  # why similarity could not run ('' when it ran)


def _read(path: Path) -> str:
    if path.is_symlink() or not path.is_file():
        return ""
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES)
    return data.decode("utf-8", errors="replace")


def document(name: str, files: Sequence[Path], base: Path, kind: str) -> Document:
    parts = []
    for path in files:
        text = _read(path)
        if text.strip():
            parts.append(f"# ==== {path.relative_to(base).as_posix()}\n{text.rstrip()}\n")
    return Document(name, "\n".join(parts), kind)


def engine_document(name: str, submission: Path) -> Document:
    package = submission / "src" / "minigrad"
    files = sorted(package.glob("*.py")) if package.is_dir() and not package.is_symlink() else []
    return document(name, files, package if files else submission, "submission")


def archive_documents(archive: Path) -> list[Document]:
    """An entry per sub-folder of ``archive`` (its .py files) and per top-level .py file."""
    if not archive.is_dir():
        return []
    docs = []
    for child in sorted(archive.iterdir()):
        if child.is_symlink() or child.name.startswith("."):
            continue
        if child.is_dir():
            files = sorted(p for p in child.rglob("*.py") if not p.is_symlink())
            docs.append(document(child.name, files, child, "archive"))
        elif child.suffix == ".py":
            docs.append(document(child.name, [child], archive, "archive"))
    return [d for d in docs if d.text]


def _slices(array: Any) -> list[tuple[int, int]]:
    if getattr(array, "size", 0) == 0 or len(array) != 2:
        return []
    return [(int(a), int(b)) for a, b in zip(array[0], array[1], strict=True)]


def _stable_kgrams(string: str, k: int) -> Any:
    """The hash of every k-gram of ``string``, the same in every process: copydetect's
    own uses ``hash()``, salted afresh in each process, so its matches (the shares, the
    marked parts of a page) would change from one grading run to the next."""
    import numpy as np  # copydetect's own dependency

    def one(i: int) -> int:
        kgram = string[i : i + k].encode("utf-8", "surrogatepass")
        return int.from_bytes(hashlib.blake2b(kgram, digest_size=8).digest(), "little", signed=True)

    return np.array([one(i) for i in range(len(string) - k + 1)], dtype=np.int64)


def _fingerprint(text: str, skip: Any = None) -> Any:
    import copydetect.utils
    from copydetect import CodeFingerprint

    copydetect.utils.hashed_kgrams = _stable_kgrams  # the same matches on every run
    window = GUARANTEE - NOISE + 1
    return CodeFingerprint(
        "engine.py", NOISE, window, skip, language="python", fp=io.StringIO(text)
    )


def fingerprints(
    texts: Sequence[str], boilerplate: str = "", known: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Text -> its fingerprint, the ``boilerplate``'s code discounted; each distinct text
    once (copies are common: an untouched file, a whole engine passed around), and none
    that ``known`` holds (computed ahead with the same boilerplate)."""
    prints: dict[str, Any] = dict(known or {})
    missing = [t for t in dict.fromkeys(texts) if t not in prints]
    skip = list(_fingerprint(boilerplate).hashes) if missing and boilerplate.strip() else None
    for text in missing:
        prints[text] = _fingerprint(text, skip)
    return prints


def fingerprint_class(submissions: dict[str, Path], skeleton: Path = SKELETON) -> dict[str, Any]:
    """The fingerprints ``check_class`` will need for these engines, computed ahead (the
    grader does it in a thread while the submissions are graded, and falls back to the
    class step when this raises, e.g. ImportError without copydetect)."""
    docs = [engine_document(name, path) for name, path in sorted(submissions.items())]
    texts = [d.text for d in docs if d.text.strip()]
    return fingerprints(texts, _skeleton(skeleton).text)


def compare(
    submissions: Sequence[Document],
    archive: Sequence[Document] = (),
    boilerplate: str = "",
    flag: float = FLAG,
    known: Mapping[str, Any] | None = None,
) -> Report:
    """Compare every pair of submissions, and every submission with every archive entry."""
    subs = [d for d in submissions if d.text.strip()]
    if len(subs) < 2 and not (subs and archive):
        return Report([d.name for d in subs], [d.name for d in archive], [])
    try:
        from copydetect import compare_files
    except ImportError as exc:  # the grade environment pins it; say so if it is missing
        return Report([], [], [], f"copydetect is not installed ({exc})")

    prints = fingerprints([d.text for d in [*subs, *archive]], boilerplate, known)
    compared: dict[tuple[str, str], Any] = {}
    flagged: list[Match] = []
    pairs = [(a, b, "pair") for a, b in itertools.combinations(subs, 2)]
    pairs += [(a, b, "archive") for a in subs for b in archive]
    for left, right, kind in pairs:
        fa, fb = prints[left.text], prints[right.text]
        if not fa.hashes or not fb.hashes:
            continue
        texts = (left.text, right.text)
        if texts not in compared:
            compared[texts] = compare_files(fa, fb)
        _, (share_a, share_b), (slices_a, slices_b) = compared[texts]
        share_a, share_b = float(share_a), float(share_b)
        if max(share_a, share_b) >= flag:
            flagged.append(
                Match(
                    left.name,
                    right.name,
                    kind,
                    share_a,
                    share_b,
                    _slices(slices_a),
                    _slices(slices_b),
                )
            )
    flagged.sort(key=lambda m: (-max(m.left_share, m.right_share), m.left, m.right))
    return Report([d.name for d in subs], [d.name for d in archive], flagged)


def _skeleton(skeleton: Path) -> Document:
    return document("skeleton", sorted(skeleton.glob("*.py")), skeleton, "skeleton")


def check_class(
    submissions: dict[str, Path],
    archive: Path | None,
    skeleton: Path = SKELETON,
    known: Mapping[str, Any] | None = None,
) -> tuple[Report, dict[str, Document]]:
    """Compare the class's engines (by name -> submission folder) and the archive;
    ``known``: fingerprints from ``fingerprint_class``, used where a text is the same."""
    docs = {name: engine_document(name, path) for name, path in sorted(submissions.items())}
    entries = archive_documents(archive) if archive else []
    report = compare(list(docs.values()), entries, _skeleton(skeleton).text, known=known)
    texts = dict(docs) | {f"archive/{d.name}": d for d in entries}
    return report, texts


# ------------------------------------------------------------------ pages
# Two columns that share the window's width whatever the code holds: a grid track may
# shrink below its content (minmax(0, 1fr)) and long lines wrap inside their column
# instead of widening it (the page fits a 1280 px window, tested with Chromium).
CSS = """
.sides { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; }
.sides > div { min-width: 0; }
.sides pre { font-size: .78rem; max-height: none; white-space: pre-wrap;
  overflow-wrap: anywhere; }
mark { background: #ffd8b5; color: inherit; }
.gap { color: #6e7781; font-style: italic; }
main { max-width: 110rem; }
"""


def _elide(text: str, context: int, first: bool, last: bool) -> str:
    """An unmatched stretch, escaped: only ``context`` lines next to each match kept."""
    lines = text.split("\n")
    head = [] if first else lines[: context + 1]
    tail = [] if last else lines[-context - 1 :]
    if len(lines) <= len(head) + len(tail) + 1:
        return esc(text)
    hidden = len(lines) - len(head) - len(tail)
    gap = f'<span class="gap">\u22ef {hidden} line(s) not matched \u22ef</span>'
    return "\n".join([*(esc(x) for x in head), gap, *(esc(x) for x in tail)])


def highlighted(text: str, slices: Sequence[tuple[int, int]], context: int = 3) -> str:
    """``text`` HTML-escaped, the ``slices`` (character ranges) marked, and long
    unmatched stretches cut down to ``context`` lines around the matches."""
    spans: list[tuple[int, int]] = []
    for start, end in sorted(slices):
        start = max(start, spans[-1][1] if spans else 0)
        end = min(end, len(text))
        if start < end:
            spans.append((start, end))
    if not spans:
        return esc(text)
    out, at = [], 0
    for number, (start, end) in enumerate(spans):
        out.append(_elide(text[at:start], context, first=number == 0, last=False))
        out += ["<mark>", esc(text[start:end]), "</mark>"]
        at = end
    out.append(_elide(text[at:], context, first=False, last=True))
    return "".join(out)


def side_by_side(match: Match, left: Document, right: Document) -> str:
    if match.kind == "archive":
        title = _("{left} and the archive entry {right}").format(left=match.left, right=match.right)
    else:
        title = _("{left} and {right}").format(left=match.left, right=match.right)
    shares = _(
        "{left_share} of {left}'s fingerprinted code is found in {right}; {right_share} of "
        "{right}'s in {left}. The skeleton's given code is not counted. Marked: the "
        "matching parts."
    ).format(
        left_share=f"{match.left_share:.0%}",
        right_share=f"{match.right_share:.0%}",
        left=esc(match.left),
        right=esc(match.right),
    )
    heading = _("Similarity: {title}").format(title=title)
    back = _("Back to the class")
    body = (
        f"<h1>{esc(heading)}</h1>\n"
        f'<p>{shares} <a href="../index.html#similarity">{esc(back)}</a>.</p>\n'
        '<div class="sides">\n'
        f"<div><h2>{esc(match.left)}</h2><pre>{highlighted(left.text, match.left_slices)}"
        "</pre></div>\n"
        f"<div><h2>{esc(match.right)}</h2><pre>{highlighted(right.text, match.right_slices)}"
        "</pre></div>\n</div>\n"
    )
    return page(_("similarity: {title}").format(title=title), body, CSS)


def write_pages(
    report: Report, texts: dict[str, Document], out_dir: Path, most: int = MAX_PAGES
) -> None:
    """Write one side-by-side page per flagged match into ``out_dir/_similarity/``, for
    the ``most`` strongest matches (the class view lists the others without a page)."""
    folder = out_dir / FOLDER
    if folder.is_dir():
        for old in folder.glob("*.html"):
            old.unlink()
    for number, match in enumerate(report.flagged[:most], start=1):
        right_key = f"archive/{match.right}" if match.kind == "archive" else match.right
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{number}.html"
        (folder / name).write_text(
            side_by_side(match, texts[match.left], texts[right_key]), encoding="utf-8"
        )
        match.page = f"{FOLDER}/{name}"
