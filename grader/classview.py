"""Class view: one page for TAs over a whole batch of graded submissions.

``write_class_view`` writes ``index.html`` (self-contained: inline CSS and an inline SVG
histogram drawn here, no scripts, no network) and ``summary.md`` (the same numbers as
Markdown tables) next to the per-submission folders ``<name>/report.html`` and
``<name>/report.md``, which the student table links to (relative links only, so the
pages work wherever they are written).

Both pages lead with the students (name, score after any late penalty, lateness, the
headline mistake, a link to the report), then the checks the class fails most (the
extra credit and 0-point checks left out), the most frequent mistakes, the score
distribution, and every check's pass rate last.

Submissions the grader itself failed on (status ``grader_error``) are listed but left
out of the statistics: their zero is not the student's.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from grader.render.kit import code, esc, page, table, total_class
from grader.render.model import diagnosis_of
from grader.results import FAILED, GRADER_ERROR, NOT_RUN, PASSED, Graded, effective_status, points
from grader.similarity import Report

BINS = 10
TOP_CHECKS = 10  # rows of "checks the class fails most"


def histogram(scores: Sequence[float], max_score: float, bins: int = BINS) -> list[int]:
    """Counts of ``scores`` in ``bins`` equal bins over 0..max_score.

    Bin k holds [k*w, (k+1)*w) with w = max_score / bins; the last bin also holds
    max_score itself. Scores outside 0..max_score are clamped into the end bins.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    counts = [0] * bins
    for score in scores:
        k = 0 if max_score <= 0 else int(score * bins / max_score)
        counts[min(max(k, 0), bins - 1)] += 1
    return counts


def bin_labels(max_score: float, bins: int = BINS) -> list[str]:
    """'0-10', '10-20', ... (with an en dash) for the bins of ``histogram``."""
    width = max_score / bins if bins else 0.0
    return [f"{points(k * width)}\u2013{points((k + 1) * width)}" for k in range(bins)]


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
        return self.passed + self.failed + self.not_run + self.grader_error

    @property
    def pass_rate(self) -> float:
        """Percent of submissions that passed this check (0 when nobody was graded)."""
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
    count: int
    counted: int  # submissions in the statistics (all but grader errors)
    invalid: int
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


def class_stats(results: Sequence[Graded], bins: int = BINS) -> ClassStats:
    """Every number of the class view, computed once for both pages."""
    counted = [g for g in results if effective_status(g) != GRADER_ERROR]
    totals = [g.final_score for g in counted]
    max_score = max((g.max_score for g in results), default=0.0)
    labs: dict[str, str] = {}
    for g in results:
        for lab, title in g.labs.items():
            labs.setdefault(lab, title)
    checks: dict[str, CheckStats] = {}
    diagnoses: dict[str, DiagnosisStats] = {}
    for g in counted:
        for o in g.outcomes:
            stats = checks.setdefault(o.id, CheckStats(o.id, o.lab, o.name))
            stats.points = max(stats.points, o.max_score)
            if o.status == PASSED:
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
            code, explanation = found["code"], found["explanation"]
            d = diagnoses.setdefault(code, DiagnosisStats(code, explanation=explanation))
            d.count += 1
            d.students.add(g.name)
            if o.id not in d.checks:
                d.checks.append(o.id)
            d.explanation = d.explanation or explanation
    ordered = sorted(checks.values(), key=lambda c: c.pass_rate)  # stable: rubric order
    frequent = sorted(diagnoses.values(), key=lambda d: (-d.count, d.code))
    return ClassStats(
        count=len(results),
        counted=len(counted),
        invalid=sum(g.status == "invalid" for g in results),
        grader_errors=len(results) - len(counted),
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
    )


def write_class_view(results: list[Graded], out_dir: Path, similar: Report | None = None) -> None:
    """Write ``out_dir/index.html`` and ``out_dir/summary.md`` for the batch."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = class_stats(results)
    ordered = sorted(results, key=lambda g: g.name)
    (out_dir / "index.html").write_text(index_html(ordered, stats, similar), encoding="utf-8")
    (out_dir / "summary.md").write_text(summary_md(ordered, stats, similar), encoding="utf-8")


def headline(g: Graded) -> str:
    """What a TA reads first about a submission: its likely mistake, or why it has none."""
    if g.status == "invalid":
        return g.problem or "not gradable"
    if effective_status(g) == GRADER_ERROR:
        return "grader error, regrade: " + (g.problem or "see the report")
    likely = g.diagnosis
    if likely and likely.get("explanation"):
        return str(likely["explanation"])
    lost = [o for o in g.outcomes if o.status in (FAILED, GRADER_ERROR) and o.max_score > 0]
    if lost:
        more = f" (and {len(lost) - 1} more)" if len(lost) > 1 else ""
        return f"fails {lost[0].id}: {lost[0].name}{more}"
    if any(o.status == NOT_RUN and o.max_score > 0 for o in g.outcomes):
        return "checks not run"
    return "every check passed"


def lateness(g: Graded) -> str:
    """'on time', '2 d late, -20%', or '' when no commit time is known."""
    late = g.late
    if not late:
        return ""
    if not late.get("days"):
        return "on time"
    return f"{late['days']} d late, -{points(float(late['percent']))}%"


def _num(x: float) -> str:
    return f"{x:.1f}" if x != int(x) else f"{x:g}"


# ------------------------------------------------------------------ HTML


def histogram_svg(counts: Sequence[int], labels: Sequence[str]) -> str:
    """A small bar chart as inline SVG (no xmlns needed inside HTML)."""
    width, height, left, bottom, top = 640, 220, 36, 40, 18
    plot_h = height - bottom - top
    step = (width - left - 8) / max(len(counts), 1)
    peak = max(counts, default=0) or 1
    parts = [
        f'<svg class="histogram" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="score distribution">',
        "<title>Score distribution</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
        'stroke="#6e7781"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11" '
        f'fill="#6e7781">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11" '
        'fill="#6e7781">0</text>',
    ]
    for k, count in enumerate(counts):
        bar_h = plot_h * count / peak
        x = left + k * step + 3
        y = top + plot_h - bar_h
        label = labels[k] if k < len(labels) else ""
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 6:.1f}" height="{bar_h:.1f}" '
            f'fill="#0969da" rx="2"><title>{esc(label)}: {count}</title></rect>'
        )
        if count:
            parts.append(
                f'<text x="{x + (step - 6) / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'font-size="12" fill="#1f2328">{count}</text>'
            )
        parts.append(
            f'<text x="{x + (step - 6) / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
            f'font-size="11" fill="#1f2328">{esc(label)}</text>'
        )
    parts.append(
        f'<text x="{(left + width) / 2:.0f}" y="{height - 4}" text-anchor="middle" '
        'font-size="11" fill="#6e7781">total score</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


STATUS_BADGE = {"graded": PASSED, "invalid": FAILED, GRADER_ERROR: GRADER_ERROR}
CHECK_COLUMNS = ["check", "lab", "name", "pass rate", "failed", "not run"]
STATS_COLUMNS = ["submissions", "mean", "median", "min", "max", "out of"]

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
    return f'<span class="badge {kind}">{esc(status.replace("_", " "))}</span>'


def _href(name: str, file: str) -> str:
    return esc(quote(name, safe="") + "/" + file)


def index_html(results: Sequence[Graded], stats: ClassStats, similar: Report | None = None) -> str:
    parts = ["<h1>minigrad class view</h1>\n"]
    parts.append(
        f"<p>{esc(_count_line(stats))} Mean {_num(stats.mean)}, median "
        f"{_num(stats.median)} of {_num(stats.max_score)}.</p>\n"
    )
    parts.append(_students_html(results, stats))
    if similar is not None:
        parts.append(_similar_html(similar))
    parts.append(_hardest_html(stats))
    parts.append(_diagnoses_html(stats))
    parts.append("<h2>Score distribution</h2>\n")
    numbers = [stats.mean, stats.median, stats.low, stats.high, stats.max_score]
    parts.append(
        table(
            STATS_COLUMNS,
            [[str(stats.count), *map(_num, numbers)]],
            num=STATS_COLUMNS,
            css_class="stats",
        )
    )
    parts.append(histogram_svg(stats.bins, stats.labels) + "\n")
    parts.append(_checks_html(stats))
    return page("minigrad class view", "".join(parts), CSS)


def _count_line(stats: ClassStats) -> str:
    line = f"{stats.count} submission(s)"
    if stats.invalid:
        line += f", {stats.invalid} not gradable (invalid)"
    if stats.grader_errors:
        line += f", {stats.grader_errors} with a grader error (left out of the numbers)"
    return line + "."


def _similar_text(similar: Report) -> str:
    if similar.problem:
        return f"Not checked: {similar.problem}."
    text = f"{len(similar.compared)} engine(s) compared with each other"
    if similar.archive:
        text += f" and with {len(similar.archive)} archive entr(ies)"
    return text + (
        f"; {len(similar.flagged)} pair(s) unusually alike (the skeleton's code not counted)."
        if similar.flagged
        else "; none unusually alike."
    )


def _similar_html(similar: Report) -> str:
    parts = [
        '<h2 id="similarity">Possible copies</h2>\n',
        f"<p>{esc(_similar_text(similar))}</p>\n",
    ]
    if not similar.flagged:
        return "".join(parts)
    rows = []
    for m in similar.flagged:
        other = (
            f'<span class="badge failed">archive</span> {esc(m.right)}'
            if m.kind == "archive"
            else f'<a href="{_href(m.right, "report.html")}">{esc(m.right)}</a>'
        )
        link = f'<a href="{esc(m.page)}">compare</a>' if m.page else ""
        left = f'<a href="{_href(m.left, "report.html")}">{esc(m.left)}</a>'
        rows.append([left, other, f"{m.left_share:.0%}", f"{m.right_share:.0%}", link])
    columns = ["submission", "alike", "its code matched", "other matched", "side by side"]
    parts.append(table(columns, rows, num={"its code matched", "other matched"}))
    return "".join(parts)


def _checks_table(checks: Sequence[CheckStats]) -> str:
    rows = (
        [code(c.id), esc(c.lab), esc(c.name), f"{c.pass_rate:.0f}%", str(c.failed), str(c.not_run)]
        for c in checks
    )
    return table(CHECK_COLUMNS, rows, num=CHECK_COLUMNS[3:])


def _hardest_html(stats: ClassStats) -> str:
    head = '<h2 id="hardest">Checks the class fails most</h2>\n'
    if not stats.hardest:
        return head + '<p class="muted">Every graded check passed for everyone.</p>\n'
    return head + _checks_table(stats.hardest)


def _checks_html(stats: ClassStats) -> str:
    return (
        '<h2 id="checks">Every check, hardest first</h2>\n<details><summary>pass rate of '
        f"each check</summary>\n{_checks_table(stats.checks)}</details>\n"
    )


def _diagnoses_html(stats: ClassStats) -> str:
    if not stats.diagnoses:
        return '<h2>Most frequent mistakes</h2>\n<p class="muted">No diagnosis recorded.</p>\n'
    rows = (
        [
            code(d.code),
            str(d.count),
            str(len(d.students)),
            ", ".join(code(c) for c in d.checks),
            esc(d.explanation),
        ]
        for d in stats.diagnoses
    )
    columns = ["diagnosis", "times", "students", "in checks", "explanation"]
    return "<h2>Most frequent mistakes</h2>\n" + table(columns, rows, num={"times", "students"})


def _students_html(results: Sequence[Graded], stats: ClassStats) -> str:
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
                esc(headline(g)),
                _status_badge(status),
                f'<a href="{report}">html</a> <a href="{_href(g.name, "report.md")}">md</a>',
            ]
        )
    columns = ["name", "score", "late", "headline mistake", "status", "report"]
    return '<h2 id="students">Students</h2>\n' + table(columns, rows, num={"score", "report"})


# ------------------------------------------------------------------ Markdown


def _md(text: object) -> str:
    """A table cell: no newlines, pipes and backslashes escaped."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")


def summary_md(results: Sequence[Graded], stats: ClassStats, similar: Report | None = None) -> str:
    lines = ["# minigrad class summary", ""]
    lines += [
        f"{_count_line(stats)} Mean {_num(stats.mean)}, median {_num(stats.median)} "
        f"of {_num(stats.max_score)}.",
        "",
        "## Students",
        "",
        "| name | score | late | headline mistake | status |",
        "|---|---:|---|---|---|",
    ]
    for g in results:
        link = quote(g.name, safe="")
        text = _md(g.name).replace("[", "\\[").replace("]", "\\]")
        status = effective_status(g)
        score = f"{points(g.final_score)} / {points(g.max_score)}" if status != "invalid" else "-"
        lines.append(
            f"| [{text}]({link}/report.md) ([html]({link}/report.html)) | {score} | "
            f"{_md(lateness(g))} | {_md(headline(g))} | {status} |"
        )
    if similar is not None:
        lines += ["", "## Possible copies", "", _similar_text(similar)]
        if similar.flagged:
            lines += [
                "",
                "| submission | alike | its code matched | other matched | side by side |",
                "|---|---|---:|---:|---|",
            ]
            for m in similar.flagged:
                other = f"archive: {m.right}" if m.kind == "archive" else m.right
                link = f"[compare]({m.page})" if m.page else ""
                lines.append(
                    f"| {_md(m.left)} | {_md(other)} | {m.left_share:.0%} | "
                    f"{m.right_share:.0%} | {link} |"
                )
    lines += ["", "## Checks the class fails most", ""]
    if stats.hardest:
        lines += [
            "| check | lab | name | pass rate | failed | not run |",
            "|---|---|---|---:|---:|---:|",
        ]
        lines += [_check_md(c) for c in stats.hardest]
    else:
        lines.append("Every graded check passed for everyone.")
    lines += ["", "## Most frequent mistakes", ""]
    if stats.diagnoses:
        lines += [
            "| diagnosis | times | students | in checks | explanation |",
            "|---|---:|---:|---|---|",
        ]
        lines += [
            f"| `{_md(d.code)}` | {d.count} | {len(d.students)} | "
            f"{', '.join(f'`{_md(c)}`' for c in d.checks)} | {_md(d.explanation)} |"
            for d in stats.diagnoses
        ]
    else:
        lines.append("No diagnosis recorded.")
    lines += [
        "",
        "## Score distribution",
        "",
        "| submissions | mean | median | min | max | out of |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {stats.count} | {_num(stats.mean)} | {_num(stats.median)} | {_num(stats.low)} "
        f"| {_num(stats.high)} | {_num(stats.max_score)} |",
        "",
        "| score | submissions |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {n} |" for label, n in zip(stats.labels, stats.bins, strict=True)]
    lines += [
        "",
        "## Every check, hardest first",
        "",
        "| check | lab | name | pass rate | failed | not run |",
        "|---|---|---|---:|---:|---:|",
    ]
    lines += [_check_md(c) for c in stats.checks]
    lines.append("")
    return "\n".join(lines)


def _check_md(c: CheckStats) -> str:
    return (
        f"| `{_md(c.id)}` | {_md(c.lab)} | {_md(c.name)} | {c.pass_rate:.0f}% | {c.failed} "
        f"| {c.not_run} |"
    )
