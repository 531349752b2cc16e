"""Kaplan–Meier and cumulative-incidence figures with an aligned number-at-risk table.

Every number drawn comes from :mod:`bvall.stats` (:func:`~bvall.stats.compute_kaplan_meier`,
:func:`~bvall.stats.compute_cumulative_incidence`); this module only draws them. Curves are
computed in days (the unit of the derived endpoints) and drawn in months of 30.4375 days
(365.25 / 12). The number at risk under each x tick is the estimator's own ``at(t).n_risk``:
subjects whose observed time is >= t (R ``summary(fit, times = t)``).

Artists carry ids (``Artist.get_gid()``) so tests and tools can read a figure back:
``curve:<panel>:<label>``, ``censor:<panel>:<label>``, ``band:<panel>:<label>``,
``at-risk:<panel>:<label>:<tick months>``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pyarrow as pa
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from bvall.analysis.model import StudyFigure
from bvall.cohort.model import Cohort
from bvall.figures.style import (
    ARM_LABELS,
    DAYS_PER_MONTH,
    DOUBLE_COLUMN_MM,
    GREY,
    MM_PER_INCH,
    OKABE_ITO,
    OVERALL_COLOUR,
    SINGLE_COLUMN_MM,
    SMALL_FONT_SIZE,
    arm_colour,
    arm_label,
    journal_style,
    new_figure,
)
from bvall.stats import (
    CumulativeIncidence,
    KaplanMeier,
    compute_cumulative_incidence,
    compute_kaplan_meier,
)


@dataclass(frozen=True)
class KMCurve:
    """One curve to draw: a Kaplan–Meier fit or a cumulative incidence, its label and colour.

    ``band`` draws the pointwise confidence band; ``at_risk`` gives the curve a row in the
    number-at-risk table (off for a competing-risk curve, whose risk set is the same).
    """

    label: str
    colour: str
    fit: KaplanMeier | CumulativeIncidence
    band: bool = False
    linestyle: str = "-"
    at_risk: bool = True


@dataclass(frozen=True)
class KMPanel:
    """One panel: its title (``"A  Overall"``), curves, and the landmark to annotate (months;
    ``None`` for none) named ``landmark_name`` (``"1-year OS"``)."""

    title: str
    curves: tuple[KMCurve, ...]
    landmark_months: float | None = 12.0
    landmark_name: str = ""
    legend: bool = True


@dataclass(frozen=True)
class _Step:
    """A curve as drawn: step coordinates (days; estimate as a fraction), censor marks, band."""

    x: np.ndarray
    y: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    censor_x: np.ndarray
    censor_y: np.ndarray
    increasing: bool
    extra: dict[str, float] = field(default_factory=dict)


def compute_step_coordinates(fit: KaplanMeier | CumulativeIncidence) -> _Step:
    """The step curve as drawn (``drawstyle='steps-post'``): from (0, 1) for a survival curve
    or (0, 0) for an incidence, then one point per observed time of the fit, in days."""
    if isinstance(fit, KaplanMeier):
        start, est, lo, hi = 1.0, fit.survival, fit.lower, fit.upper
        censored = fit.n_censor > 0
        increasing = False
    else:
        start, est, lo, hi = 0.0, fit.incidence, fit.lower, fit.upper
        censored = fit.n_censor > 0
        increasing = True
    x = np.concatenate([[0.0], fit.time.astype(float)])
    y = np.concatenate([[start], est])
    lower = np.concatenate([[start], lo])
    upper = np.concatenate([[start], hi])
    return _Step(x, y, lower, upper, fit.time[censored], est[censored], increasing)


def compute_tick_months(max_days: float, step: float = 3.0) -> list[float]:
    """x ticks in months: 0, step, 2·step, ... up to the first tick at or past the last time."""
    if not math.isfinite(max_days) or max_days < 0:
        raise ValueError(f"Largest time {max_days!r} must be a finite number of days >= 0.")
    last = max(step, math.ceil(max_days / DAYS_PER_MONTH / step) * step)
    return [i * step for i in range(round(last / step) + 1)]


def compute_at_risk(
    fit: KaplanMeier | CumulativeIncidence, tick_months: Sequence[float]
) -> list[int]:
    """Number at risk at each tick, as the estimator reports it (time >= tick)."""
    return [lm.n_risk for lm in fit.at([m * DAYS_PER_MONTH for m in tick_months])]


def _pct(v: float) -> str:
    return "NA" if math.isnan(v) else f"{100 * v:.1f}"


def compute_landmark_text(curve: KMCurve, months: float, name: str) -> str | None:
    """``'1-year OS: 83.3% (95% CI 27.3–97.5)'``, or "not estimable" when nobody is followed
    that long (the estimate would be carried past the data). In a panel of several curves the
    text starts with the curve's label, so colour is not the only key."""
    fit = curve.fit
    if curve.label != "All patients":
        name = f"{curve.label}, {name}"
    if float(fit.time[-1]) < months * DAYS_PER_MONTH:
        return f"{name}: not estimable"
    (lm,) = fit.at([months * DAYS_PER_MONTH])
    value = lm.survival if hasattr(lm, "survival") else lm.incidence
    level = round(100 * fit.level)
    # No event yet: the interval is the point (log, plain) or undefined (log-log, as R's NA).
    no_events = value in (0.0, 1.0) and (
        lm.lower == lm.upper == value or (math.isnan(lm.lower) and math.isnan(lm.upper))
    )
    if no_events:
        return f"{name}: {_pct(value)}% (no events)"
    return f"{name}: {_pct(value)}% ({level}% CI {_pct(lm.lower)}–{_pct(lm.upper)})"


#: Vertical layout of a panel in millimetres (title, plot, tick labels and axis label, table).
_TITLE_MM = 6.0
_GAP_MM = 10.0  # x tick labels and the x-axis label between the plot and the table
_HEADER_MM = 4.0
_ROW_MM = 3.6
_BOTTOM_MM = 1.5
_YAXIS_MM = 13.0  # y tick labels and the y-axis label
_RIGHT_MM = 3.0
_PANEL_GAP_MM = 6.0


def _text_width_mm(fig: Figure, text: str, size: float) -> float:
    """Printed width of ``text`` at ``size`` pt in this figure (measured, not guessed)."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    t = fig.text(0, 0, text, fontsize=size)
    width_px = t.get_window_extent(renderer).width
    t.remove()
    return float(width_px / fig.dpi * MM_PER_INCH)


def _draw_panel(
    fig: Figure,
    rect_mm: tuple[float, float, float, float, float],
    panel: KMPanel,
    index: int,
    ticks: list[float],
    xlabel: str,
    ylabel: str,
    max_rows: int,
) -> tuple[Axes, Axes]:
    """Draw one panel; ``rect_mm`` = (left, plot bottom, width, plot height, table height)
    in millimetres from the figure's lower-left corner."""
    w_mm, h_mm = (float(v) * MM_PER_INCH for v in fig.get_size_inches())
    left, bottom, width, height, table_h = rect_mm
    ax = fig.add_axes((left / w_mm, bottom / h_mm, width / w_mm, height / h_mm))
    table_bottom = bottom - _GAP_MM - table_h
    table = fig.add_axes(
        (left / w_mm, table_bottom / h_mm, width / w_mm, table_h / h_mm), sharex=ax
    )
    increasing = False
    for curve in panel.curves:
        step = compute_step_coordinates(curve.fit)
        increasing = step.increasing
        xm = step.x / DAYS_PER_MONTH
        if curve.band:
            lo = np.where(np.isnan(step.lower), step.y, step.lower)
            hi = np.where(np.isnan(step.upper), step.y, step.upper)
            band = ax.fill_between(
                xm, 100 * lo, 100 * hi, step="post", color=curve.colour, alpha=0.15, lw=0
            )
            band.set_gid(f"band:{index}:{curve.label}")
        (line,) = ax.plot(
            xm,
            100 * step.y,
            drawstyle="steps-post",
            color=curve.colour,
            linestyle=curve.linestyle,
            label=curve.label,
        )
        line.set_gid(f"curve:{index}:{curve.label}")
        (marks,) = ax.plot(
            step.censor_x / DAYS_PER_MONTH,
            100 * step.censor_y,
            linestyle="none",
            marker="|",
            markersize=5,
            markeredgewidth=0.9,
            color=curve.colour,
        )
        marks.set_gid(f"censor:{index}:{curve.label}")
    ax.set_ylim(0, 103)
    ax.set_yticks([0, 20, 40, 60, 80, 100])
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, ticks[-1] * 1.02)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_xlabel(xlabel, labelpad=2)
    if panel.title:
        ax.set_title(panel.title, loc="left", pad=6)
    # legend and landmark annotation in the corner away from the curves: bottom left under
    # survival curves, top left over incidence curves; the text is stacked on the legend
    corner = "upper left" if increasing else "lower left"
    legend_mm = 0.0
    if panel.legend and len(panel.curves) > 1:
        leg = ax.legend(
            loc=cast(Any, corner), handlelength=1.8, borderaxespad=0.4, labelspacing=0.3
        )
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        legend_mm = leg.get_window_extent(renderer).height / fig.dpi * MM_PER_INCH
    lines: list[tuple[str, str]] = []
    if panel.landmark_months is not None:
        for curve in panel.curves:
            text = compute_landmark_text(curve, panel.landmark_months, panel.landmark_name)
            if text is not None:
                lines.append((text, curve.colour if len(panel.curves) > 1 else "black"))
        if lines:
            ax.axvline(panel.landmark_months, color=GREY, lw=0.5, ls=(0, (2, 2)), zorder=0)
    line_mm = SMALL_FONT_SIZE * 1.4 / 72 * MM_PER_INCH
    for k, (text, colour) in enumerate(reversed(lines) if not increasing else lines):
        offset = (legend_mm + 1.5 + k * line_mm) / height
        ax.text(
            0.015,
            offset if not increasing else 1 - offset,
            text,
            transform=ax.transAxes,
            ha="left",
            va="bottom" if not increasing else "top",
            fontsize=SMALL_FONT_SIZE,
            color=colour,
        ).set_gid(f"landmark:{index}:{k}")
    # number-at-risk table: one row per curve, one column per x tick, in the plot's own x
    # data coordinates (shared axis), so every count sits exactly under its tick
    risk_curves = [c for c in panel.curves if c.at_risk]
    n_rows = len(risk_curves)
    table.set_ylim(max_rows + 0.5, -0.6)
    table.axis("off")
    label_tf = blended_transform_factory(ax.transAxes, table.transData)
    header_x = 0.0 if n_rows == 1 else -2.0 / width
    table.text(
        header_x,
        -0.3,
        "Number at risk",
        transform=label_tf,
        ha="left" if n_rows == 1 else "right",
        va="center",
        fontsize=SMALL_FONT_SIZE,
        fontweight="bold",
    )
    for row, curve in enumerate(risk_curves, start=1):
        counts = compute_at_risk(curve.fit, ticks)
        colour = curve.colour if n_rows > 1 else "black"
        if n_rows > 1:
            table.text(
                -4.0 / width,
                row,
                curve.label,
                transform=label_tf,
                ha="right",
                va="center",
                fontsize=SMALL_FONT_SIZE,
                color=colour,
            )
        for tick, n in zip(ticks, counts, strict=True):
            table.text(
                tick,
                row,
                str(n),
                ha="center",
                va="center",
                fontsize=SMALL_FONT_SIZE,
                color=colour,
            ).set_gid(f"at-risk:{index}:{curve.label}:{tick:g}")
    return ax, table


def render_km(
    panels: Sequence[KMPanel],
    *,
    xlabel: str = "Months",
    ylabel: str = "Survival (%)",
    width_mm: float = DOUBLE_COLUMN_MM,
    plot_height_mm: float = 52.0,
    tick_step_months: float = 3.0,
) -> Figure:
    """Panels side by side, each a step curve per :class:`KMCurve` with censoring ticks, an
    optional confidence band, a landmark annotation and an aligned number-at-risk table.

    Works for Kaplan–Meier fits (y = survival) and cumulative incidences (y = incidence).
    All panels share one time axis (ticks every ``tick_step_months`` to the last time).
    Sizes are in millimetres; the figure's height follows from the plot and table heights.
    """
    if not panels or any(not p.curves for p in panels):
        raise ValueError("render_km needs at least one panel, each with at least one curve.")
    max_days = max(float(c.fit.time[-1]) for p in panels for c in p.curves)
    ticks = compute_tick_months(max_days, tick_step_months)
    max_rows = max(sum(c.at_risk for c in p.curves) for p in panels)
    table_h = _HEADER_MM + _ROW_MM * max_rows
    height_mm = _TITLE_MM + plot_height_mm + _GAP_MM + table_h + _BOTTOM_MM
    with journal_style():
        fig = new_figure(width_mm, height_mm)
        # the left margin of each panel holds the y axis or, when wider, the at-risk labels
        margins = []
        for p in panels:
            rows = [c for c in p.curves if c.at_risk]
            label_mm = (
                max((_text_width_mm(fig, c.label, SMALL_FONT_SIZE) for c in rows), default=0.0)
                if len(rows) > 1
                else 0.0
            )
            margins.append(max(_YAXIS_MM, label_mm + 7.0))
        plot_w = (width_mm - sum(margins) - _RIGHT_MM - _PANEL_GAP_MM * (len(panels) - 1)) / len(
            panels
        )
        x = 0.0
        bottom = _BOTTOM_MM + table_h + _GAP_MM
        for i, panel in enumerate(panels):
            x += margins[i]
            _draw_panel(
                fig,
                (x, bottom, plot_w, plot_height_mm, table_h),
                panel,
                i,
                ticks,
                xlabel,
                ylabel,
                max_rows,
            )
            x += plot_w + _PANEL_GAP_MM
    return fig


# -- the study's survival figures ------------------------------------------------------------


def _arms(rows: Sequence[dict[str, Any]]) -> list[str]:
    present = {str(r["arm"]) for r in rows if r.get("arm") is not None}
    return [a for a in ARM_LABELS if a in present] + sorted(present - set(ARM_LABELS))


def _counts_by_arm(rows: Sequence[dict[str, Any]], arms: Sequence[str]) -> str:
    return ", ".join(
        f"{arm_label(a).lower()} {sum(1 for r in rows if r['arm'] == a)}" for a in arms
    )


def _ids(rows: Sequence[dict[str, Any]]) -> str:
    return ", ".join(str(r["patient_id"]) for r in rows)


def _source_sentence(cohort: Cohort, endpoints: pa.Table) -> str:
    versions = sorted({str(v) for v in endpoints.column("rule_version").to_pylist() if v})
    data = (
        f"SYNTHETIC example cohort '{cohort.metadata.name}' (not real patients)"
        if cohort.metadata.synthetic
        else f"cohort '{cohort.metadata.name}'"
    )
    return (
        f"Times and events derived by the criteria engine ({', '.join(versions)}) from the "
        f"recorded follow-up events of the {data}; 1 month = {DAYS_PER_MONTH} days."
    )


def _survival_panels(
    rows: Sequence[dict[str, Any]], time_col: str, event_col: str, name: str, conf_type: str
) -> tuple[KMPanel, ...]:
    arms = _arms(rows)
    overall = compute_kaplan_meier(
        [r[time_col] for r in rows], [bool(r[event_col]) for r in rows], conf_type
    )
    first = KMPanel(
        "A  All patients" if len(arms) > 1 else "All patients",
        (KMCurve("All patients", OVERALL_COLOUR, overall, band=True),),
        landmark_name=name,
        legend=False,
    )
    if len(arms) < 2:
        return (first,)
    curves = []
    for arm in arms:
        sub = [r for r in rows if r["arm"] == arm]
        fit = compute_kaplan_meier(
            [r[time_col] for r in sub], [bool(r[event_col]) for r in sub], conf_type
        )
        curves.append(KMCurve(arm_label(arm), arm_colour(arm), fit))
    return (first, KMPanel("B  By induction arm", tuple(curves), landmark_name=name))


def _km_caption(
    what: str,
    origin: str,
    event: str,
    censor: str,
    rows: Sequence[dict[str, Any]],
    excluded: Sequence[dict[str, Any]],
    excluded_reason: str,
    panels: Sequence[KMPanel],
    source: str,
) -> str:
    arms = _arms(rows)
    overall = panels[0].curves[0].fit
    assert isinstance(overall, KaplanMeier)
    parts = [
        f"Kaplan–Meier estimates of {what} from {origin}; event: {event}; censored: {censor}.",
        f"N = {len(rows)} ({_counts_by_arm(rows, arms)}); {overall.events} event"
        f"{'s' if overall.events != 1 else ''}.",
    ]
    if excluded:
        parts.append(
            f"{len(excluded)} patient(s) not included ({_ids(excluded)}): {excluded_reason}."
        )
    parts.append(
        "Vertical ticks mark censored observations. The shaded band in panel A is the pointwise "
        f"{round(100 * overall.level)}% confidence interval (Greenwood variance, "
        f"{overall.conf_type} transform, as R survfit); the landmark estimates carry the same "
        "interval. Numbers at risk: patients still under observation and event-free at each "
        "time (observed time at or after the time shown)."
    )
    parts.append(source)
    return " ".join(parts)


def build_survival_figures(
    cohort: Cohort, endpoints: pa.Table, conf_type: str = "log-log"
) -> tuple[list[StudyFigure], list[str]]:
    """``figure-os``, ``figure-rfs`` and ``figure-cir`` from the derived endpoints, or the
    reason each cannot be drawn (no per-patient times: never drawn from summary figures).

    ``conf_type`` is the Kaplan–Meier interval transform; its default is the study tables'
    (:func:`bvall.analysis.build_analysis`), so a figure and its table print the same interval.
    """
    rows = endpoints.to_pylist()
    figures: list[StudyFigure] = []
    reasons: list[str] = []
    source = _source_sentence(cohort, endpoints)

    os_rows = [r for r in rows if r["os_days"] is not None and r["os_event"] is not None]
    os_missing = [r for r in rows if r not in os_rows]
    if not os_rows:
        reasons.append(
            f"figure-os: no per-patient overall-survival time in cohort "
            f"'{cohort.metadata.name}' (os_days missing for {len(rows)}/{len(rows)} patients: "
            "no dated death or last contact); a curve cannot be drawn from summary figures "
            "such as a printed 1-year estimate."
        )
    else:
        panels = _survival_panels(os_rows, "os_days", "os_event", "1-year OS", conf_type)
        fig = render_km(
            panels,
            xlabel="Months from start of induction (D1)",
            ylabel="Overall survival (%)",
        )
        caption = _km_caption(
            "overall survival",
            "the first induction day (D1)",
            "death from any cause",
            "alive at last contact",
            os_rows,
            os_missing,
            "no dated death or last contact",
            panels,
            source,
        )
        figures.append(StudyFigure("figure-os", "Overall survival", caption, fig))

    rfs_rows = [r for r in rows if r["rfs_days"] is not None and r["rfs_event"] is not None]
    rfs_missing = [r for r in rows if r not in rfs_rows]
    if not rfs_rows:
        reasons.append(
            f"figure-rfs: no per-patient relapse-free-survival time in cohort "
            f"'{cohort.metadata.name}' (rfs_days missing for {len(rows)}/{len(rows)} patients: "
            "no dated complete remission with a dated relapse, death or last contact)."
        )
        reasons.append(
            f"figure-cir: no per-patient time from complete remission in cohort "
            f"'{cohort.metadata.name}', so relapse and death without relapse cannot be dated."
        )
        return figures, reasons
    panels = _survival_panels(rfs_rows, "rfs_days", "rfs_event", "1-year RFS", conf_type)
    fig = render_km(
        panels,
        xlabel="Months from first complete remission",
        ylabel="Relapse-free survival (%)",
    )
    caption = _km_caption(
        "relapse-free survival",
        "the first complete remission (CR or CRi, including CR after salvage)",
        "relapse or death from any cause, whichever came first",
        "alive in remission at last contact",
        rfs_rows,
        rfs_missing,
        "RFS is not defined without a dated complete remission",
        panels,
        source,
    )
    figures.append(StudyFigure("figure-rfs", "Relapse-free survival", caption, fig))

    figures.append(_build_cir(rfs_rows, rfs_missing, source))
    return figures, reasons


def compute_competing_causes(rows: Sequence[dict[str, Any]]) -> list[int]:
    """Cause per patient from the RFS endpoint: 1 relapse (first event), 2 death without
    relapse, 0 censored in remission."""
    return [0 if not r["rfs_event"] else (1 if r["relapse"] else 2) for r in rows]


def _build_cir(
    rows: Sequence[dict[str, Any]], excluded: Sequence[dict[str, Any]], source: str
) -> StudyFigure:
    times = [r["rfs_days"] for r in rows]
    causes = compute_competing_causes(rows)
    relapse = compute_cumulative_incidence(times, causes, event_of_interest=1)
    death = compute_cumulative_incidence(times, causes, event_of_interest=2)
    panel = KMPanel(
        "",
        (
            KMCurve("Relapse", OKABE_ITO["vermillion"], relapse, band=True),
            KMCurve("Death without relapse", GREY, death, linestyle="--", at_risk=False),
        ),
        landmark_name="1-year",
    )
    fig = render_km(
        [panel],
        xlabel="Months from first complete remission",
        ylabel="Cumulative incidence (%)",
        width_mm=SINGLE_COLUMN_MM * 1.25,
        plot_height_mm=55.0,
    )
    n_rel, n_death = causes.count(1), causes.count(2)
    parts = [
        "Cumulative incidence of relapse from the first complete remission, with death without "
        "relapse as a competing risk (Aalen–Johansen estimator, as R cmprsk::cuminc); the "
        "dashed curve is the cumulative incidence of death without relapse.",
        f"N = {len(rows)}; {n_rel} relapse{'s' if n_rel != 1 else ''}, {n_death} death"
        f"{'s' if n_death != 1 else ''} without relapse, {len(rows) - n_rel - n_death} censored "
        "in remission at last contact (vertical ticks).",
    ]
    if excluded:
        parts.append(
            f"{len(excluded)} patient(s) without a dated remission not included ({_ids(excluded)})."
        )
    parts.append(
        f"The shaded band is the pointwise {round(100 * relapse.level)}% confidence interval "
        f"of relapse incidence (Gray's variance, {relapse.conf_type} transform). Numbers at "
        "risk: patients in remission and under observation at each time (the risk set of both "
        "curves)."
    )
    parts.append(source)
    return StudyFigure("figure-cir", "Cumulative incidence of relapse", " ".join(parts), fig)
