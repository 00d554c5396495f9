"""Small static SVG charts (no library, no script): metric curves across a task's conditions, with 95% CIs."""

from __future__ import annotations

import math
from html import escape

from rvcbench.leaderboard.estimate import Estimate

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 76, 12, 28, 118
LABEL_CHARS = 20


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _tick_format(span: float) -> str:
    """Enough decimals that the ticks of a narrow range stay distinct."""
    decimals = max(0, 1 - math.floor(math.log10(span / 4))) if span > 0 else 2
    return f".{min(decimals, 6)}f"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


Series = tuple[str, list["Estimate | None"], int]  # (model name, one estimate per condition, its colour index)


def has_points(series: list[Series]) -> bool:
    return any(p is not None and p.finite for _, points, _ in series for p in points)


def _y_range(series: list[Series]) -> tuple[float, float]:
    values = [v for _, points, _ in series for p in points if p is not None and p.finite
              for v in (p.mean, p.ci_low, p.ci_high) if math.isfinite(v)]
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or max(abs(high) * 0.05, 0.05)
    return low - pad, high + pad


def line_plot(title: str, conditions: list[str], series: list[Series]) -> str:
    """One metric across conditions: one line per series (model) in the model's own colour (the legend's, whatever
    other models the plot lacks), error bars for the 95% CI."""
    if not has_points(series):
        return f'<p class="empty">{escape(title)}: not scored in these results.</p>'
    y_low, y_high = _y_range(series)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(conditions) - 1, 1)

    def x(i: int) -> float:
        return LEFT + (i * step if len(conditions) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (v - y_low) / (y_high - y_low))

    parts = [f'<svg class="plot" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<text x="{LEFT}" y="16" class="ptitle">{escape(title)}</text>',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="frame"/>']
    tick = _tick_format(y_high - y_low)
    for k in range(5):
        value = y_low + (y_high - y_low) * k / 4
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" class="grid"/>'
                     f'<text x="{LEFT - 4}" y="{y(value) + 4:.1f}" class="ytick">{value:{tick}}</text>')
    for i, label in enumerate(conditions):
        parts.append(f'<text transform="translate({x(i):.1f},{TOP + plot_h + 10}) rotate(-55)" class="xtick">'
                     f'<title>{escape(label)}</title>{escape(_short(label))}</text>')
    for name, points, colour_index in series:
        stroke = color(colour_index)
        segment: list[str] = []
        segments = []
        for i, p in enumerate(points):
            if p is None or not p.finite:
                segments.append(segment)
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(p.mean):.1f}")
        segments.append(segment)
        parts += [f'<polyline points="{" ".join(s)}" fill="none" stroke="{stroke}" stroke-width="2"/>'
                  for s in segments if len(s) > 1]
        for i, p in enumerate(points):
            if p is None or not p.finite:
                continue
            tip = (f"{name} · {conditions[i]}: {_fmt(p.mean)} [95% CI {_fmt(p.ci_low)}, {_fmt(p.ci_high)}], "
                   f"n={p.n}, failures={p.failures}")
            bar = (f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(p.ci_low):.1f}" y2="{y(p.ci_high):.1f}" '
                   f'stroke="{stroke}" stroke-width="1.5"/>' if math.isfinite(p.ci_low) and math.isfinite(p.ci_high)
                   else "")
            parts.append(f'<g class="pt">{bar}<circle cx="{x(i):.1f}" cy="{y(p.mean):.1f}" r="3.5" fill="{stroke}">'
                         f'<title>{escape(tip)}</title></circle></g>')
    parts.append("</svg>")
    return "".join(parts)


def legend(names: list[tuple[str, int]]) -> str:
    """(model name, colour index) pairs: the same indices the plots used."""
    items = "".join(f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
                    f'fill="{color(i)}"/></svg> {escape(n)}</li>' for n, i in names)
    return f'<ul class="legend">{items}</ul>'
