"""Survival (``table-survival``): OS, RFS, median follow-up and cumulative incidence of relapse.

From ``derive(cohort, "endpoints")`` (:func:`bvall.analysis.tables.data.derive_survival_data`):
OS from D1 (event: death), RFS from the first CR (event: relapse or death), cumulative incidence
of relapse from the first CR with death without relapse as the competing event. Kaplan–Meier
with Greenwood variance and R's interval transforms (``conf_type``, log-log by default), median
follow-up by reverse Kaplan–Meier, the 1-year (365-day) landmark.

A column without per-patient follow-up says "not computable" with value ``None``; a landmark
beyond the last follow-up of the column is not estimable (the curve is not carried forward).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bvall.analysis.model import Cell, Row, StudyTable
from bvall.analysis.tables.cells import NOT_ESTIMABLE, heading, text_cell
from bvall.analysis.tables.data import StudyData, compute_cir_status, is_missing, present
from bvall.stats import (
    compute_cumulative_incidence,
    compute_kaplan_meier,
    compute_median_followup,
)

#: The landmark of the survival table, in days.
LANDMARK_DAYS = 365

NO_FOLLOW_UP = "not computable: the source reports no per-patient follow-up"


def _pct(v: float) -> str:
    return "not estimable" if math.isnan(v) else f"{100 * v:.1f}"


def _rate_text(v: float, lower: float, upper: float) -> str:
    """A rate with its interval: "83.3% (27.3–97.5)"; "not estimable" in words."""
    head = _pct(v) + ("" if math.isnan(v) else "%")
    return f"{head} ({_pct(lower)}–{_pct(upper)})"


def _days(v: float) -> str:
    return "not reached" if math.isnan(v) else f"{v:g}"


def _median_text(estimate: float, lower: float, upper: float) -> str:
    """A median with its interval in words: "296 (120–not reached)", "296 (interval limits not
    reached)" when neither limit is reached."""
    if math.isnan(lower) and math.isnan(upper):
        return f"{_days(estimate)} (interval limits not reached)"
    return f"{_days(estimate)} ({_days(lower)}–{_days(upper)})"


def _records(
    data: StudyData, ids: Sequence[str], kind: str
) -> tuple[list[str], list[float], list[int], int]:
    """Patients with a known time and event for ``kind`` (os, rfs, cir), times, events/causes,
    and how many of ``ids`` lack one."""
    e = data.endpoints
    kept, times, events = [], [], []
    col = "rfs" if kind == "cir" else kind
    for p in ids:
        t, ev = present(e.at[p, f"{col}_days"]), present(e.at[p, f"{col}_event"])
        if t is None or ev is None:
            continue
        code = compute_cir_status(ev, e.at[p, "relapse"]) if kind == "cir" else int(bool(ev))
        if code is None:
            continue
        kept.append(p)
        times.append(float(t))
        events.append(code)
    return kept, times, events, len(ids) - len(kept)


def _missing(m: int) -> str:
    return f"; missing {m}" if m else ""


def _km_cells(
    label: str,
    data: StudyData,
    ids: Sequence[str],
    kind: str,
    conf_type: str,
    level: float,
) -> tuple[Cell, Cell, Cell]:
    kept, times, events, missing = _records(data, ids, kind)
    if not kept:
        why = NO_FOLLOW_UP if len(ids) else f"{NOT_ESTIMABLE}: no patient in this column"
        if len(ids) and kind == "rfs" and _has_os(data, ids):
            why = f"{NOT_ESTIMABLE}: no patient with a CR and follow-up after it"
        return text_cell(why), text_cell(why), text_cell(why)
    km = compute_kaplan_meier(times, events, conf_type=conf_type, level=level)
    n_ev = int(sum(events))
    method = f"Kaplan–Meier, Greenwood variance, {conf_type} {100 * level:g}% CI"
    events_cell = Cell(
        text=f"{n_ev}/{len(kept)}{_missing(missing)}",
        value=n_ev,
        provenance=f"{label}: {n_ev} events among {len(kept)} patients with follow-up; "
        f"missing {missing}.",
        patients=tuple(p for p, ev in zip(kept, events, strict=True) if ev),
        source="derived",
    )
    q = km.median()
    median_text = (
        _median_text(q.estimate, q.lower, q.upper)
        if q.reached
        else f"not reached (lower limit {_days(q.lower)})"
    )
    median_cell = Cell(
        text=median_text,
        value=None if math.isnan(q.estimate) else q.estimate,
        provenance=f"{label}: median in days with {method} (R quantile.survfit rules); "
        f"{len(kept)} patients, {n_ev} events.",
        patients=tuple(kept),
        source="derived",
    )
    if max(times) < LANDMARK_DAYS:
        land = text_cell(
            f"{NOT_ESTIMABLE}: no patient followed to day {LANDMARK_DAYS}",
            f"{label}: the longest follow-up is {max(times):g} days.",
        )
    else:
        lm = km.at([LANDMARK_DAYS])[0]
        land = Cell(
            text=_rate_text(lm.survival, lm.lower, lm.upper),
            value=lm.survival,
            provenance=f"{label} at day {LANDMARK_DAYS}: S = {lm.survival:.6g}, {method} "
            f"{lm.lower:.6g}–{lm.upper:.6g}; {lm.n_risk} at risk.",
            patients=tuple(kept),
            source="derived",
        )
    return events_cell, median_cell, land


def _has_os(data: StudyData, ids: Sequence[str]) -> bool:
    return any(not is_missing(data.endpoints.at[p, "os_days"]) for p in ids)


def _followup_cell(data: StudyData, ids: Sequence[str], conf_type: str, level: float) -> Cell:
    kept, times, events, missing = _records(data, ids, "os")
    if not kept:
        return text_cell(NO_FOLLOW_UP if len(ids) else f"{NOT_ESTIMABLE}: no patient")
    f = compute_median_followup(times, events, conf_type=conf_type, level=level)
    return Cell(
        text=f"{_days(f.median)} ({_days(f.lower)}–{_days(f.upper)}); range "
        f"{f.minimum:g}–{f.maximum:g}{_missing(missing)}",
        value=None if math.isnan(f.median) else f.median,
        provenance=f"median follow-up in days by {f.method}, {conf_type} {100 * level:g}% CI; "
        f"observed follow-up median {f.observed_median:g}, range {f.minimum:g}–{f.maximum:g}; "
        f"{f.n} patients; missing {missing}.",
        patients=tuple(kept),
        source="derived",
    )


def _cir_cell(data: StudyData, ids: Sequence[str], level: float) -> Cell:
    kept, times, causes, missing = _records(data, ids, "cir")
    if not kept:
        why = NO_FOLLOW_UP if len(ids) else f"{NOT_ESTIMABLE}: no patient"
        if len(ids) and _has_os(data, ids):
            why = f"{NOT_ESTIMABLE}: no patient with a CR and follow-up after it"
        return text_cell(why)
    if max(times) < LANDMARK_DAYS:
        return text_cell(
            f"{NOT_ESTIMABLE}: no patient followed to day {LANDMARK_DAYS}",
            f"cumulative incidence of relapse: the longest follow-up is {max(times):g} days.",
        )
    cif = compute_cumulative_incidence(times, causes, conf_type="log-log", level=level)
    lm = cif.at([LANDMARK_DAYS])[0]
    relapses = int(np.sum(np.asarray(causes) == 1))
    deaths = int(np.sum(np.asarray(causes) == 2))
    return Cell(
        text=_rate_text(lm.incidence, lm.lower, lm.upper) + _missing(missing),
        value=None if math.isnan(lm.incidence) else lm.incidence,
        provenance=f"cumulative incidence of relapse at day {LANDMARK_DAYS} from the first CR "
        f"(Aalen–Johansen, Gray variance, log-log {100 * level:g}% CI, as R cmprsk::cuminc): "
        f"{lm.incidence:.6g} ({lm.lower:.6g}–{lm.upper:.6g}); {relapses} relapses, {deaths} "
        f"deaths without relapse (competing), {len(kept)} patients; missing {missing}.",
        patients=tuple(p for p, c in zip(kept, causes, strict=True) if c == 1),
        source="derived",
    )


def build_survival_table(data: StudyData, level: float, conf_type: str = "log-log") -> StudyTable:
    """OS, RFS, median follow-up and cumulative incidence of relapse, by arm."""
    columns = data.columns()
    rows: list[Row] = []
    pct = f"{100 * level:g}% CI"
    for kind, title in (
        ("os", "Overall survival (from D1; event: death)"),
        ("rfs", "Relapse-free survival (from first CR; event: relapse or death)"),
    ):
        cells = [_km_cells(title, data, ids, kind, conf_type, level) for _h, ids in columns]
        rows.append(heading(title))
        rows.append(Row("Events/N", tuple(c[0] for c in cells), indent=1))
        rows.append(Row(f"Median, days ({pct})", tuple(c[1] for c in cells), indent=1))
        rows.append(
            Row(f"{LANDMARK_DAYS}-day rate, % ({pct})", tuple(c[2] for c in cells), indent=1)
        )
    rows.append(heading("Follow-up and relapse"))
    rows.append(
        Row(
            f"Median follow-up, days ({pct}, reverse Kaplan–Meier)",
            tuple(_followup_cell(data, ids, conf_type, level) for _h, ids in columns),
            indent=1,
        )
    )
    rows.append(
        Row(
            f"Cumulative incidence of relapse at {LANDMARK_DAYS} days, % ({pct})",
            tuple(_cir_cell(data, ids, level) for _h, ids in columns),
            indent=1,
        )
    )
    return StudyTable(
        id="table-survival",
        title="Survival, follow-up and relapse",
        columns=("Endpoint", *(h for h, _ in columns)),
        rows=tuple(rows),
        notes=(
            f"Kaplan–Meier estimates with Greenwood variance and {conf_type} {pct} (as R "
            "survival::survfit).",
            "Median follow-up by reverse Kaplan–Meier (Schemper & Smith 1996), with the observed "
            "range of follow-up.",
            "Cumulative incidence of relapse from the first CR with death without relapse as a "
            "competing risk (as R cmprsk::cuminc).",
        ),
    )
