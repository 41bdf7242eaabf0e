"""A training run's loss curve as inline SVG (no script): the student's losses epoch by
epoch, the losses a correct SGD gives from the same starting parameters (the grader's
own arithmetic), and the goal as a line. The loss axis is logarithmic: a loss that
falls from 3 to 0.05 shows its whole fall.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from grader.i18n import _
from grader.render.kit import esc

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 40
FLOOR = 1e-4  # losses below it are drawn at it (a log axis has no 0)
STUDENT, CORRECT, GOAL = "#0969da", "#6e7781", "#cf222e"


def _finite(values: Any) -> list[float]:
    if not isinstance(values, list):
        return []
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def loss_curve_svg(curve: dict[str, Any]) -> str:
    """The chart of a kept curve (see ``grader.checks.train.keep_curve``)."""
    mine, correct = _finite(curve.get("losses")), _finite(curve.get("correct"))
    goal = float(curve.get("goal") or 0.0)
    values = [v for v in [*mine, *correct, goal] if v > 0] or [1.0]
    low = math.log10(max(min(values), FLOOR))
    high = math.log10(max(max(values), FLOOR))
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    epochs = max(len(mine), len(correct), 2)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + plot_w * i / (epochs - 1)

    def y(v: float) -> float:
        return TOP + plot_h * (high - math.log10(max(v, FLOOR))) / (high - low)

    def line(points: Sequence[float], color: str, dash: str = "") -> str:
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(points))
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        return f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"{extra}/>'

    seed = str(curve.get("seed", ""))
    title = _("Training loss by epoch (seed {seed})").format(seed=seed)
    parts = [
        f'<svg class="curve" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        'role="img" aria-label="' + esc(_("training loss by epoch")) + '">',
        f"<title>{esc(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
        'stroke="#6e7781"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#6e7781"/>',
    ]
    for exponent in range(math.ceil(low), math.floor(high) + 1):
        tick = y(10.0**exponent)
        parts.append(
            f'<text x="{LEFT - 6}" y="{tick + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#6e7781">{10.0**exponent:g}</text>'
        )
    if goal > 0:
        parts.append(
            f'<line x1="{LEFT}" y1="{y(goal):.1f}" x2="{LEFT + plot_w}" y2="{y(goal):.1f}" '
            f'stroke="{GOAL}" stroke-dasharray="4 3"/>'
        )
    if len(correct) > 1:
        parts.append(line(correct, CORRECT, "6 4"))
    if len(mine) > 1:
        parts.append(line(mine, STUDENT))
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 22}" text-anchor="middle" '
        'font-size="11" fill="#6e7781">'
        + esc(_("epoch (0 to {last})").format(last=epochs - 1))
        + "</text>"
    )
    legend = [
        (STUDENT, _("your fit")),
        (CORRECT, _("a correct SGD from the same start")),
        (GOAL, _("goal: loss < {goal:g}").format(goal=goal)),
    ]
    lx = LEFT
    for color, label in legend:
        parts.append(
            f'<rect x="{lx}" y="{HEIGHT - 12}" width="14" height="3" fill="{color}"/>'
            f'<text x="{lx + 18}" y="{HEIGHT - 8}" font-size="11" fill="#1f2328">'
            f"{esc(label)}</text>"
        )
        lx += 36 + 7 * len(label)
    parts.append("</svg>")
    return "\n".join(parts)
