"""Planned induction schedule of each arm: one lane per agent, study days on x, dose labels.

Drawn from the regimen specs through the planner (:func:`bvall.regimen.plan_regimen`), never
from hand-typed days: the segments are the plan's consecutive days at one dose. The plan is made
by study day only (no start date) and without weight or height, so blinatumomab is the fixed
dose for patients >= 45 kg (the planner flags it; the caption says so) and BSA-based supportive
care (IV hydration) has no number and is not drawn. The marrow lane is the spec's assessment
window with its target day.

Artist ids: ``segment:<regimen>:<agent>:<first day>:<last day>``, ``window:<regimen>:<id>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bvall.analysis.model import StudyFigure
from bvall.cohort.model import Cohort
from bvall.figures.style import (
    DOUBLE_COLUMN_MM,
    GREY,
    OKABE_ITO,
    SMALL_FONT_SIZE,
    journal_style,
    new_figure,
)
from bvall.regimen import Plan, plan_regimen, regimen_names

#: Agents drawn, top to bottom, and their colours; other agents of a plan are not drawn.
LANE_AGENTS: dict[str, str] = {
    "dexamethasone": "#999999",
    "venetoclax": OKABE_ITO["bluish_green"],
    "blinatumomab": OKABE_ITO["blue"],
}
LANE_NAMES: dict[str, str] = {
    "dexamethasone": "Dexamethasone",
    "venetoclax": "Venetoclax",
    "blinatumomab": "Blinatumomab",
}
MARROW_COLOUR = OKABE_ITO["orange"]


@dataclass(frozen=True)
class TimelineSegment:
    """Consecutive study days ``first``–``last`` at one dose (``None``: no number planned)."""

    agent: str
    first: int
    last: int
    dose: float | None
    unit: str


@dataclass(frozen=True)
class TimelineLane:
    agent: str
    name: str
    segments: tuple[TimelineSegment, ...]


def derive_timeline_lanes(plan: Plan) -> list[TimelineLane]:
    """The plan's doses of the lane agents as runs of consecutive days at one dose."""
    lanes = []
    for agent in LANE_AGENTS:
        doses = plan.doses_of(agent)
        if not doses:
            continue
        segments: list[TimelineSegment] = []
        for day, dose in doses:
            prev = segments[-1] if segments else None
            if prev and prev.last == day - 1 and prev.dose == dose.dose and prev.unit == dose.unit:
                segments[-1] = TimelineSegment(agent, prev.first, day, prev.dose, prev.unit)
            else:
                segments.append(TimelineSegment(agent, day, day, dose.dose, dose.unit))
        lanes.append(TimelineLane(agent, LANE_NAMES.get(agent, doses[0][1].name), tuple(segments)))
    return lanes


def _dose_text(seg: TimelineSegment, room_days: int) -> str:
    if seg.dose is None:
        return "?"
    unit = seg.unit if seg.unit != "mg" or seg.agent != "dexamethasone" else "mg/day"
    return f"{seg.dose:g} {unit}" if room_days >= 3 else f"{seg.dose:g}"


def render_timeline(plans: Sequence[Plan], *, width_mm: float = DOUBLE_COLUMN_MM) -> Figure:
    """One panel per plan (arm), stacked, on a shared study-day axis."""
    if not plans:
        raise ValueError("render_timeline needs at least one plan.")
    all_lanes = [derive_timeline_lanes(p) for p in plans]
    lane_mm, head_mm, gap_mm, axis_mm = 6.0, 6.0, 4.0, 10.0
    heights = [lane_mm * (len(lanes) + 1) for lanes in all_lanes]
    height_mm = sum(heights) + head_mm * len(plans) + gap_mm * (len(plans) - 1) + axis_mm + 2
    first = min(s.first for lanes in all_lanes for ln in lanes for s in ln.segments)
    last = max(
        [s.last for lanes in all_lanes for ln in lanes for s in ln.segments]
        + [a.last for p in plans for a in p.assessments if a.last is not None]
    )
    left_mm = 27.0
    with journal_style():
        fig = new_figure(width_mm, height_mm)
        top = height_mm - 2
        axes = []
        for plan, lanes, h in zip(plans, all_lanes, heights, strict=True):
            top -= head_mm
            bottom = top - h
            ax = fig.add_axes(
                (left_mm / width_mm, bottom / height_mm, (width_mm - left_mm - 3) / width_mm,
                 h / height_mm),
                sharex=axes[0] if axes else None,
            )
            axes.append(ax)
            top = bottom - gap_mm
            ax.set_title(plan.regimen.title, loc="left", pad=3)
            names = [ln.name for ln in lanes] + ["Marrow assessment"]
            for row, ln in enumerate(lanes):
                colour = LANE_AGENTS[ln.agent]
                for seg in ln.segments:
                    width = seg.last - seg.first + 1
                    rect = Rectangle((seg.first - 0.5, row - 0.32), width, 0.64,
                                     facecolor=colour, edgecolor="white", linewidth=0.8)
                    rect.set_gid(f"segment:{plan.regimen.id}:{ln.agent}:{seg.first}:{seg.last}")
                    ax.add_patch(rect)
                    ax.text((seg.first + seg.last) / 2, row, _dose_text(seg, width),
                            ha="center", va="center",
                            fontsize=SMALL_FONT_SIZE - 0.5 if width > 1 else SMALL_FONT_SIZE - 1,
                            color="white" if ln.agent != "dexamethasone" else "black")
            row = len(lanes)
            for a in plan.assessments:
                if a.kind != "marrow" or a.first is None or a.last is None:
                    continue
                rect = Rectangle((a.first - 0.5, row - 0.25), a.last - a.first + 1, 0.5,
                                 facecolor="none", edgecolor=MARROW_COLOUR, linewidth=1.0,
                                 hatch="////")
                rect.set_gid(f"window:{plan.regimen.id}:{a.id}")
                ax.add_patch(rect)
                if a.target is not None:
                    ax.plot([a.target], [row], marker="v", color=MARROW_COLOUR, markersize=6,
                            markeredgecolor="black", markeredgewidth=0.5, zorder=3)
            ax.set_yticks(range(len(names)))
            ax.set_yticklabels(names)
            ax.set_ylim(len(names) - 0.5, -0.5)
            ax.tick_params(axis="y", length=0)
            ax.spines["left"].set_visible(False)
            ax.axvline(0.5, color=GREY, lw=0.5, ls=(0, (2, 2)), zorder=0)
        ticks = sorted({first, 1, 8, 14, 21} | ({last} if last > 21 else set()))
        for ax in axes:
            ax.set_xlim(first - 0.8, last + 0.8)
            ax.set_xticks(ticks)
            ax.set_xticks(range(first, last + 1), minor=True)
            ax.tick_params(axis="x", which="minor", length=1.5)
            ax.set_xticklabels([f"D{t}" for t in ticks])
            ax.tick_params(labelbottom=ax is axes[-1])
        axes[-1].set_xlabel("Study day (D1 = first induction day)")
    return fig


def compute_study_regimens(cohort: Cohort) -> list[str]:
    """The induction regimens the cohort's patients received that have a regimen spec."""
    known = set(regimen_names())
    used = {
        str(c["regimen"])
        for c in cohort.table("treatment_courses").to_pylist()
        if c["course_type"] == "induction" and c["regimen"] is not None
    }
    return sorted(used & known)


def build_timeline_figure(cohort: Cohort) -> tuple[StudyFigure | None, str | None]:
    """``figure-timeline``, or the reason it cannot be drawn."""
    names = compute_study_regimens(cohort)
    if not names:
        return None, (
            f"figure-timeline: no induction course in cohort '{cohort.metadata.name}' names a "
            f"regimen with a spec (known: {', '.join(regimen_names())})."
        )
    plans = [plan_regimen(n, start=None, weight_kg=None, height_cm=None) for n in names]
    fig = render_timeline(plans)
    dex = {p.parameters.get("dex_days") for p in plans}
    caption = (
        "Planned induction schedule of each arm by study day (D1 = first day of venetoclax), "
        "one lane per agent, from the regimen specs "
        + ", ".join(f"{p.regimen.id} v{p.regimen.version}" for p in plans)
        + " through the regimen planner. Labels give the daily dose: venetoclax orally (mg), "
        "blinatumomab as continuous infusion (µg/day, fixed dose for patients >= 45 kg; "
        "below 45 kg the dose is per m²), dexamethasone pre-phase 10 mg/day drawn for "
        f"{', '.join(str(d) for d in sorted(x for x in dex if x is not None))} days (the seed "
        "paper gives 3–5). The hatched box is the day 14–21 marrow window (MRD by 10-colour "
        "flow), the triangle its target day; a second marrow follows at count recovery before "
        "consolidation (no fixed day). Supportive care (antihyperuricaemic, IV hydration, "
        "intrathecal prophylaxis) is not drawn. The schedule is the protocol as planned, not "
        "the doses patients received."
    )
    return StudyFigure("figure-timeline", "Induction schedule by arm", caption, fig), None
