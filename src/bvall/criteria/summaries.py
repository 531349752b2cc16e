"""Per-patient summaries of lab values and grades over a window of study days.

Used by the endpoints of a cohort and, unchanged, on a registry (``benchmarks/``). A window is a
table ``w_patient, w_start, w_end`` (one per patient) or a fixed ``(start, end)`` pair of study
days.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

import ibis
import ibis.expr.types as ir

from bvall.criteria.expressions import constant_table
from bvall.criteria.labs import compare
from bvall.criteria.settings import CriteriaSettings

Window: TypeAlias = "ir.Table | tuple[int, int]"


def _in_window(t: ir.Table, window: Window) -> ir.Table:
    if isinstance(window, tuple):
        start, end = window
        return t.filter((t.day >= start) & (t.day <= end)).mutate(w_end=ibis.literal(end, "int64"))
    j = t.join(window, t.patient_id == window.w_patient)
    return j.filter((j.day >= j.w_start) & (j.day <= j.w_end))


def days_below(
    labs: ir.Table,
    window: Window,
    thresholds: Mapping[str, float],
    settings: CriteriaSettings,
    *,
    censored: bool = True,
) -> ir.Table:
    """Per patient and test of ``thresholds`` (test -> value in the canonical unit): ``below``
    (days in the window with a value < the threshold, strict), ``measured`` (days with a value),
    ``unknown`` (days whose only values are censored and undecided), ``first``/``last`` measured
    day. One scan for every test.

    ``labs`` is prepared (:func:`bvall.criteria.labs.prepare_labs`). With
    ``below_threshold_days = "duration"`` a low day also counts the unmeasured days up to the
    next measured day (never past the window).
    """
    # The thresholds as rows joined to the values (one comparison in the SQL, not one per test).
    limits = constant_table(
        {"test": list(thresholds), "threshold": [float(v) for v in thresholds.values()]}
    )
    t = labs.filter(labs.factor.notnull() & labs.day.notnull())
    t = t.join(limits, t.test == limits.test).select(
        t.patient_id, t.test, t.day, t.value_si, t.qualifier, limits.threshold
    )
    t = _in_window(t, window)
    low = compare(t.value_si, "<", t.threshold, t.qualifier if censored else None)
    t = t.mutate(_low=low)
    duration = settings.below_threshold_days == "duration"
    day = t.group_by([t.patient_id, t.test, t.day]).aggregate(
        any_low=t._low.fill_null(False).any(),
        all_known=(~t._low.isnull()).all(),
        **({"w_end": t.w_end.max()} if duration else {}),
    )
    if duration:
        w = ibis.window(group_by=[day.patient_id, day.test], order_by=day.day)
        nxt = day.day.lead().over(w)
        span = ibis.ifelse(nxt.isnull(), 1, ibis.least(nxt, day.w_end + 1) - day.day)
        day = day.mutate(_count=ibis.ifelse(day.any_low, span, 0))
        count = day._count
    else:
        count = ibis.ifelse(day.any_low, 1, 0)
    return day.group_by(["patient_id", "test"]).aggregate(
        below=count.sum().cast("int64"),
        measured=day.day.count().cast("int64"),
        unknown=(~day.any_low & ~day.all_known).cast("int64").sum(),
        first=day.day.min(),
        last=day.day.max(),
    )


def worst_lab_grades(graded: ir.Table, window: Window) -> ir.Table:
    """Per patient and term: ``worst_grade`` (NULL when no value in the window is gradable),
    ``values`` and ``not_gradable`` counts in the window (``graded`` from
    :func:`bvall.criteria.grading.grade_lab_values`)."""
    g = _in_window(graded.filter(graded.day.notnull()), window)
    return g.group_by(["patient_id", "term_id"]).aggregate(
        worst_grade=g.grade.max(),
        values=g.count(),
        not_gradable=g.grade.isnull().cast("int64").sum(),
    )
