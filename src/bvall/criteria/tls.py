"""Tumour lysis syndrome by Cairo-Bishop 2004 or Howard 2011 (``data/tls.toml``), per patient.

The window runs from ``window_days_before`` days before the start of therapy to
``window_days_after`` days after it (start: ``tls_therapy_start``). Laboratory TLS needs at least
two criteria (Cairo-Bishop: at any time in the window, absolute threshold or 25 % change from the
last value before the window; Howard: on the same day, absolute thresholds only). Clinical TLS adds
the creatinine criterion; cardiac arrhythmia, sudden death and seizures caused by TLS are not in a
cohort's tables and are reported as not assessed. An analyte not measured in the window leaves
laboratory TLS unknown unless the others already decide it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import ibis
import ibis.expr.types as ir

from bvall.cohort.units import lab_test
from bvall.criteria.exposure import dose_days
from bvall.criteria.expressions import (
    Workspace,
    arg_min,
    json_text,
    num_text,
    signif,
    signif_py,
)
from bvall.criteria.grades import cohort_labs
from bvall.criteria.lab_criteria import load_lab_criteria
from bvall.criteria.labs import compare, with_albumin
from bvall.criteria.rules import RuleFile, check_row, check_unique, load_rule_file
from bvall.criteria.settings import CriteriaSettings
from bvall.errors import SpecError, UnknownUnitError

TLS_COLUMNS = (
    "patient_id",
    "criteria",
    "therapy_start_day",
    "window_start_day",
    "window_end_day",
    "laboratory_tls",
    "clinical_tls",
    "grade",
    "criteria_met",
    "analytes_not_assessed",
    "creatinine_max_x_uln",
    "rule_id",
    "rule_version",
    "inputs",
    "explanation",
)


@dataclass(frozen=True)
class TlsCriterion:
    set: str
    analyte: str
    clause: str
    test: str
    published: str
    comparator: str
    value: float  # in the test's canonical unit
    change_comparator: str | None
    change_pct: float | None
    corrected: bool
    source: str


@cache
def load_tls_criteria() -> tuple[RuleFile, tuple[TlsCriterion, ...]]:
    """The TLS file and its laboratory criteria, checked."""
    rf = load_rule_file("tls")
    return rf, build_tls_criteria(rf)


def build_tls_criteria(rf: RuleFile) -> tuple[TlsCriterion, ...]:
    where0 = "tls.toml [[criterion]]"
    raw = rf.rows("criterion")
    check_unique(raw, lambda r: (r.get("set"), r.get("analyte"), r.get("clause", "")), where0)
    out = []
    for i, r in enumerate(raw):
        where = f"{where0} row {i + 1}"
        check_row(
            r,
            where,
            {
                "set": str,
                "analyte": str,
                "test": str,
                "published": str,
                "comparator": str,
                "value": (int, float),
                "unit": str,
                "source": str,
            },
            {
                "clause": str,
                "change_comparator": str,
                "change_pct": (int, float),
                "corrected": bool,
                "comment": str,
            },
        )
        if r["set"] not in ("cairo_bishop_2004", "howard_2011"):
            raise SpecError(f"{where}: set {r['set']!r} is not a TLS criteria set.")
        if r["comparator"] not in ("<", "<=", ">", ">="):
            raise SpecError(f"{where}: comparator {r['comparator']!r} is not a comparison.")
        try:
            factor = lab_test(r["test"]).factor(r["unit"])
        except UnknownUnitError as exc:
            raise SpecError(f"{where}: {exc}") from None
        if ("change_comparator" in r) != ("change_pct" in r):
            raise SpecError(f"{where}: change_comparator and change_pct go together.")
        if "change_pct" in r and (r["change_pct"] > 0) != (r["change_comparator"] in (">", ">=")):
            raise SpecError(f"{where}: the change criterion points the wrong way.")
        out.append(
            TlsCriterion(
                set=r["set"],
                analyte=r["analyte"],
                clause=r.get("clause", ""),
                test=r["test"],
                published=r["published"],
                comparator=r["comparator"],
                value=signif_py(float(r["value"]) * factor, 15),
                change_comparator=r.get("change_comparator"),
                change_pct=float(r["change_pct"]) if "change_pct" in r else None,
                corrected=bool(r.get("corrected", False)),
                source=r["source"],
            )
        )
    for s in ("cairo_bishop_2004", "howard_2011"):
        if len({c.analyte for c in out if c.set == s}) < 2:
            raise SpecError(f"{where0}: set {s} needs at least two analytes.")
    return tuple(out)


_LABEL = {"uric_acid": "uric acid", "potassium": "potassium", "phosphate": "phosphate"}


def _start_days(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    patients = ws.table("patients").select(s_patient="patient_id")
    if settings.tls_therapy_start == "induction_d1":
        return patients.mutate(start_day=ibis.literal(1, "int64"))
    doses = dose_days(ws)
    courses = ws.table("treatment_courses")
    pre = doses.join(
        courses,
        [doses.patient_id == courses.patient_id, doses.course_id == courses.course_id],
    ).filter(lambda t: t.course_type == "prephase")
    first = pre.group_by(pre.patient_id).aggregate(start_day=pre.start_day.min())
    out = patients.left_join(first, patients.s_patient == first.patient_id)
    return out.select("s_patient", "start_day")


def tls_expression(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per patient (columns :data:`TLS_COLUMNS`)."""
    rf, all_rows = load_tls_criteria()
    rows = [c for c in all_rows if c.set == settings.tls_criteria]
    params = rf.meta["parameters"]
    before, after = int(params["window_days_before"]), int(params["window_days_after"])
    d = settings.signif_digits
    lab_rf = load_lab_criteria().file
    coefficient = float(lab_rf.param("albumin_coefficient_mmol_per_g"))

    labs = cohort_labs(ws, settings)
    starts = _start_days(ws, settings)
    tests = sorted({c.test for c in rows} | {"creatinine"})
    lab = labs.filter(labs.test.isin(tests) & labs.day.notnull() & labs.factor.notnull())
    lab = with_albumin(lab, labs, settings)
    corrected = signif(
        lab.value_si + coefficient * (settings.albumin_reference_g_l - lab.alb_si), d
    )
    if settings.calcium_correction == "uncorrected_if_no_albumin":
        corrected = corrected.fill_null(lab.value_si)
    corr_tests = [c.test for c in rows if c.corrected]
    lab = lab.mutate(v=ibis.ifelse(lab.test.isin(corr_tests), corrected, lab.value_si))
    lab = lab.join(starts, lab.patient_id == starts.s_patient).drop("s_patient")
    lab = lab.mutate(w_start=lab.start_day - before, w_end=lab.start_day + after)

    # Baseline of each test: its last value before the window opens.
    pre = lab.filter((lab.day < lab.w_start) & lab.v.notnull() & lab.qualifier.isnull())
    pre = pre.mutate(
        _rn=ibis.row_number().over(
            group_by=[pre.patient_id, pre.test],
            order_by=[ibis.desc(pre.day), ibis.desc(pre.minute.fill_null(0))],
        )
    )
    base = pre.filter(pre._rn == 0).select(b_patient="patient_id", b_test="test", b_v="v")
    win_labs = lab.filter((lab.day >= lab.w_start) & (lab.day <= lab.w_end))
    win_labs = win_labs.left_join(
        base, [win_labs.patient_id == base.b_patient, win_labs.test == base.b_test]
    ).drop("b_patient", "b_test")
    pchg = signif((win_labs.v - win_labs.b_v) / win_labs.b_v * 100.0, d)

    met_branches = []
    for c in rows:
        cond = compare(win_labs.v, c.comparator, ibis.literal(c.value), win_labs.qualifier)
        if c.change_pct is not None and c.change_comparator is not None:
            cond = cond | compare(
                pchg, c.change_comparator, ibis.literal(c.change_pct), win_labs.qualifier
            )
        met_branches.append((win_labs.test == c.test, cond))
    analyte = ibis.cases(
        *((win_labs.test == c.test, c.analyte) for c in rows), else_=ibis.null("string")
    )
    win_labs = win_labs.mutate(
        analyte=analyte, met=ibis.cases(*met_branches, else_=ibis.null("boolean"))
    )
    lab_rows = win_labs.filter(win_labs.analyte.notnull())
    per = lab_rows.group_by([lab_rows.patient_id, lab_rows.analyte]).aggregate(
        unit=lab_rows.unit_si.first(),
        n_true=lab_rows.met.fill_null(False).cast("int64").sum(),
        n_unknown=lab_rows.met.isnull().cast("int64").sum(),
        first_day=lab_rows.day.min(where=lab_rows.met.fill_null(False)),
        first_value=arg_min(
            lab_rows.v, ibis.ifelse(lab_rows.met.fill_null(False), lab_rows.day, 100000)
        ),
        first_change=arg_min(
            pchg_of(lab_rows, d), ibis.ifelse(lab_rows.met.fill_null(False), lab_rows.day, 100000)
        ),
    )
    per = per.mutate(
        _text=ibis.ifelse(
            per.n_true > 0,
            per.analyte.replace("_", " ")
            + " "
            + num_text(per.first_value)
            + " "
            + per.unit
            + " on D"
            + per.first_day.cast("string")
            + ibis.ifelse(
                per.first_change.notnull(),
                ibis.literal(" (") + num_text(per.first_change, 3) + " % from baseline)",
                "",
            ),
            ibis.null("string"),
        )
    )
    pt = per.group_by(per.patient_id).aggregate(
        n_met=(per.n_true > 0).cast("int64").sum(),
        n_assessed=((per.n_true > 0) | (per.n_unknown == 0)).cast("int64").sum(),
        met_text=per._text.group_concat("; "),
    )
    if settings.tls_criteria == "howard_2011":
        daily = lab_rows.filter(lab_rows.met.fill_null(False))
        daily = daily.select("patient_id", "day", "analyte").distinct()
        same_day = daily.group_by(["patient_id", "day"]).aggregate(n=daily.analyte.nunique())
        best = same_day.group_by("patient_id").aggregate(max_same_day=same_day.n.max())
        pt = pt.left_join(best, pt.patient_id == best.patient_id).drop("patient_id_right")
        simultaneous = pt.max_same_day.fill_null(0)
    else:
        pt = pt.mutate(max_same_day=ibis.null("int64"))
        simultaneous = pt.n_met

    need = int(params["min_laboratory_criteria"])
    analytes = sorted({c.analyte for c in rows})
    n_analytes = len(analytes)
    unassessed = n_analytes - pt.n_assessed
    ltls = ibis.cases(
        (simultaneous >= need, ibis.literal(True)),
        (pt.n_met + unassessed < need, ibis.literal(False)),
        (unassessed == 0, ibis.literal(False)),
        else_=ibis.null("boolean"),
    )
    pt = pt.mutate(ltls=ltls, unassessed=unassessed)

    creat = _creatinine(win_labs, settings, rf, d)
    patients = ws.table("patients").select(p_patient="patient_id")
    out = patients.left_join(pt, patients.p_patient == pt.patient_id).drop("patient_id")
    out = out.left_join(creat, out.p_patient == creat.c_patient).drop("c_patient")
    out = out.left_join(starts, out.p_patient == starts.s_patient).drop("s_patient")
    return _finish(out, rf, settings, analytes, need, before, after)


def pchg_of(t: ir.Table, digits: int) -> ir.FloatingValue:
    return signif((t.v - t.b_v) / t.b_v * 100.0, digits)


def _creatinine(win_labs: ir.Table, settings: CriteriaSettings, rf: RuleFile, d: int) -> ir.Table:
    params: Mapping[str, Any] = rf.meta["parameters"]
    mult = float(params["creatinine_uln_multiple"])
    c = win_labs.filter(win_labs.test == "creatinine")
    x, uln = c.v, c.uln_si
    if settings.tls_criteria == "howard_2011":
        rise = float(params["howard_creatinine_rise_umol_l"])
        by_rise = compare(x - c.b_v, ">=", ibis.literal(rise), c.qualifier)
        by_uln = compare(x, ">", signif(uln * mult, d), c.qualifier)
        met = ibis.ifelse(c.b_v.notnull(), by_rise, by_uln)
        grade = ibis.ifelse(met, 1, ibis.ifelse(met.isnull(), ibis.null("int64"), 0))
    else:
        g1_op = ">=" if settings.tls_creatinine_boundary == "ge" else ">"
        conds = [
            (4, compare(x, ">", signif(uln * 6.0, d), c.qualifier)),
            (3, compare(x, ">", signif(uln * 3.0, d), c.qualifier)),
            (2, compare(x, ">", signif(uln * mult, d), c.qualifier)),
            (1, compare(x, g1_op, signif(uln * mult, d), c.qualifier)),
        ]
        steps: list[tuple[ir.BooleanValue, ir.Value]] = []
        for g, cond in conds:
            steps.append((cond, ibis.literal(g, "int64")))
            steps.append((cond.isnull(), ibis.null("int64")))
        grade = ibis.cases(*steps, else_=ibis.literal(0, "int64"))
    c = c.mutate(_g=grade, _ratio=signif(x / uln, 3))
    return (
        c.group_by(c.patient_id)
        .aggregate(
            creat_grade=c._g.max(),
            creat_unknown=c._g.isnull().any(),
            creatinine_max_x_uln=c._ratio.max(),
        )
        .rename(c_patient="patient_id")
    )


def _finish(
    out: ir.Table,
    rf: RuleFile,
    settings: CriteriaSettings,
    analytes: list[str],
    need: int,
    before: int,
    after: int,
) -> ir.Table:
    name = {"cairo_bishop_2004": "Cairo-Bishop 2004", "howard_2011": "Howard 2011"}[
        settings.tls_criteria
    ]
    creat_grade = out.creat_grade
    ctls = ibis.cases(
        (out.ltls.isnull(), ibis.null("boolean")),
        (~out.ltls, ibis.literal(False)),
        (creat_grade >= 1, ibis.literal(True)),
        (creat_grade.isnull() | out.creat_unknown.fill_null(False), ibis.null("boolean")),
        else_=ibis.literal(False),
    )
    grade = ibis.cases(
        (out.ltls.isnull(), ibis.null("int64")),
        (~out.ltls, ibis.literal(0, "int64")),
        (ctls, creat_grade),
        (ctls.isnull(), ibis.null("int64")),
        else_=ibis.literal(0, "int64"),
    )
    start = out.start_day
    window = (
        ibis.literal("D")
        + (start - before).cast("string")
        + " to D"
        + (start + after).cast("string")
    )
    met = out.n_met.fill_null(0)
    counted = ibis.literal(f" of {len(analytes)} laboratory criteria met")
    head = ibis.cases(
        (out.ltls.isnull(), ibis.literal("TLS not assessable")),
        (ctls, ibis.literal("clinical TLS grade ") + grade.cast("string")),
        (out.ltls, ibis.literal("laboratory TLS without clinical TLS")),
        else_=ibis.literal("no laboratory TLS"),
    )
    body = (
        head
        + f" ({name}), "
        + window
        + ": "
        + met.cast("string")
        + counted
        + ibis.ifelse(out.met_text.notnull(), ibis.literal(" (") + out.met_text + ")", "")
        + f"; laboratory TLS needs {need}"
        + (" on the same day" if settings.tls_criteria == "howard_2011" else "")
        + ibis.ifelse(
            out.unassessed.fill_null(len(analytes)) > 0,
            ibis.literal("; ")
            + out.unassessed.fill_null(len(analytes)).cast("string")
            + " analyte(s) not measured in the window",
            "",
        )
        + ibis.ifelse(
            out.creatinine_max_x_uln.notnull(),
            ibis.literal("; creatinine up to ") + num_text(out.creatinine_max_x_uln) + " × ULN",
            "; no creatinine with a ULN in the window",
        )
        + "; cardiac arrhythmia, sudden death and seizure were not assessed (not recorded)"
    )
    rule_id = ibis.literal(f"tls.{settings.tls_criteria}")
    inputs = json_text(
        {
            "criteria_met": out.n_met,
            "max_same_day": out.max_same_day,
            "analytes_not_assessed": out.unassessed,
            "creatinine_grade": creat_grade,
            "creatinine_max_x_uln": out.creatinine_max_x_uln,
        }
    )
    return out.select(
        patient_id=out.p_patient,
        criteria=ibis.literal(settings.tls_criteria),
        therapy_start_day=start,
        window_start_day=start - before,
        window_end_day=start + after,
        laboratory_tls=out.ltls,
        clinical_tls=ctls,
        grade=grade,
        criteria_met=met,
        analytes_not_assessed=out.unassessed.fill_null(len(analytes)),
        creatinine_max_x_uln=out.creatinine_max_x_uln,
        rule_id=rule_id,
        rule_version=ibis.literal(rf.rule_version),
        inputs=inputs,
        explanation=body,
    )


def tls_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_tls` (planned once, see :mod:`bvall.criteria.plans`)."""
    return tls_expression(ws, settings).order_by("patient_id")
