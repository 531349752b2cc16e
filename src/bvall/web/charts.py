"""Server-rendered SVG charts (no JavaScript, no CDN): lab series and the follow-up timeline.

Every text that reaches the SVG is escaped here; the markup is built from numbers and escaped
strings only, so templates may mark it safe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Point:
    day: int
    value: float
    label: str  # shown on hover: the value as entered, with unit and when


def _nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = [round(start, 10)]
    while ticks[-1] < hi:  # the last tick is at or above the highest value
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def pretty_unit(unit: str) -> str:
    """A unit as printed (10^9/L -> 10⁹/L); stored spellings are never changed."""
    sup = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    out, i = [], 0
    while i < len(unit):
        if unit[i] == "^":
            j = i + 1
            while j < len(unit) and (unit[j].isdigit() or (j == i + 1 and unit[j] == "-")):
                j += 1
            out.append(unit[i + 1 : j].replace("-", "⁻").translate(sup))
            i = j
        else:
            out.append(unit[i])
            i += 1
    return "".join(out)


def _fmt(v: float) -> str:
    return f"{v:g}"


def render_lab_chart(
    points: Sequence[Point],
    title: str,
    unit: str,
    ref: tuple[float | None, float | None] = (None, None),
    width: int = 300,
    height: int = 140,
    bands: Sequence[tuple[int, float | None, float | None]] = (),
) -> str:
    """A small line chart of one lab test over study days (canonical unit), as SVG markup.

    ``ref`` is the reference range (shaded) when the values share one. ``bands`` are CTCAE grade
    bands ``(grade, low, high)`` from the criteria engine (``None`` = open), drawn behind.
    """
    left, right, top, bottom = 40, 8, 18, 22
    pw, ph = width - left - right, height - top - bottom
    pts = sorted(points, key=lambda p: p.day)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="12" class="chart-title">{escape(title)}'
        f'<tspan class="chart-unit"> {escape(pretty_unit(unit))}</tspan></text>',
    ]
    if not pts:
        parts.append(f'<text x="{left}" y="{top + ph / 2}" class="chart-empty">no values</text>')
        parts.append("</svg>")
        return "".join(parts)
    values = [p.value for p in pts] + [v for v in ref if v is not None]
    ticks = _nice_ticks(min(0.0, min(values)), max(values) * 1.05 if max(values) > 0 else 1.0)
    y0, y1 = ticks[0], ticks[-1]
    d0, d1 = pts[0].day, pts[-1].day
    if d1 == d0:
        d0, d1 = d0 - 1, d1 + 1

    def x(day: float) -> float:
        return left + (day - d0) / (d1 - d0) * pw

    def y(v: float) -> float:
        return top + ph - (v - y0) / (y1 - y0) * ph

    for grade, blo, bhi in bands:
        top_v = min(bhi if bhi is not None else y1, y1)
        bot_v = max(blo if blo is not None else y0, y0)
        if top_v <= bot_v:
            continue
        ya, yb = y(top_v), y(bot_v)
        parts.append(
            f'<rect x="{left}" y="{ya:.1f}" width="{pw}" height="{yb - ya:.1f}" '
            f'class="chart-band g{grade}"><title>CTCAE grade {grade}</title></rect>'
        )
    lo, hi = ref
    if lo is not None or hi is not None:
        ya, yb = y(hi if hi is not None else y1), y(lo if lo is not None else y0)
        parts.append(
            f'<rect x="{left}" y="{ya:.1f}" width="{pw}" height="{max(yb - ya, 0):.1f}" '
            'class="chart-ref"><title>reference range</title></rect>'
        )
    for t in ticks:
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" class="chart-grid"/>'
            f'<text x="{left - 4}" y="{y(t) + 3:.1f}" class="chart-tick" text-anchor="end">{_fmt(t)}</text>'
        )
    for day in _nice_ticks(d0, d1, 5):
        if d0 <= day <= d1 and float(day).is_integer():
            # a label at the right edge ends there rather than running off the chart
            anchor = "end" if x(day) > width - right - 12 else "middle"
            parts.append(
                f'<text x="{x(day):.1f}" y="{height - 6}" class="chart-tick" '
                f'text-anchor="{anchor}">D{int(day)}</text>'
            )
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{x(p.day):.1f},{y(p.value):.1f}" for i, p in enumerate(pts)
    )
    parts.append(f'<path d="{path}" class="chart-line"/>')
    for p in pts:
        parts.append(
            f'<circle cx="{x(p.day):.1f}" cy="{y(p.value):.1f}" r="2.6" class="chart-dot">'
            f"<title>{escape(p.label)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str
    kind: str  # css class suffix: course type


@dataclass(frozen=True)
class Mark:
    day: int
    label: str
    kind: str  # css class suffix: event code


def render_timeline(spans: Sequence[Span], marks: Sequence[Mark], width: int = 900) -> str:
    """Courses as bars and follow-up events as marks on one study-day axis, as SVG markup."""
    days = [s.start for s in spans] + [s.end for s in spans] + [m.day for m in marks]
    if not days:
        return ""
    left, right = 110, 20
    d0, d1 = min(min(days), 0), max(days) + 1
    pw = width - left - right
    rows = len(spans) + (1 if marks else 0)
    height = 24 + rows * 20 + 20

    def x(day: float) -> float:
        return left + (day - d0) / max(d1 - d0, 1) * pw

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="timeline">'
    ]
    for t in _nice_ticks(d0, d1, 8):
        if d0 <= t <= d1:
            parts.append(
                f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="14" y2="{height - 16}" class="chart-grid"/>'
                f'<text x="{x(t):.1f}" y="{height - 4}" class="chart-tick" '
                f'text-anchor="{"end" if x(t) > width - right - 12 else "middle"}">D{int(t)}</text>'
            )
    for i, s in enumerate(spans):
        yy = 18 + i * 20
        parts.append(
            f'<text x="{left - 6}" y="{yy + 11}" class="chart-tick" text-anchor="end">{escape(s.label)}</text>'
            f'<rect x="{x(s.start):.1f}" y="{yy}" width="{max(x(s.end + 1) - x(s.start), 2):.1f}" height="14" '
            f'rx="2" class="tl-{escape(s.kind)}"><title>{escape(s.label)}: D{s.start}–D{s.end}</title></rect>'
        )
    if marks:
        yy = 18 + len(spans) * 20
        parts.append(
            f'<text x="{left - 6}" y="{yy + 11}" class="chart-tick" text-anchor="end">events</text>'
        )
        for m in marks:
            parts.append(
                f'<path d="M{x(m.day):.1f},{yy} l6,7 l-6,7 l-6,-7 z" class="tm-{escape(m.kind)}">'
                f"<title>{escape(m.label)} (D{m.day})</title></path>"
            )
    parts.append("</svg>")
    return "".join(parts)
