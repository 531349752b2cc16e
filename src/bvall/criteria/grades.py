"""Toxicity grades of a cohort: every lab value and clinical event graded (:func:`derive_grades`)
and the worst grade per patient and term during induction (:func:`derive_worst_grades`), beside
the grade the investigator reported.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bvall.criteria.clinical import febrile_neutropenia, lung_infection, medication_days
from bvall.criteria.exposure import induction_windows
from bvall.criteria.expressions import (
    Workspace,
    arg_max,
    constant_table,
    minutes_of,
)
from bvall.criteria.grading import grade_lab_values
from bvall.criteria.lab_criteria import load_lab_criteria
from bvall.criteria.labs import prepare_labs
from bvall.criteria.rules import load_rule_file
from bvall.criteria.settings import CriteriaSettings

GRADE_COLUMNS = (
    "patient_id",
    "kind",
    "term_id",
    "term",
    "test",
    "day",
    "time",
    "timepoint",
    "value",
    "unit",
    "qualifier",
    "value_si",
    "unit_si",
    "graded_si",
    "lln_si",
    "uln_si",
    "baseline_si",
    "baseline_day",
    "grade",
    "grade_max",
    "reason",
    "rule_id",
    "rule_version",
    "inputs",
    "explanation",
)

WORST_COLUMNS = (
    "patient_id",
    "term_id",
    "term",
    "worst_grade",
    "worst_grade_source",
    "derived_grade",
    "reported_grade",
    "reported_events",
    "agrees",
    "worst_day",
    "values_graded",
    "values_not_gradable",
    "rule_id",
    "rule_version",
    "explanation",
)


#: The columns of the prepared labs that lab grading reads or the grades table shows.
_LAB_INPUTS = (
    "patient_id",
    "test",
    "value",
    "unit",
    "qualifier",
    "time",
    "timepoint",
    "day",
    "minute",
    "factor",
    "unit_si",
    "value_si",
    "lln_si",
    "uln_si",
    "base_si",
    "base_uln_si",
    "base_day",
)


def cohort_labs(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The cohort's labs with study days, minutes, canonical units and baselines (computed once
    per workspace)."""

    def build() -> ir.Table:
        labs = ws.with_day("labs")
        labs = labs.mutate(minute=minutes_of(labs.time))
        return prepare_labs(labs, settings)

    return ws.cached("labs", build)


def _medications(ws: Workspace) -> ir.Table:
    m = medication_days(ws)
    return m.select("patient_id", "drug", start_day=m.m_start, end_day=m.m_end)


def grade_expression(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """Every graded lab value and clinical event of the cohort (columns :data:`GRADE_COLUMNS`),
    computed once per workspace."""
    return ws.cached("grades", lambda: _grades(ws, settings))


def _grades(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    labs = cohort_labs(ws, settings)
    # Whether any lab value is censored (<0.1) is a plan feature: the plan records it.
    censored = bool(ws.features["labs_qualified"])
    # Only the columns grading reads or this table shows: each one is written in every projection
    # of the grading query.
    graded_labs = labs.select(*_LAB_INPUTS)
    # Spark evaluates the criteria compiled into CASE expressions (the same grades, rule ids and
    # words): the rows form's join multiplies the values by their conditions and numbers every
    # row over one partition to bring the verdicts back, which costs Spark far more than DuckDB.
    # DuckDB keeps the rows form for a few patients (its short statement runs faster there) and
    # takes the compiled form for many (the plan feature ``lab_form``, see ``plan_features``).
    lab = grade_lab_values(
        graded_labs,
        settings,
        medications=_medications(ws),
        censored=censored,
        form="compiled" if ws.backend == "spark" else ws.features.get("lab_form", "rows"),
    )
    lab = lab.select(
        "patient_id",
        kind=ibis.literal("lab"),
        term_id=lab.term_id,
        term=lab.term,
        test=lab.test,
        day=lab.day,
        time=lab.time,
        timepoint=lab.timepoint,
        value=lab.value,
        unit=lab.unit,
        qualifier=lab.qualifier,
        value_si=lab.value_si,
        unit_si=lab.unit_si,
        graded_si=lab.graded_si,
        lln_si=lab.lln_si,
        uln_si=lab.uln_si,
        baseline_si=lab.base_si,
        baseline_day=lab.base_day,
        grade=lab.grade,
        grade_max=lab.grade_max,
        reason=lab.reason,
        rule_id=lab.rule_id,
        rule_version=lab.rule_version,
        inputs=lab.inputs,
        explanation=lab.explanation,
    )
    version = load_rule_file("ctcae_v5_clinical").rule_version
    clinical = []
    for part in (febrile_neutropenia(ws, settings, labs), lung_infection(ws, settings)):
        clinical.append(
            part.select(
                "patient_id",
                kind=ibis.literal("clinical"),
                term_id=part.term_id,
                term=part.term,
                test=ibis.null("string"),
                day=part.day.cast("int64"),
                time=ibis.null("string"),
                timepoint=ibis.null("string"),
                value=ibis.null("float64"),
                unit=ibis.null("string"),
                qualifier=ibis.null("string"),
                value_si=ibis.null("float64"),
                unit_si=ibis.null("string"),
                graded_si=ibis.null("float64"),
                lln_si=ibis.null("float64"),
                uln_si=ibis.null("float64"),
                baseline_si=ibis.null("float64"),
                baseline_day=ibis.null("int64"),
                grade=part.grade,
                grade_max=part.grade,
                reason=part.reason,
                rule_id=part.rule_id,
                rule_version=ibis.literal(version),
                inputs=part.inputs,
                explanation=part.explanation,
            )
        )
    return ibis.union(lab, *clinical)


def grades_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_grades` (planned once, see :mod:`bvall.criteria.plans`)."""
    # every column that can tell two rows apart: two fevers of one day, or two values of one test
    # at one time, are listed in one order every time
    return grade_expression(ws, settings).order_by(
        ["patient_id", "term_id", "day", "time", "explanation", "inputs"]
    )


def _reported_terms() -> dict[str, str]:
    """term_id -> the adverse_events term code that reports it."""
    lab = load_lab_criteria()
    out = {t.id: t.term for t in lab.terms.values()}
    out.update({g.id: g.term for g in lab.groups.values()})
    out.update({"febrile_neutropenia": "Febrile neutropenia", "lung_infection": "Lung infection"})
    return out


def worst_grade_expression(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """Worst derived grade per patient and term during induction, beside the reported grade
    (computed once per workspace)."""
    return ws.cached("worst", lambda: _worst(ws, settings))


def _worst(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    lab_criteria = load_lab_criteria()
    graded = grade_expression(ws, settings)
    win = induction_windows(ws, settings.induction_max_day)
    g = graded.join(win, graded.patient_id == win.w_patient)
    g = g.filter((g.day >= g.w_start) & (g.day <= g.w_end))
    parts = [
        g.select(
            "patient_id",
            "term_id",
            "term",
            "day",
            "grade",
            "rule_id",
            "rule_version",
            "explanation",
        )
    ]
    for group in lab_criteria.groups.values():
        members = g.filter(g.term_id.isin(list(group.members)))
        parts.append(
            members.select(
                "patient_id",
                term_id=ibis.literal(group.id),
                term=ibis.literal(group.term),
                day=members.day,
                grade=members.grade,
                rule_id=members.rule_id,
                rule_version=members.rule_version,
                explanation=members.explanation,
            )
        )
    allg = ibis.union(*parts)
    # The worst grade, then its first day; values tied on both (ALT and AST of one group on one
    # day, two values of a day) are ordered by rule and text, so the row chosen never depends on
    # the order the rows happen to arrive in.
    order = ibis.struct(
        {
            "grade": allg.grade.fill_null(-1),
            "day": -allg.day,
            "rule_id": allg.rule_id,
            "rule_version": allg.rule_version,
            "explanation": allg.explanation,
        }
    )
    derived = allg.group_by(["patient_id", "term_id"]).aggregate(
        term=allg.term.first(),
        derived_grade=allg.grade.max(),
        worst_day=arg_max(allg.day, order),
        values_graded=allg.grade.count(),
        values_not_gradable=allg.grade.isnull().sum().cast("int64"),
        rule_id=arg_max(allg.rule_id, order),
        rule_version=arg_max(allg.rule_version, order),
        explanation=arg_max(allg.explanation, order),
    )
    terms = _reported_terms()
    codes = constant_table({"c_term_id": list(terms), "c_code": list(terms.values())})
    ae = ws.table("adverse_events")
    reported = (
        ae.join(codes, ae.term == codes.c_code)
        .group_by(["patient_id", "c_term_id"])
        .aggregate(
            reported_grade=ae.grade.max(), reported_events=ae.term.count(), r_term=ae.term.first()
        )
    )
    full = derived.outer_join(
        reported,
        [derived.patient_id == reported.patient_id, derived.term_id == reported.c_term_id],
    )
    patient = full.patient_id.fill_null(full.patient_id_right)
    term_id = full.term_id.fill_null(full.c_term_id)
    source = ibis.cases(
        (full.derived_grade.notnull(), "derived"),
        (full.reported_grade.notnull(), "reported"),
        else_="missing",
    )
    worst = full.derived_grade.fill_null(full.reported_grade)
    agrees = ibis.ifelse(
        full.derived_grade.notnull() & full.reported_grade.notnull(),
        full.derived_grade == full.reported_grade,
        ibis.null("boolean"),
    )
    explanation = ibis.cases(
        (full.derived_grade.notnull(), full.explanation),
        (
            full.reported_grade.notnull(),
            ibis.literal("grade ")
            + full.reported_grade.cast("string")
            + " as reported by the investigator (no observations to derive it from)",
        ),
        (
            full.reported_events > 0,
            ibis.literal("reported by the investigator without a grade"),
        ),
        else_=ibis.literal("no observations and no reported grade"),
    )
    return full.select(
        patient_id=patient,
        term_id=term_id,
        term=full.term.fill_null(full.r_term),
        worst_grade=worst,
        worst_grade_source=source,
        derived_grade=full.derived_grade,
        reported_grade=full.reported_grade,
        reported_events=full.reported_events.fill_null(0),
        agrees=agrees,
        worst_day=full.worst_day,
        values_graded=full.values_graded.fill_null(0),
        values_not_gradable=full.values_not_gradable.fill_null(0),
        rule_id=full.rule_id,
        rule_version=full.rule_version,
        explanation=explanation,
    )


def worst_grades_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_worst_grades` (planned once, see :mod:`bvall.criteria.plans`)."""
    return worst_grade_expression(ws, settings).order_by(["patient_id", "term_id"])
