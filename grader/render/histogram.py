"""The class page's score distribution: scores counted into bins (``histogram``), their
labels (``bin_labels``) and the bar chart as inline SVG (``histogram_svg``).
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.i18n import _
from grader.render.kit import esc
from grader.results import points

BINS = 10


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


def histogram_svg(counts: Sequence[int], labels: Sequence[str]) -> str:
    """A small bar chart as inline SVG (no xmlns needed inside HTML)."""
    width, height, left, bottom, top = 640, 220, 36, 40, 18
    plot_h = height - bottom - top
    step = (width - left - 8) / max(len(counts), 1)
    peak = max(counts, default=0) or 1
    parts = [
        f'<svg class="histogram" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="' + esc(_("score distribution")) + '">',
        "<title>" + esc(_("Score distribution")) + "</title>",
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
        'font-size="11" fill="#6e7781">' + esc(_("total score")) + "</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)
