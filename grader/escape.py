"""Escape and cap student-controlled text before it reaches a report, a file or a terminal.

Anything a submission controls (its folder name, its exception messages, what it
printed, the numbers' repr) passes through here: control characters (ANSI escape
sequences, NUL, characters XML 1.0 forbids) are removed, every field and the whole
report are capped, Markdown gets fences longer than any run of backticks inside and
one-line fields stay one line, and CSV cells cannot start a formula.
"""

from __future__ import annotations

import re

MAX_FIELD = 4000  # characters of one message, expected/got, counterexample
MAX_TAIL = 1500  # characters of the output tail
MAX_NOTES = 50
MAX_REPORT = 200_000  # characters of student text in one submission's reports

# C0 and C1 controls except tab and newline (ESC starts ANSI sequences), DEL, surrogates
# and the non-characters XML 1.0 forbids.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?")


def clean(text: str, limit: int = MAX_FIELD) -> str:
    """No escape sequences or control characters (tab, newline kept); at most ``limit``."""
    text = _CONTROL.sub("", _ANSI.sub("", str(text)))
    return text if len(text) <= limit else text[:limit] + " ... (cut)"


def console(text: str) -> str:
    """A one-line, escape-free string for the terminal."""
    return clean(text, 200).replace("\n", " ").replace("\t", " ")


def md_line(text: str) -> str:
    """One Markdown line: no newline that could start a heading, table or fence."""
    return " ".join(clean(text).split())


def fence(text: str, info: str = "") -> list[str]:
    """A fenced code block that ``text`` cannot close: the fence is longer than any run
    of backticks inside."""
    runs = [len(r) for r in re.findall(r"`+", text)]
    mark = "`" * max(3, max(runs, default=0) + 1)
    return [mark + info, clean(text, MAX_REPORT), mark]


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = console(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
