"""Clinically graded CTCAE v5.0 terms derived from observations (``data/ctcae_v5_clinical.toml``).

* Febrile neutropenia: a run of consecutive temperatures >= 38.0 °C that reaches > 38.3 °C or
  lasts more than an hour, with the latest ANC (on the fever's day or up to
  ``fn_anc_lookback_days`` before) < 1.0 ×10⁹/L: grade 3; with a vasopressor or positive-pressure
  ventilation on a day of the fever: grade 4.
* Lung infection: an investigator-reported lung infection graded from the anti-infectives
  recorded during it (oral only: 2; intravenous: 3) and organ support (4).

Rows have the columns of the lab grades (:data:`bvall.criteria.grades.GRADE_COLUMNS`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bvall.criteria.episodes import day_time_text
from bvall.criteria.expressions import (
    Workspace,
    arg_max,
    arg_min,
    clock,
    first_rows,
    json_text,
    minutes_of,
    num_text,
    study_day,
)
from bvall.criteria.labs import compare
from bvall.criteria.rules import load_rule_file
from bvall.criteria.settings import CriteriaSettings

_POSITIVE_PRESSURE = ["cpap", "bipap", "mechanical_ventilation"]


def _vitals(ws: Workspace) -> ir.Table:
    v = ws.with_day("vitals")
    v = v.filter(v.day.notnull())
    # only what the clinical terms read: every later step carries these columns
    v = v.select("patient_id", "day", "time", "temperature_c", "vasopressors", "oxygen_device")
    v = v.mutate(minute=minutes_of(v.time))
    return v.mutate(clock=clock(v.day, v.minute))


def _support_days(v: ir.Table) -> ir.Table:
    """``patient_id, s_day`` of days with a vasopressor or positive-pressure ventilation."""
    supported = v.vasopressors.notnull() | v.oxygen_device.isin(_POSITIVE_PRESSURE)
    s = v.filter(supported)
    return s.select(s_patient=s.patient_id, s_day=s.day).distinct()


def febrile_neutropenia(ws: Workspace, settings: CriteriaSettings, labs: ir.Table) -> ir.Table:
    """One row per qualifying fever with a neutropenic or unknown ANC (``labs`` prepared)."""
    rf = load_rule_file("ctcae_v5_clinical")
    sustained_c = float(rf.param("fn_sustained_temperature_c"))
    single_c = float(rf.param("fn_single_temperature_above_c"))
    minutes = float(rf.param("fn_sustained_minutes_more_than"))
    anc_below = float(rf.param("fn_anc_below"))
    v = _vitals(ws)
    febrile = (v.temperature_c >= sustained_c).fill_null(False)
    w = ibis.window(group_by=v.patient_id, order_by=v.clock)
    prev = febrile.lag().over(w)
    v = v.mutate(_febrile=febrile, _start=febrile & ~prev.fill_null(False))
    v = v.mutate(
        _run=v._start.cast("int64")
        .sum()
        .over(ibis.window(group_by=v.patient_id, order_by=v.clock, rows=(None, 0)))
    )
    f = v.filter(v._febrile)
    runs = f.group_by([f.patient_id, f._run]).aggregate(
        start_day=f.day.min(),
        end_day=f.day.max(),
        start_clock=f.clock.min(),
        end_clock=f.clock.max(),
        start_minute=arg_min(f.minute, f.clock),
        end_minute=arg_max(f.minute, f.clock),
        tmax=f.temperature_c.max(),
    )
    qualifies = (runs.tmax > single_c) | ((runs.end_clock - runs.start_clock) > minutes)
    runs = runs.filter(qualifies)

    anc = labs.filter((labs.test == "anc") & labs.factor.notnull() & labs.day.notnull())
    anc = anc.select(
        "patient_id", "day", "value_si", "qualifier", a_clock=clock(anc.day, anc.minute)
    )
    j = runs.join(
        anc,
        [
            runs.patient_id == anc.patient_id,
            anc.day >= runs.start_day - settings.fn_anc_lookback_days,
            anc.a_clock <= runs.end_clock,
        ],
    )
    # The latest ANC, all from one row; of two values at one time (a D1 baseline draw and
    # another untimed D1 value), the lower: the one that makes a fever neutropenic, and a choice
    # that never depends on the order of rows (nulls last on every backend).
    first = first_rows(
        j,
        [j.patient_id, j._run],
        [ibis.desc(j.a_clock), j.value_si.isnull(), j.value_si, j.qualifier.isnull(), j.qualifier],
    )
    latest = first.select(
        l_patient=first.patient_id,
        l_run=first._run,
        anc_si=first.value_si,
        anc_qualifier=first.qualifier,
        anc_day=first.day,
    )
    runs = runs.left_join(
        latest, [runs.patient_id == latest.l_patient, runs._run == latest.l_run]
    ).drop("l_patient", "l_run")
    below = compare(runs.anc_si, "<", ibis.literal(anc_below), runs.anc_qualifier)
    runs = runs.filter(below | below.isnull())

    support = _support_days(v)
    sup = (
        runs.join(
            support,
            [
                runs.patient_id == support.s_patient,
                support.s_day >= runs.start_day,
                support.s_day <= runs.end_day,
            ],
        )
        .select(u_patient=runs.patient_id, u_run=runs._run)
        .distinct()
        .mutate(_support=ibis.literal(True))
    )
    runs = runs.left_join(sup, [runs.patient_id == sup.u_patient, runs._run == sup.u_run]).drop(
        "u_patient", "u_run"
    )
    supported = runs._support.fill_null(False)
    grade = ibis.cases(
        (below.isnull(), ibis.null("int64")),
        (supported, ibis.literal(4, "int64")),
        else_=ibis.literal(3, "int64"),
    )
    sustained_hours = (runs.end_clock - runs.start_clock) / 60.0
    fever_text = (
        ibis.literal("temperature up to ")
        + num_text(runs.tmax)
        + " °C ("
        + day_time_text(runs.start_day, runs.start_minute)
        + ibis.ifelse(
            runs.end_clock > runs.start_clock,
            ibis.literal(" to ")
            + day_time_text(runs.end_day, runs.end_minute)
            + ", "
            + num_text(sustained_hours, 3)
            + " h >= "
            + f"{sustained_c:g} °C",
            "",
        )
        + ")"
    )
    anc_text = (
        ibis.literal("ANC ")
        + runs.anc_qualifier.fill_null("")
        + num_text(runs.anc_si)
        + " ×10⁹/L on D"
        + runs.anc_day.cast("string")
        + f" < {anc_below:g}"
    )
    label = f"{rf.system} Febrile neutropenia"
    explanation = ibis.cases(
        (
            grade.isnull(),
            ibis.literal("not gradable: no ANC on the day of the fever or the ")
            + f"{settings.fn_anc_lookback_days} day(s) before ("
            + fever_text
            + "), "
            + label,
        ),
        else_=ibis.literal("grade ")
        + grade.cast("string")
        + ": "
        + anc_text
        + " with "
        + fever_text
        + ibis.ifelse(supported, " and vasopressor or positive-pressure support", "")
        + ", "
        + label,
    )
    inputs = json_text(
        {
            "tmax_c": runs.tmax,
            "fever_minutes": runs.end_clock - runs.start_clock,
            "anc_si": runs.anc_si,
            "anc_day": runs.anc_day,
            "organ_support": supported,
        }
    )
    rule_id = ibis.cases(
        (grade == 4, ibis.literal("ctcae_v5_clinical.febrile_neutropenia.g4")),
        (grade == 3, ibis.literal("ctcae_v5_clinical.febrile_neutropenia.g3")),
        else_=ibis.literal("ctcae_v5_clinical.febrile_neutropenia"),
    )
    return runs.select(
        patient_id=runs.patient_id,
        term_id=ibis.literal("febrile_neutropenia"),
        term=ibis.literal("Febrile neutropenia"),
        day=runs.start_day,
        end_day=runs.end_day,
        grade=grade,
        reason=ibis.ifelse(grade.isnull(), "no ANC measured near the fever", ibis.null("string")),
        rule_id=rule_id,
        inputs=inputs,
        explanation=explanation,
    )


def medication_days(ws: Workspace) -> ir.Table:
    """``concomitant_medications`` with ``m_start``/``m_end`` in study days."""
    t = ws.table("concomitant_medications")
    j = t.left_join(ws.d1(), "patient_id").drop("patient_id_right")
    start = study_day(j, "start_day", "start_date")
    end = study_day(j, "end_day", "end_date")
    return j.mutate(m_start=start, m_end=end.fill_null(start))


def lung_infection(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per reported lung infection, graded from its recorded treatment."""
    rf = load_rule_file("ctcae_v5_clinical")
    drugs = [str(d) for d in rf.param("anti_infectives")]
    default_days = int(rf.param("infection_default_days"))
    ae = ws.table("adverse_events")
    ae = ae.left_join(ws.d1(), "patient_id").drop("patient_id_right")
    ae = ae.mutate(
        on_day=study_day(ae, "onset_day", "onset_date"),
        off_day=study_day(ae, "resolution_day", "resolution_date"),
    )
    ae = ae.filter((ae.term == "Lung infection") & ae.on_day.notnull())
    ae = ae.select(
        "patient_id", "on_day", "grade", off_day=ae.off_day.fill_null(ae.on_day + default_days)
    )
    meds = medication_days(ws)
    meds = meds.filter(meds.drug.isin(drugs) & meds.m_start.notnull())
    meds = meds.select("patient_id", "drug", "route", "m_start", "m_end")
    j = ae.join(
        meds,
        [ae.patient_id == meds.patient_id, meds.m_start <= ae.off_day, meds.m_end >= ae.on_day - 1],
    )
    treated = (
        j.group_by([j.patient_id, j.on_day])
        .aggregate(
            iv=(j.route == "IV").any(),
            oral=(j.route == "PO").any(),
            # in alphabetical order: the text never depends on the order rows are read in
            drugs=j.drug.collect(distinct=True).sort().join(", "),
        )
        .rename(t_patient="patient_id", t_day="on_day")
    )
    ae = ae.left_join(treated, [ae.patient_id == treated.t_patient, ae.on_day == treated.t_day])
    ae = ae.drop("t_patient", "t_day")
    support = _support_days(_vitals(ws))
    sup = (
        ae.join(
            support,
            [
                ae.patient_id == support.s_patient,
                support.s_day >= ae.on_day,
                support.s_day <= ae.off_day,
            ],
        )
        .select(u_patient=ae.patient_id, u_day=ae.on_day)
        .distinct()
        .mutate(_support=ibis.literal(True))
    )
    ae = ae.left_join(sup, [ae.patient_id == sup.u_patient, ae.on_day == sup.u_day]).drop(
        "u_patient", "u_day"
    )
    supported = ae._support.fill_null(False)
    grade = ibis.cases(
        (supported, ibis.literal(4, "int64")),
        (ae.iv.fill_null(False), ibis.literal(3, "int64")),
        (ae.oral.fill_null(False), ibis.literal(2, "int64")),
        else_=ibis.null("int64"),
    )
    span = (
        ibis.literal("lung infection D")
        + ae.on_day.cast("string")
        + "-D"
        + ae.off_day.cast("string")
    )
    label = f"{rf.system} Lung infection"
    explanation = ibis.cases(
        (
            grade.isnull(),
            ibis.literal("not gradable: ") + span + " with no anti-infective recorded, " + label,
        ),
        (
            grade == 4,
            ibis.literal("grade 4: ")
            + span
            + " with vasopressor or positive-pressure support, "
            + label,
        ),
        (
            grade == 3,
            ibis.literal("grade 3: ")
            + span
            + " treated with intravenous "
            + ae.drugs
            + ", "
            + label,
        ),
        else_=ibis.literal("grade 2: ") + span + " treated with oral " + ae.drugs + ", " + label,
    )
    rule_id = ibis.ifelse(
        grade.notnull(),
        ibis.literal("ctcae_v5_clinical.lung_infection.g") + grade.cast("string"),
        ibis.literal("ctcae_v5_clinical.lung_infection"),
    )
    inputs = json_text(
        {
            "onset_day": ae.on_day,
            "resolution_day": ae.off_day,
            "anti_infectives": ae.drugs,
            "intravenous": ae.iv,
            "organ_support": supported,
            "reported_grade": ae.grade,
        }
    )
    return ae.select(
        patient_id=ae.patient_id,
        term_id=ibis.literal("lung_infection"),
        term=ibis.literal("Lung infection"),
        day=ae.on_day,
        end_day=ae.off_day,
        grade=grade,
        reason=ibis.ifelse(grade.isnull(), "no anti-infective recorded", ibis.null("string")),
        rule_id=rule_id,
        inputs=inputs,
        explanation=explanation,
    )
