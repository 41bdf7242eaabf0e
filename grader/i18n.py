"""The language a student or TA reads: gettext catalogs, one per language.

Every sentence a report, a hint, a diagnosis or a command prints goes through ``_``
(or ``ngettext``) with its English text as the message id; the Spanish text comes from
``grader/locale/es/LC_MESSAGES/grader.mo``, compiled from ``grader.po`` next to it by
Babel (``nox -s i18n``: extract, update, compile). Code, numbers and the student's own
text are never translated: they are filled into the translated sentence with
``str.format``.

The language is per submission: ``pipeline.grade_one`` sets it around one submission's
stages (``language(lang)``), so a class can mix languages in one batch. Text written at
import time is marked with ``N_`` and translated where it is shown.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

DOMAIN = "grader"
LOCALE_DIR = Path(__file__).with_name("locale")
ENGLISH = "en"
LANGUAGES = ("en", "es")  # English is the message ids themselves: it needs no catalog

_current: ContextVar[str] = ContextVar("language", default=ENGLISH)


class LanguageError(ValueError):
    """A language the grader has no catalog for (a one-line message)."""


def check(lang: str, where: str = "--lang") -> str:
    """``lang`` normalised (``ES`` -> ``es``), or LanguageError naming ``where``."""
    code = lang.strip().lower().replace("_", "-").split("-")[0]
    if code not in LANGUAGES:
        raise LanguageError(
            f"{where}: no catalog for language {lang!r}; use one of {', '.join(LANGUAGES)}"
        )
    return code


ALIASES = {
    "english": "en",
    "ingles": "en",
    "inglés": "en",
    "spanish": "es",
    "espanol": "es",
    "español": "es",
    "castellano": "es",
}


def choose(*wanted: tuple[str, str], default: str = ENGLISH) -> tuple[str, list[str]]:
    """The first language of ``wanted`` ((value, where it was written) pairs, most
    specific first; empty values skipped) the grader has a catalog for, else
    ``default``; and a one-line warning for each value it could not use."""
    warnings: list[str] = []
    for value, where in wanted:
        if not value.strip():
            continue
        try:
            return check(ALIASES.get(value.strip().lower(), value), where), warnings
        except LanguageError as exc:
            warnings.append(str(exc))
    return default, warnings


@cache
def _catalog(lang: str) -> gettext.NullTranslations:
    if lang == ENGLISH:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])


def current() -> str:
    """The language being written now."""
    return _current.get()


@contextmanager
def language(lang: str) -> Iterator[None]:
    """Write in ``lang`` inside the block (this thread or task only)."""
    token = _current.set(check(lang))
    try:
        yield
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """``message`` (an English message id) in the current language."""
    if not message:
        return message
    return _catalog(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language."""
    return _catalog(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it here (module constants,
    rubric data): it is translated with ``_`` where it is shown."""
    return message
