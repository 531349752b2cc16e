"""Swimmer plot: one bar per patient from the first induction day (D1) to death or last contact.

Bars are grouped by induction arm and sorted by follow-up (longest first) within an arm. Courses
come from ``treatment_courses`` (dated start and end), events from ``follow_up_events`` and the
derived endpoints (first CR/CRi, relapse, death), MRD negativity from ``marrow_assessments``.
Nothing is placed without a date: a patient without a dated follow-up has no bar and the caption
says so. x is months from D1 (30.4375 days); study day d is drawn at d − 1 days after D1.

Artist ids: ``bar:<patient>`` (the follow-up bar), ``course:<patient>:<course id>``,
``marker:<kind>`` (one line per marker kind).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bvall.analysis.model import StudyFigure
from bvall.cohort.model import Cohort
from bvall.figures.style import (
    ARM_LABELS,
    DAYS_PER_MONTH,
    DOUBLE_COLUMN_MM,
    LIGHT_GREY,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    arm_colour,
    arm_label,
    journal_style,
    new_figure,
)

COURSE_COLOURS: dict[str, str] = {
    "prephase": "#BBBBBB",
    "salvage": OKABE_ITO["reddish_purple"],
    "consolidation": OKABE_ITO["bluish_green"],
    "maintenance": OKABE_ITO["sky_blue"],
}
COURSE_LABELS: dict[str, str] = {
    "prephase": "Dexamethasone pre-phase",
    "salvage": "Salvage chemotherapy",
    "consolidation": "Consolidation",
    "maintenance": "Maintenance",
}

#: marker kind -> (label, marker, face colour, edge colour, size)
MARKERS: dict[str, tuple[str, str, str, str, float]] = {
    "cr": ("CR/CRi", "o", "white", OKABE_ITO["black"], 4.5),
    "mrd_negative": ("MRD-negative marrow", "D", OKABE_ITO["yellow"], OKABE_ITO["black"], 3.6),
    "hsct": ("Allogeneic HSCT", "*", OKABE_ITO["sky_blue"], OKABE_ITO["black"], 7.5),
    "relapse": ("Relapse", "X", OKABE_ITO["vermillion"], OKABE_ITO["vermillion"], 5.5),
    "death": ("Death", "s", OKABE_ITO["black"], OKABE_ITO["black"], 4.0),
    "ongoing": ("Alive at last contact", ">", OKABE_ITO["black"], OKABE_ITO["black"], 4.0),
}


def _marker_style(kind: str) -> dict[str, Any]:
    """Matplotlib keywords of an event marker (the same on the lanes and in the legend)."""
    _, marker, face, edge, size = MARKERS[kind]
    return {
        "linestyle": "none",
        "marker": marker,
        "markersize": size,
        "markerfacecolor": face,
        "markeredgecolor": edge,
        "markeredgewidth": 0.6,
    }


@dataclass(frozen=True)
class SwimmerCourse:
    course_id: str
    course_type: str
    first_day: float  # days after D1
    last_day: float


@dataclass(frozen=True)
class SwimmerLane:
    """One patient's bar: follow-up in days after D1, courses and dated events (days after
    D1; kind as in :data:`MARKERS`)."""

    patient_id: str
    arm: str
    followup_days: float
    alive: bool
    courses: tuple[SwimmerCourse, ...] = ()
    events: tuple[tuple[str, float], ...] = field(default=())


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def derive_swimmer_lanes(
    cohort: Cohort, endpoints: pa.Table
) -> tuple[list[SwimmerLane], list[str]]:
    """Lanes for every patient with a dated follow-up, and the ids of those without one."""
    courses = cohort.table("treatment_courses").to_pylist()
    events = cohort.table("follow_up_events").to_pylist()
    marrow = cohort.table("marrow_assessments").to_pylist()
    lanes: list[SwimmerLane] = []
    missing: list[str] = []
    for e in endpoints.to_pylist():
        pid = str(e["patient_id"])
        if e["os_days"] is None:
            missing.append(pid)
            continue
        mine = [c for c in courses if c["patient_id"] == pid]
        starts = [
            d
            for c in mine
            if c["course_type"] == "induction" and (d := _date(c["start_date"])) is not None
        ]
        d1 = min(starts, default=None)
        drawn: list[SwimmerCourse] = []
        if d1 is not None:
            for c in mine:
                start, end = _date(c["start_date"]), _date(c["end_date"])
                if start is None or c["course_type"] in ("induction", "hsct"):
                    continue
                end = end or start
                drawn.append(
                    SwimmerCourse(
                        str(c["course_id"]),
                        str(c["course_type"]),
                        float((start - d1).days),
                        float((end - d1).days + 1),
                    )
                )
            induction = [c for c in mine if c["course_type"] == "induction" and c["start_date"]]
            for c in induction:
                start = _date(c["start_date"])
                end = _date(c["end_date"]) or start
                assert start is not None
                assert end is not None
                drawn.append(
                    SwimmerCourse(
                        str(c["course_id"]),
                        "induction",
                        float((start - d1).days),
                        float((end - d1).days + 1),
                    )
                )
        marks: list[tuple[str, float]] = []
        if e["cr_day"] is not None:
            marks.append(("cr", float(e["cr_day"] - 1)))
        mrd_days = [
            m["study_day"]
            for m in marrow
            if m["patient_id"] == pid
            and m["mrd_status"] == "negative"
            and m["study_day"] is not None
            and m["study_day"] > 0
        ]
        if mrd_days:
            marks.append(("mrd_negative", float(min(mrd_days) - 1)))
        for ev in events:
            if ev["patient_id"] == pid and ev["event"] == "hsct" and ev["study_day"] is not None:
                marks.append(("hsct", float(ev["study_day"] - 1)))
        if e["relapse"] and e["relapse_day"] is not None:
            marks.append(("relapse", float(e["relapse_day"] - 1)))
        alive = not e["os_event"]
        marks.append(("ongoing" if alive else "death", float(e["os_days"])))
        lanes.append(
            SwimmerLane(pid, str(e["arm"]), float(e["os_days"]), alive, tuple(drawn), tuple(marks))
        )
    order = {a: i for i, a in enumerate(ARM_LABELS)}
    lanes.sort(
        key=lambda ln: (order.get(ln.arm, len(order)), ln.arm, -ln.followup_days, ln.patient_id)
    )
    return lanes, missing


def render_swimmer(lanes: Sequence[SwimmerLane], *, width_mm: float = DOUBLE_COLUMN_MM) -> Figure:
    """Draw the lanes top to bottom (first lane on top), arms separated by a gap and labelled."""
    if not lanes:
        raise ValueError("render_swimmer needs at least one patient lane.")
    row_mm, legend_mm = 4.6, 16.0
    n_gaps = len({ln.arm for ln in lanes}) - 1
    plot_mm = row_mm * (len(lanes) + 0.8 * n_gaps) + 4
    height_mm = plot_mm + legend_mm + 14.0
    with journal_style():
        fig = new_figure(width_mm, height_mm)
        ax = fig.add_axes(
            (
                24 / width_mm,
                (legend_mm + 11) / height_mm,
                (width_mm - 28) / width_mm,
                plot_mm / height_mm,
            )
        )
        y = 0.0
        ys: list[float] = []
        arm_spans: dict[str, list[float]] = {}
        previous = None
        for ln in lanes:
            if previous is not None and ln.arm != previous:
                y += 0.8
            ys.append(y)
            arm_spans.setdefault(ln.arm, []).append(y)
            previous = ln.arm
            y += 1.0
        used_courses: set[str] = set()
        used_marks: set[str] = set()
        points: dict[str, list[tuple[float, float]]] = {k: [] for k in MARKERS}
        for ln, yy in zip(lanes, ys, strict=True):
            bar = ax.barh(
                yy,
                ln.followup_days / DAYS_PER_MONTH,
                left=0,
                height=0.56,
                color=LIGHT_GREY,
                edgecolor="none",
            )[0]
            bar.set_gid(f"bar:{ln.patient_id}")
            for c in ln.courses:
                colour = (
                    arm_colour(ln.arm)
                    if c.course_type == "induction"
                    else COURSE_COLOURS.get(c.course_type, "#999999")
                )
                seg = ax.barh(
                    yy,
                    (c.last_day - c.first_day) / DAYS_PER_MONTH,
                    left=c.first_day / DAYS_PER_MONTH,
                    height=0.56,
                    color=colour,
                    edgecolor="none",
                )[0]
                seg.set_gid(f"course:{ln.patient_id}:{c.course_id}")
                used_courses.add(
                    "induction:" + ln.arm if c.course_type == "induction" else c.course_type
                )
            for kind, day in ln.events:
                points[kind].append((day / DAYS_PER_MONTH, yy))
                used_marks.add(kind)
        for kind, pts in points.items():
            if not pts:
                continue
            (line,) = ax.plot(
                [p[0] for p in pts], [p[1] for p in pts], zorder=3, **_marker_style(kind)
            )
            line.set_gid(f"marker:{kind}")
        ax.set_yticks(ys)
        ax.set_yticklabels([ln.patient_id for ln in lanes])
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_ylim(y - 0.4, -0.6)
        last = max(ln.followup_days for ln in lanes) / DAYS_PER_MONTH
        first = min([0.0] + [c.first_day for ln in lanes for c in ln.courses]) / DAYS_PER_MONTH
        top = 3 * (int(last // 3) + 1)
        ax.set_xlim(min(first, 0) - 0.15, top + 0.3)
        ax.set_xticks(range(0, top + 1, 3))
        ax.set_xlabel("Months from start of induction (D1)")
        ax.axvline(0, color="black", lw=0.5, zorder=0)
        for arm, arm_ys in arm_spans.items():
            ax.annotate(
                arm_label(arm),
                xy=(-17 / (width_mm - 28), (min(arm_ys) + max(arm_ys)) / 2),
                xycoords=("axes fraction", "data"),
                ha="center",
                va="center",
                rotation=90,
                fontsize=SMALL_FONT_SIZE,
                color=arm_colour(arm),
                fontweight="bold",
            )
        handles: list[Any] = []
        for key in sorted(used_courses, key=lambda k: (not k.startswith("induction"), k)):
            if key.startswith("induction:"):
                arm = key.split(":", 1)[1]
                handles.append(Patch(color=arm_colour(arm), label=f"Induction, {arm_label(arm)}"))
            else:
                handles.append(
                    Patch(
                        color=COURSE_COLOURS.get(key, "#999999"), label=COURSE_LABELS.get(key, key)
                    )
                )
        handles.append(Patch(color=LIGHT_GREY, label="Follow-up"))
        for kind in MARKERS:
            if kind in used_marks:
                handles.append(Line2D([], [], label=MARKERS[kind][0], **_marker_style(kind)))
        fig.legend(
            handles=handles,
            loc="lower center",
            ncol=4,
            fontsize=SMALL_FONT_SIZE,
            bbox_to_anchor=(0.5, 0.005),
            handlelength=1.4,
            columnspacing=1.2,
            handletextpad=0.5,
        )
    return fig


def build_swimmer_figure(
    cohort: Cohort, endpoints: pa.Table
) -> tuple[StudyFigure | None, str | None]:
    """``figure-swimmer``, or the reason it cannot be drawn."""
    lanes, missing = derive_swimmer_lanes(cohort, endpoints)
    name = cohort.metadata.name
    if not lanes:
        return None, (
            f"figure-swimmer: no patient in cohort '{name}' has a dated follow-up "
            f"({len(missing)}/{len(missing)} without a dated death or last contact; treatment "
            "courses and follow-up events carry no dates), so no bar has a length. What the "
            "source reports per patient without dates (arm, response, MRD) is in the study "
            "tables."
        )
    fig = render_swimmer(lanes)
    n_courses = sum(1 for ln in lanes if ln.courses)
    parts = [
        f"Swimmer plot of {len(lanes)} patients: each bar runs from the first induction day "
        "(D1) to death or last contact; bars are grouped by induction arm and sorted by "
        "follow-up within each arm.",
        "Coloured segments are treatment courses as dated in the treatment-course records "
        "(pre-phase dexamethasone before D1, induction, salvage, consolidation); markers show "
        "the first CR/CRi and the first MRD-negative marrow (10-colour flow, sensitivity "
        "10⁻⁴), allogeneic HSCT, relapse and death; an arrow marks a patient alive at last "
        "contact.",
    ]
    if n_courses < len(lanes):
        parts.append(f"Course dates are missing for {len(lanes) - n_courses} patient(s).")
    if missing:
        parts.append(
            f"{len(missing)} patient(s) without a dated follow-up are not shown "
            f"({', '.join(missing)})."
        )
    parts.append(
        "Response, relapse and survival times derived by the criteria engine "
        f"({', '.join(sorted({str(v) for v in endpoints.column('rule_version').to_pylist()}))})"
        f"; 1 month = {DAYS_PER_MONTH} days."
    )
    if cohort.metadata.synthetic:
        parts.append(f"SYNTHETIC example cohort '{name}' (not real patients).")
    return StudyFigure(
        "figure-swimmer", "Treatment and outcome per patient", " ".join(parts), fig
    ), None
