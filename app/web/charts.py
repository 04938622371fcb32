"""Charts drawn on the server as SVG: no library, no script, readable without colour (labels on bars).

Each function returns markup for an ``<svg role="img">`` with a title; pages show the numbers in a
table next to it as well, so screen readers and printouts lose nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

INK, GRID, BAR, LINE, ACCENT = "#1d2b3a", "#c9d3dd", "#2f6f9f", "#2f6f9f", "#b45309"


@dataclass(frozen=True)
class Point:
    """One labelled value (a bar, or a point of a line)."""

    label: str
    value: float | None


def _percent_label(value: float) -> str:
    return f"{value * 100:.0f}%"


def _open(width: int, height: int, title: str, css_class: str) -> list[str]:
    return [f'<svg class="chart {css_class}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">',
            f"<title>{escape(title)}</title>"]


def bar_chart(points: Sequence[Point], *, title: str, as_share: bool = True, width: int = 640,
              bar_height: int = 22) -> Markup:
    """Horizontal bars, one per label, the value written at the bar's end (0..1 shares by default)."""
    label_width, gap, top = 190, 8, 8
    height = top * 2 + max(1, len(points)) * (bar_height + gap)
    top_value = 1.0 if as_share else max([p.value or 0 for p in points] + [1])
    span = width - label_width - 70
    parts = _open(width, height, title, "bar-chart")
    for index, point in enumerate(points):
        y = top + index * (bar_height + gap)
        value = point.value or 0
        length = max(0.0, min(1.0, value / top_value)) * span
        text = "—" if point.value is None else (_percent_label(value) if as_share else f"{value:,.0f}".replace(",", "."))
        parts.append(f'<text x="{label_width - 6}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" '
                     f'font-size="13" fill="{INK}">{escape(point.label[:28])}</text>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" fill="{BAR}" rx="2"/>')
        parts.append(f'<text x="{label_width + length + 6:.1f}" y="{y + bar_height * 0.7:.1f}" font-size="13" '
                     f'fill="{INK}">{text}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(points: Sequence[Point], *, title: str, as_share: bool = True, width: int = 640,
               height: int = 220, step: bool = False) -> Markup:
    """A line over labelled x positions (months, or days since credit), y from 0 to 100 % by default."""
    left, right, top, bottom = 44, 12, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [p.value for p in points if p.value is not None]
    top_value = 1.0 if as_share else max(known + [1])
    parts = _open(width, height, title, "line-chart")
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = top + plot_h * (1 - fraction)
        label = _percent_label(fraction) if as_share else f"{top_value * fraction:,.0f}".replace(",", ".")
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{INK}">{label}</text>')
    count = max(1, len(points) - 1)
    coords: list[tuple[float, float]] = []
    every = max(1, len(points) // 12)
    for index, point in enumerate(points):
        x = left + plot_w * index / count
        if index % every == 0 or index == len(points) - 1:
            parts.append(f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" font-size="11" '
                         f'fill="{INK}">{escape(point.label)}</text>')
        if point.value is not None:
            y = top + plot_h * (1 - max(0.0, min(1.0, point.value / top_value)))
            if step and coords:
                coords.append((x, coords[-1][1]))
            coords.append((x, y))
    if coords:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
        parts.append(f'<path d="{path}" fill="none" stroke="{LINE}" stroke-width="2.5"/>')
        if not step:
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{ACCENT}"/>' for x, y in coords)
    parts.append("</svg>")
    return Markup("".join(parts))
