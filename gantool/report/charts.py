"""Line charts as inline SVG: one chart per metric, one line per run, no script and no network."""

from __future__ import annotations

import math
from html import escape

# matplotlib's tab10, so the report's colours match gantool's other plots
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
WIDTH, HEIGHT = 460, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 10, 28


def colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high == low:
        return [low]
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def _label(value: float) -> str:
    return f"{value:.3g}"


def line_chart(title: str, series: list[list[tuple[int, float]]]) -> str:
    """An SVG chart of `series` (one list of (step, value) per run, in run order). Non-finite
    values break the line (a divergence shows as a gap, not as a spike to infinity)."""
    points = [(s, v) for line in series for s, v in line if math.isfinite(v)]
    if not points:
        return ""
    x0, x1 = min(s for s, _ in points), max(s for s, _ in points)
    y0, y1 = min(v for _, v in points), max(v for _, v in points)
    if y0 == y1:
        y0, y1 = y0 - 0.5, y1 + 0.5
    x1 = x1 if x1 > x0 else x0 + 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(step: float, value: float) -> str:
        return (f"{LEFT + (step - x0) / (x1 - x0) * plot_w:.1f},"
                f"{TOP + (y1 - value) / (y1 - y0) * plot_h:.1f}")

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="frame"/>']
    for value in _ticks(y0, y1):
        y = TOP + (y1 - value) / (y1 - y0) * plot_h
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'class="grid"/><text x="{LEFT - 4}" y="{y + 4:.1f}" '
                     f'class="tick" text-anchor="end">{_label(value)}</text>')
    for step in _ticks(x0, x1):
        x = LEFT + (step - x0) / (x1 - x0) * plot_w
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" class="tick" '
                     f'text-anchor="middle">{round(step)}</text>')
    for index, line in enumerate(series):
        segment: list[str] = []
        for step, value in [*line, (None, math.nan)]:
            if step is not None and math.isfinite(value):
                segment.append(xy(step, value))
                continue
            if len(segment) == 1:
                x, y = segment[0].split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="2" fill="{colour(index)}"/>')
            elif segment:
                parts.append(f'<polyline points="{" ".join(segment)}" fill="none" '
                             f'stroke="{colour(index)}" stroke-width="1.5"/>')
            segment = []
    parts.append("</svg>")
    return "".join(parts)
