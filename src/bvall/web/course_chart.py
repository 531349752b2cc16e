"""The course on one day axis: counts with their CTCAE grade bands, doses given against the plan,
CRS/ICANS episodes and marrow assessments, as one server-rendered SVG (no JavaScript needed).

Server-side SVG rather than a charting library: the page must be readable without JavaScript
and under a Content Security Policy without inline styles, and the drawing is a few lanes of
rectangles and lines on one shared axis. The SVG scales to its box (``viewBox``, width 100 %),
so the same markup reads at 1024 px and wider. Every text is escaped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from bvall.web.charts import Point, _nice_ticks, pretty_unit


@dataclass(frozen=True)
class LabLane:
    title: str
    unit: str
    points: Sequence[Point]
    bands: Sequence[tuple[int, float | None, float | None]] = ()


@dataclass(frozen=True)
class DoseDay:
    day: int
    agent: str
    planned: str | None
    given: str | None
    unit: str
    category: str  # as_planned, missed, reduced, ... (the deviation engine's words)


@dataclass(frozen=True)
class Episode:
    kind: str  # CRS or ICANS
    onset: int
    end: int | None  # None: ongoing
    grade: int | None
    label: str


@dataclass(frozen=True)
class MarrowMark:
    day: int
    label: str


@dataclass(frozen=True)
class CourseData:
    labs: Sequence[LabLane] = ()
    doses: Sequence[DoseDay] = ()
    episodes: Sequence[Episode] = ()
    marrow: Sequence[MarrowMark] = ()
    today: int | None = None
    extra_days: Sequence[int] = field(default_factory=tuple)


WIDTH = 1000
LEFT, RIGHT = 150, 24
LAB_H, LANE_H, GAP = 62, 18, 18


def course_window(data: CourseData, *, before: int = 7, after: int = 35) -> tuple[int, int]:
    """The days shown: the plan and episodes, from at most ``before`` days before D1 to at least
    D``after`` (the response marrow), never wider than D-14 to D90."""
    days = [d.day for d in data.doses] + [e.onset for e in data.episodes]
    days += [e.end for e in data.episodes if e.end is not None]
    days += [m.day for m in data.marrow if -14 <= m.day <= 90]
    lo = max(-14, min([*days, 1 - before]))
    hi = min(90, max([*days, after]))
    return lo, hi


def render_course_chart(data: CourseData) -> str:
    """The course as SVG markup (see the module docstring); empty when there is nothing."""
    if not (data.labs or data.doses or data.episodes or data.marrow):
        return ""
    d0, d1 = course_window(data)
    pw = WIDTH - LEFT - RIGHT
    agents = sorted({d.agent for d in data.doses})

    def x(day: float) -> float:
        return LEFT + (day - d0) / (d1 + 1 - d0) * pw

    day_w = pw / (d1 + 1 - d0)
    parts: list[str] = []
    yy = 6
    for lane in data.labs:
        pts = [p for p in lane.points if d0 <= p.day <= d1]
        values = [p.value for p in pts] or [1.0]
        ticks = _nice_ticks(0.0, max(values) * 1.05 if max(values) > 0 else 1.0, 2)
        y0, y1 = ticks[0], ticks[-1]
        top, h = float(yy), float(LAB_H)

        def y(v: float, top: float = top, h: float = h, y0: float = y0, y1: float = y1) -> float:
            return top + h - (v - y0) / (y1 - y0) * h

        for grade, blo, bhi in lane.bands:
            hi_v = min(bhi if bhi is not None else y1, y1)
            lo_v = max(blo if blo is not None else y0, y0)
            if hi_v > lo_v:
                parts.append(
                    f'<rect x="{LEFT}" y="{y(hi_v):.1f}" width="{pw}" '
                    f'height="{y(lo_v) - y(hi_v):.1f}" class="chart-band g{grade}">'
                    f"<title>CTCAE grade {grade}</title></rect>"
                )
        parts.append(
            f'<text x="4" y="{top + 14}" class="cc-lane">{escape(lane.title)}</text>'
            f'<text x="4" y="{top + 28}" class="chart-tick">{escape(pretty_unit(lane.unit))}</text>'
        )
        for t in (y0, y1):
            parts.append(
                f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                f'class="chart-grid"/><text x="{LEFT - 3}" y="{y(t) + 3:.1f}" class="chart-tick" '
                f'text-anchor="end">{t:g}</text>'
            )
        if pts:
            path = " ".join(
                f"{'M' if i == 0 else 'L'}{x(p.day + 0.5):.1f},{y(p.value):.1f}"
                for i, p in enumerate(sorted(pts, key=lambda p: p.day))
            )
            parts.append(f'<path d="{path}" class="chart-line"/>')
            for p in pts:
                parts.append(
                    f'<circle cx="{x(p.day + 0.5):.1f}" cy="{y(p.value):.1f}" r="2.6" '
                    f'class="chart-dot"><title>{escape(p.label)}</title></circle>'
                )
        else:
            parts.append(
                f'<text x="{LEFT + 6}" y="{top + h / 2}" class="chart-empty">no values in these '
                "days</text>"
            )
        yy += LAB_H + GAP
    for agent in agents:
        parts.append(f'<text x="4" y="{yy + 13}" class="cc-lane">{escape(agent)}</text>')
        for d in data.doses:
            if d.agent != agent or not d0 <= d.day <= d1:
                continue
            ok = d.category == "as_planned"
            cls = "cc-given" if ok else ("cc-missed" if d.given is None else "cc-changed")
            if d.planned is None and d.given is not None:
                cls = "cc-changed"
            planned = f"planned {d.planned} {d.unit}" if d.planned else "not planned"
            given = f"given {d.given} {d.unit}" if d.given else "none given"
            words = d.category.replace("_", " ")
            parts.append(
                f'<rect x="{x(d.day) + 0.6:.1f}" y="{yy + 2}" width="{max(day_w - 1.2, 1):.1f}" '
                f'height="{LANE_H - 4}" class="{cls}"><title>D{d.day} {escape(agent)}: '
                f"{escape(planned)}; {escape(given)} ({escape(words)})</title></rect>"
            )
        yy += LANE_H + 2
    if data.episodes:
        parts.append(f'<text x="4" y="{yy + 13}" class="cc-lane">CRS / ICANS</text>')
        for e in data.episodes:
            end = e.end if e.end is not None else d1
            a, b = max(e.onset, d0), min(end, d1)
            if b < a:
                continue
            g = e.grade if e.grade is not None else 0
            parts.append(
                f'<rect x="{x(a):.1f}" y="{yy + 1}" width="{x(b + 1) - x(a):.1f}" '
                f'height="{LANE_H - 2}" class="cc-episode g{min(g, 4)}">'
                f"<title>{escape(e.label)}</title></rect>"
                f'<text x="{x(a) + 3:.1f}" y="{yy + 13}" class="cc-episode-text">'
                f"{escape(e.kind)} {g}</text>"
            )
        yy += LANE_H + 2
    if data.marrow:
        parts.append(f'<text x="4" y="{yy + 13}" class="cc-lane">marrow</text>')
        for m in data.marrow:
            if d0 <= m.day <= d1:
                cx = x(m.day + 0.5)
                parts.append(
                    f'<path d="M{cx:.1f},{yy + 2} l7,7 l-7,7 l-7,-7 z" class="cc-marrow">'
                    f"<title>D{m.day}: {escape(m.label)}</title></path>"
                )
        yy += LANE_H + 2
    # the shared day axis: weekly ticks from D1 (D1, D8, D15, ...), today marked
    axis = yy + 4
    ticks = [t for t in range(1 - 7 * ((1 - d0) // 7), d1 + 1, 7) if t >= d0]
    grid = []
    for t in ticks:
        grid.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="4" y2="{axis}" class="cc-week"/>'
            f'<text x="{x(t + 0.5):.1f}" y="{axis + 13}" class="chart-tick" '
            f'text-anchor="middle">D{t}</text>'
        )
    if data.today is not None and d0 <= data.today <= d1:
        grid.append(
            f'<line x1="{x(data.today + 0.5):.1f}" x2="{x(data.today + 0.5):.1f}" y1="2" '
            f'y2="{axis}" class="cc-today"><title>today, D{data.today}</title></line>'
        )
    height = axis + 20
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="course-chart" viewBox="0 0 {WIDTH} '
        f'{height}" width="100%" role="img" aria-label="The course from D{d0} to D{d1} on one '
        'day axis">'
    )
    return head + "".join(grid) + "".join(parts) + "</svg>"


def episodes_from(
    crs: Sequence[Mapping[str, object]], icans: Sequence[Mapping[str, object]]
) -> list[Episode]:
    """Episodes as the engines derive them (onset_day, end_day, max_grade, episode)."""
    out = []
    for kind, rows in (("CRS", crs), ("ICANS", icans)):
        for e in rows:
            onset = e.get("onset_day")
            if onset is None:
                continue
            end = e.get("end_day")
            grade = e.get("max_grade")
            span = f"D{onset}–D{end}" if end is not None else f"from D{onset}, ongoing"
            out.append(
                Episode(
                    kind,
                    int(onset),  # type: ignore[call-overload]
                    None if end is None else int(end),  # type: ignore[call-overload]
                    None if grade is None else int(grade),  # type: ignore[call-overload]
                    f"{kind} episode {e.get('episode')}, grade {grade}: {span}",
                )
            )
    return out
