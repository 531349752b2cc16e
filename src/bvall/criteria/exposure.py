"""Treatment exposure from dose administrations: dose intervals in study days, immune effector
steps (the CRS attribution windows) and the treatment given during an episode.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from bvall.criteria.expressions import Workspace, study_day


def dose_days(ws: Workspace) -> ir.Table:
    """``dose_administrations`` with ``start_day``/``end_day`` in study days.

    A row with dates but no study days gets them from the patient's D1; a row with a start but
    no end lasts one day.
    """
    return ws.cached("doses", lambda: _dose_days(ws))


def _dose_days(ws: Workspace) -> ir.Table:
    t = ws.table("dose_administrations")
    joined = t.left_join(ws.d1(), "patient_id").drop("patient_id_right")
    start = study_day(joined, "study_day_start", "date_start")
    end = study_day(joined, "study_day_end", "date_end")
    return joined.mutate(start_day=start, end_day=end.fill_null(start)).filter(
        lambda r: r.start_day.notnull()
    )


def effector_steps(doses: ir.Table, agents: Sequence[str]) -> ir.Table:
    """Each start or step-up of an immune effector therapy: ``patient_id, agent, step_day,
    step_dose, step_unit``.

    A step is the first given dose, a dose higher than the previous one, or a restart more than
    one day after the previous dose ended.
    """
    given = doses.filter(doses.agent.isin(list(agents)) & (doses.status == "given"))
    w = ibis.window(group_by=[given.patient_id, given.agent], order_by=given.start_day)
    prev_dose = given.dose.lag().over(w)
    prev_end = given.end_day.lag().over(w)
    flagged = given.mutate(
        _step=prev_dose.isnull() | (given.dose > prev_dose) | (given.start_day > prev_end + 1)
    )
    steps = flagged.filter(flagged._step)
    return steps.select(
        patient_id=steps.patient_id,
        agent=steps.agent,
        step_day=steps.start_day,
        step_dose=steps.dose,
        step_unit=steps.dose_unit,
    )


def exposure_spans(doses: ir.Table, agents: Sequence[str]) -> ir.Table:
    """``patient_id, first_day, last_day`` of the given doses of ``agents``."""
    given = doses.filter(doses.agent.isin(list(agents)) & (doses.status == "given"))
    return given.group_by("patient_id").aggregate(
        first_day=given.start_day.min(), last_day=given.end_day.max()
    )


def treatment_during(
    episodes: ir.Table,
    doses: ir.Table,
    agents: Sequence[str],
    *,
    start: str = "onset_day",
    end: str = "end_day",
) -> ir.Table:
    """Per episode (``patient_id, episode``): the listed agents given between its onset and end,
    as text (``dexamethasone 10 mg D1-D2``) and the total of each as ``<agent>_total``."""
    d = doses.filter(doses.agent.isin(list(agents)) & (doses.status == "given"))
    e = episodes.select(e_patient="patient_id", e_episode="episode", e_start=start, e_end=end)
    j = e.join(
        d,
        [e.e_patient == d.patient_id, d.start_day <= e.e_end, d.end_day >= e.e_start],
    )
    first = ibis.greatest(j.start_day, j.e_start)
    last = ibis.least(j.end_day, j.e_end)
    j = j.mutate(_first=first, _last=last, _days=(last - first + 1).cast("int64"))
    # Daily records of the same agent and dose collapse into one run ("10 mg D1-D2").
    runs = j.group_by(["e_patient", "e_episode", "agent", "dose", "dose_unit"]).aggregate(
        r_first=j._first.min(), r_last=j._last.max(), r_amount=(j.dose * j._days).sum()
    )
    span = ibis.ifelse(
        runs.r_last > runs.r_first,
        ibis.literal("D") + runs.r_first.cast("string") + "-D" + runs.r_last.cast("string"),
        ibis.literal("D") + runs.r_first.cast("string"),
    )
    dose_text = runs.dose.cast("string").re_replace(r"\.0$", "")
    runs = runs.mutate(_text=runs.agent + " " + dose_text + " " + runs.dose_unit + " " + span)
    return runs.group_by(["e_patient", "e_episode"]).aggregate(
        treatment=runs._text.group_concat(", ", order_by=runs.r_first),
        dexamethasone_mg=runs.r_amount.sum(
            where=(runs.agent == "dexamethasone") & (runs.dose_unit == "mg")
        ),
        tocilizumab_given=(runs.agent == "tocilizumab").any(),
    )


def induction_windows(ws: Workspace, max_day: int) -> ir.Table:
    """``w_patient, w_start, w_end``: the induction period in study days.

    From D1 to the day before the next course starts (consolidation, salvage, HSCT, ...), and
    never past ``max_day``. With no dated next course the window ends at ``max_day``.
    """
    return ws.cached(f"windows_{max_day}", lambda: _windows(ws, max_day))


def _windows(ws: Workspace, max_day: int) -> ir.Table:
    courses = ws.table("treatment_courses")
    d1 = ws.d1()
    joined = courses.left_join(d1, "patient_id").drop("patient_id_right")
    start = (joined.start_date.delta(joined.d1_date, unit="day") + 1).cast("int64")
    later = joined.filter((joined.course_type != "prephase") & (start > 1)).mutate(_start=start)
    nxt = later.group_by("patient_id").aggregate(next_start=later._start.min())
    patients = ws.table("patients").select("patient_id")
    out = patients.left_join(nxt, "patient_id").drop("patient_id_right")
    end = ibis.least(out.next_start - 1, ibis.literal(max_day, "int64")).fill_null(max_day)
    return out.select(
        w_patient=out.patient_id, w_start=ibis.literal(1, "int64"), w_end=end.cast("int64")
    )
