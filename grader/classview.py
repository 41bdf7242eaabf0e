"""Class view: one page for TAs over a whole batch of graded submissions.

``write_class_view`` writes ``index.html`` (self-contained: inline CSS and an inline SVG
histogram drawn by ``grader/render/histogram.py``, no scripts, no network) and
``summary.md`` (the same numbers as Markdown tables) next to the per-submission folders
``<name>/report.html`` and ``<name>/report.md``, which the student table links to
(relative links only, so the pages work wherever they are written).

Both pages lead with the students (name, score after any late penalty, lateness, the
headline mistake, a link to the report), then the checks the class fails most (the
extra credit and 0-point checks left out), the most frequent mistakes, the score
distribution, and every check's pass rate last.

The statistics are honest about what they count, and each page says it: the mean,
median, extremes and distribution are over the GRADED submissions only (after late
penalties); a submission that could not be graded (not gradable, or a grader error),
and a student on the roster with no submission, is listed and counted apart, never as a
0. A check's pass rate is over the graded submissions that attempted its lab (see
grader/classbook.py, ``attempted_labs``), so untouched skeletons do not read as
failures. The most frequent mistakes are counted over the graded submissions.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from grader.i18n import N_, _
from grader.render.classwords import (
    CHECK_COLUMNS,
    CHECKS_NOTE,
    DIAGNOSES_NOTE,
    DIAGNOSIS_COLUMNS,
    NO_SUBMISSION,
    SIMILAR_COLUMNS,
    STATS_COLUMNS,
    STATUS_WORDS,
    STUDENT_COLUMNS,
    check_title,
    column_names,
    count_line,
    headline_of,
    lateness,
    mean_line,
    mistake_text,
    number,
    similar_text,
    stats_note,
    status_text,
)
from grader.render.histogram import BINS, bin_labels, histogram, histogram_svg
from grader.render.kit import code, esc, page, table, total_class
from grader.render.model import diagnosis_of
from grader.results import FAILED, GRADER_ERROR, NOT_RUN, PASSED, Graded, effective_status, points
from grader.rubric import RUBRIC
from grader.similarity import Report

TOP_CHECKS = 10  # rows of "checks the class fails most"


@dataclass
class CheckStats:
    id: str
    lab: str
    name: str
    points: float = 0.0  # 0: extra credit or given code, never among the hardest
    passed: int = 0
    failed: int = 0
    not_run: int = 0
    grader_error: int = 0

    @property
    def total(self) -> int:
        """The graded submissions that attempted this check's lab: what the rate is over."""
        return self.passed + self.failed + self.not_run + self.grader_error

    @property
    def pass_rate(self) -> float:
        """Percent of ``total`` that passed this check (0 when nobody attempted it)."""
        return 100.0 * self.passed / self.total if self.total else 0.0


@dataclass
class DiagnosisStats:
    code: str
    count: int = 0
    students: set[str] = field(default_factory=set)
    checks: list[str] = field(default_factory=list)
    explanation: str = ""


@dataclass
class ClassStats:
    count: int  # submissions listed (graded or not)
    counted: int  # submissions in the statistics: the graded ones
    invalid: int  # not gradable (nothing to grade, collected nothing, ...)
    grader_errors: int
    mean: float
    median: float
    low: float
    high: float
    max_score: float
    bins: list[int]
    labels: list[str]
    checks: list[CheckStats]  # pass rate ascending
    hardest: list[CheckStats]  # the point-earning checks the class fails most (top few)
    diagnoses: list[DiagnosisStats]  # most frequent first
    labs: dict[str, str]
    missing: int = 0  # students on the roster with no submission at all
    untouched: set[str] = field(default_factory=set)  # graded, but attempted no lab

    @property
    def not_graded(self) -> int:
        """Submissions left out of the numbers: not gradable, or a grader error."""
        return self.count - self.counted


def class_stats(
    results: Sequence[Graded],
    bins: int = BINS,
    attempted: Mapping[str, Sequence[str] | None] | None = None,
    missing: int = 0,
) -> ClassStats:
    """Every number of the class view, computed once for both pages. ``attempted``: the
    labs each submission attempted, by name (a name absent or None: every lab);
    ``missing``: how many students on the roster have no submission."""
    counted = [g for g in results if effective_status(g) == "graded"]
    totals = [g.final_score for g in counted]
    max_score = max((g.max_score for g in counted or results), default=0.0)
    labs: dict[str, str] = {}
    for g in results:
        for lab, title in g.labs.items():  # the rubric's own (English) title: then translated
            labs.setdefault(lab, RUBRIC.labs.get(lab, title))
    checks: dict[str, CheckStats] = {}
    diagnoses: dict[str, DiagnosisStats] = {}
    for g in counted:
        tried = (attempted or {}).get(g.name)
        for o in g.outcomes:
            stats = checks.setdefault(o.id, CheckStats(o.id, o.lab, check_title(o)))
            stats.points = max(stats.points, o.max_score)
            if tried is not None and o.lab not in tried:
                pass  # an untouched lab is not a failure of its checks
            elif o.status == PASSED:
                stats.passed += 1
            elif o.status == FAILED:
                stats.failed += 1
            elif o.status == NOT_RUN:
                stats.not_run += 1
            else:
                stats.grader_error += 1
            found = diagnosis_of(o)
            if found is None:
                continue
            code, explanation = found["code"], mistake_text(found)
            d = diagnoses.setdefault(code, DiagnosisStats(code, explanation=explanation))
            d.count += 1
            d.students.add(g.name)
            if o.id not in d.checks:
                d.checks.append(o.id)
            d.explanation = d.explanation or explanation
    # hardest first, stable (rubric order); checks nobody attempted last
    ordered = sorted(checks.values(), key=lambda c: (not c.total, c.pass_rate))
    frequent = sorted(diagnoses.values(), key=lambda d: (-d.count, d.code))
    return ClassStats(
        count=len(results),
        counted=len(counted),
        invalid=sum(g.status == "invalid" for g in results),
        grader_errors=sum(effective_status(g) == GRADER_ERROR for g in results),
        mean=statistics.fmean(totals) if totals else 0.0,
        median=statistics.median(totals) if totals else 0.0,
        low=min(totals, default=0.0),
        high=max(totals, default=0.0),
        max_score=max_score,
        bins=histogram(totals, max_score, bins),
        labels=bin_labels(max_score, bins),
        checks=ordered,
        hardest=[c for c in ordered if c.points > 0 and c.passed < c.total][:TOP_CHECKS],
        diagnoses=frequent,
        labs=labs,
        missing=missing,
        untouched={g.name for g in counted if (attempted or {}).get(g.name) == []},
    )


def write_class_view(
    results: list[Graded],
    out_dir: Path,
    similar: Report | None = None,
    attempted: Mapping[str, Sequence[str] | None] | None = None,
    missing: Sequence[tuple[str, str]] = (),
) -> None:
    """Write ``out_dir/index.html`` and ``out_dir/summary.md`` for the batch.
    ``missing``: (who, why) of each student on the roster with no submission."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = class_stats(results, attempted=attempted, missing=len(missing))
    ordered = sorted(results, key=lambda g: g.name)
    (out_dir / "index.html").write_text(
        index_html(ordered, stats, similar, missing), encoding="utf-8"
    )
    (out_dir / "summary.md").write_text(
        summary_md(ordered, stats, similar, missing), encoding="utf-8"
    )


# ------------------------------------------------------------------ HTML


STATUS_BADGE = {"graded": PASSED, "invalid": FAILED, GRADER_ERROR: GRADER_ERROR}
CSS = """
.score { font-weight: 700; padding: .05rem .45rem; border-radius: 6px; }
.score.full { color: #1a7f37; background: #dafbe1; }
.score.part { color: #9a6700; background: #fff8c5; }
.score.low { color: #cf222e; background: #ffebe9; }
.score.none { color: #6e7781; background: #f6f8fa; }
svg.histogram { max-width: 100%; height: auto; }
"""


def _status_badge(status: str) -> str:
    kind = STATUS_BADGE.get(status, NOT_RUN)
    word = _(STATUS_WORDS.get(status, status.replace("_", " ")))
    return f'<span class="badge {kind}">{esc(word)}</span>'


def _href(name: str, file: str) -> str:
    return esc(quote(name, safe="") + "/" + file)


def index_html(
    results: Sequence[Graded],
    stats: ClassStats,
    similar: Report | None = None,
    missing: Sequence[tuple[str, str]] = (),
) -> str:
    title = _("minigrad class view")
    parts = [f"<h1>{esc(title)}</h1>\n"]
    parts.append(f"<p>{esc(count_line(stats))} {esc(mean_line(stats))}</p>\n")
    parts.append(_students_html(results, stats, missing))
    if similar is not None:
        parts.append(_similar_html(similar))
    parts.append(_hardest_html(stats))
    parts.append(_diagnoses_html(stats))
    parts.append("<h2>" + esc(_("Score distribution")) + "</h2>\n")
    columns = column_names(STATS_COLUMNS)
    parts.append(table(columns, [_stats_row(stats)], num=columns, css_class="stats"))
    parts.append(f'<p class="muted">{esc(stats_note(stats))}</p>\n')
    parts.append(histogram_svg(stats.bins, stats.labels) + "\n")
    parts.append(_checks_html(stats))
    return page(title, "".join(parts), CSS)


def _stats_row(stats: ClassStats) -> list[str]:
    numbers = [stats.mean, stats.median, stats.low, stats.high]
    shown = [number(x) if stats.counted else "-" for x in numbers]
    return [str(stats.counted), *shown, number(stats.max_score), str(stats.not_graded)]


def _similar_html(similar: Report) -> str:
    parts = [
        '<h2 id="similarity">' + esc(_("Possible copies")) + "</h2>\n",
        f"<p>{esc(similar_text(similar))}</p>\n",
    ]
    archive, compare = esc(_("archive")), esc(_("compare"))
    if not similar.flagged:
        return "".join(parts)
    rows = []
    for m in similar.flagged:
        other = (
            f'<span class="badge failed">{archive}</span> {esc(m.right)}'
            if m.kind == "archive"
            else f'<a href="{_href(m.right, "report.html")}">{esc(m.right)}</a>'
        )
        link = f'<a href="{esc(m.page)}">{compare}</a>' if m.page else ""
        left = f'<a href="{_href(m.left, "report.html")}">{esc(m.left)}</a>'
        rows.append([left, other, f"{m.left_share:.0%}", f"{m.right_share:.0%}", link])
    columns = column_names(SIMILAR_COLUMNS)
    parts.append(table(columns, rows, num=columns[2:4]))
    return "".join(parts)


def _checks_table(checks: Sequence[CheckStats]) -> str:
    rows = (
        [
            code(c.id),
            esc(c.lab),
            esc(_(c.name)),
            f"{c.pass_rate:.0f}%" if c.total else "-",
            str(c.total),
            str(c.failed),
            str(c.not_run),
        ]
        for c in checks
    )
    columns = column_names(CHECK_COLUMNS)
    return table(columns, rows, num=columns[3:])


def _hardest_html(stats: ClassStats) -> str:
    head = '<h2 id="hardest">' + esc(_("Checks the class fails most")) + "</h2>\n"
    if not stats.hardest:
        everyone = esc(_("Every graded check passed for everyone."))
        return head + f'<p class="muted">{everyone}</p>\n'
    return head + f'<p class="muted">{esc(_(CHECKS_NOTE))}</p>\n' + _checks_table(stats.hardest)


def _checks_html(stats: ClassStats) -> str:
    every, rates = esc(_("Every check, hardest first")), esc(_("pass rate of each check"))
    return (
        f'<h2 id="checks">{every}</h2>\n<details><summary>{rates}'
        f'</summary>\n<p class="muted">{esc(_(CHECKS_NOTE))}</p>\n'
        f"{_checks_table(stats.checks)}</details>\n"
    )


def _diagnoses_html(stats: ClassStats) -> str:
    head = "<h2>" + esc(_("Most frequent mistakes")) + "</h2>\n"
    if not stats.diagnoses:
        return head + '<p class="muted">' + esc(_("No diagnosis recorded.")) + "</p>\n"
    rows = (
        [
            code(d.code),
            str(d.count),
            str(len(d.students)),
            ", ".join(code(c) for c in d.checks),
            esc(_(d.explanation)),
        ]
        for d in stats.diagnoses
    )
    columns = column_names(DIAGNOSIS_COLUMNS)
    note = f'<p class="muted">{esc(_(DIAGNOSES_NOTE))}</p>\n'
    return head + note + table(columns, rows, num=columns[1:3])


def _students_html(
    results: Sequence[Graded], stats: ClassStats, missing: Sequence[tuple[str, str]] = ()
) -> str:
    """One row per student; a row depends on that student's entry only."""
    rows = []
    for g in results:
        status = effective_status(g)
        kind = total_class(g.final_score, g.max_score, "graded" if status == "graded" else status)
        score = (
            f"{esc(points(g.final_score))} / {esc(points(g.max_score))}"
            if status != "invalid"
            else "&mdash;"
        )
        report = _href(g.name, "report.html")
        rows.append(
            [
                f'<a href="{report}">{esc(g.name)}</a>',
                f'<span class="score {kind}">{score}</span>',
                esc(lateness(g)),
                esc(headline_of(g, stats)),
                _status_badge(status),
                f'<a href="{report}">html</a> <a href="{_href(g.name, "report.md")}">md</a>',
            ]
        )
    for who, why in missing:
        rows.append(
            [
                esc(who),
                '<span class="score none">&mdash;</span>',
                "",
                esc(why),
                f'<span class="badge {NOT_RUN}">{esc(_(NO_SUBMISSION))}</span>',
                "",
            ]
        )
    columns = column_names(STUDENT_COLUMNS)
    head = '<h2 id="students">' + esc(_("Students")) + "</h2>\n"
    return head + table(columns, rows, num={columns[1], columns[5]})


# ------------------------------------------------------------------ Markdown


def _md(text: object) -> str:
    """A table cell: no newlines, pipes and backslashes escaped."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")


def _md_head(names: Sequence[str]) -> str:
    return "| " + " | ".join(_md(_(name)) for name in names) + " |"


def summary_md(
    results: Sequence[Graded],
    stats: ClassStats,
    similar: Report | None = None,
    missing: Sequence[tuple[str, str]] = (),
) -> str:
    lines = ["# " + _("minigrad class summary"), ""]
    lines += [
        f"{count_line(stats)} {mean_line(stats)}",
        "",
        "## " + _("Students"),
        "",
        _md_head(STUDENT_COLUMNS[:5]),
        "|---|---:|---|---|---|",
    ]
    for g in results:
        link = quote(g.name, safe="")
        text = _md(g.name).replace("[", "\\[").replace("]", "\\]")
        status = effective_status(g)
        score = f"{points(g.final_score)} / {points(g.max_score)}" if status != "invalid" else "-"
        lines.append(
            f"| [{text}]({link}/report.md) ([html]({link}/report.html)) | {score} | "
            f"{_md(lateness(g))} | {_md(headline_of(g, stats))} | {_md(status_text(status))} |"
        )
    for who, why in missing:
        name = _md(who).replace("[", "\\[").replace("]", "\\]")
        lines.append(f"| {name} | - |  | {_md(why)} | {_md(_(NO_SUBMISSION))} |")
    if similar is not None:
        lines += ["", "## " + _("Possible copies"), "", similar_text(similar)]
        if similar.flagged:
            lines += ["", _md_head(SIMILAR_COLUMNS), "|---|---|---:|---:|---|"]
            for m in similar.flagged:
                other = (
                    _("archive: {entry}").format(entry=m.right) if m.kind == "archive" else m.right
                )
                compare = _("compare")
                link = f"[{_md(compare)}]({m.page})" if m.page else ""
                lines.append(
                    f"| {_md(m.left)} | {_md(other)} | {m.left_share:.0%} | "
                    f"{m.right_share:.0%} | {link} |"
                )
    lines += ["", "## " + _("Checks the class fails most"), ""]
    if stats.hardest:
        lines += [_(CHECKS_NOTE), "", _md_head(CHECK_COLUMNS), "|---|---|---|---:|---:|---:|---:|"]
        lines += [_check_md(c) for c in stats.hardest]
    else:
        lines.append(_("Every graded check passed for everyone."))
    lines += ["", "## " + _("Most frequent mistakes"), ""]
    if stats.diagnoses:
        lines += [_(DIAGNOSES_NOTE), "", _md_head(DIAGNOSIS_COLUMNS), "|---|---:|---:|---|---|"]
        lines += [
            f"| `{_md(d.code)}` | {d.count} | {len(d.students)} | "
            f"{', '.join(f'`{_md(c)}`' for c in d.checks)} | {_md(_(d.explanation))} |"
            for d in stats.diagnoses
        ]
    else:
        lines.append(_("No diagnosis recorded."))
    lines += [
        "",
        "## " + _("Score distribution"),
        "",
        _md_head(STATS_COLUMNS),
        "|---:|---:|---:|---:|---:|---:|---:|",
        "| " + " | ".join(_stats_row(stats)) + " |",
        "",
        stats_note(stats),
        "",
        _md_head([N_("score"), N_("graded submissions")]),
        "|---|---:|",
    ]
    lines += [f"| {label} | {n} |" for label, n in zip(stats.labels, stats.bins, strict=True)]
    lines += [
        "",
        "## " + _("Every check, hardest first"),
        "",
        _(CHECKS_NOTE),
        "",
        _md_head(CHECK_COLUMNS),
        "|---|---|---|---:|---:|---:|---:|",
    ]
    lines += [_check_md(c) for c in stats.checks]
    lines.append("")
    return "\n".join(lines)


def _check_md(c: CheckStats) -> str:
    rate = f"{c.pass_rate:.0f}%" if c.total else "-"
    return (
        f"| `{_md(c.id)}` | {_md(c.lab)} | {_md(_(c.name))} | {rate} | {c.total} | {c.failed} "
        f"| {c.not_run} |"
    )
