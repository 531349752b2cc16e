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

from dataclasses import dataclass
from functools import cache

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from bvall.cohort.units import lab_test
from bvall.criteria.exposure import dose_days
from bvall.criteria.expressions import (
    Workspace,
    arg_max,
    arg_min,
    constant_table,
    first_rows,
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


def _criteria_table(rows: list[TlsCriterion]) -> ir.Table:
    """The laboratory criteria of one set as rows (one per test) that the lab values join; a
    criterion without a change rule has NULL change columns. ``a_order``: the place of the
    analyte in the rule file, the order in which explanations list the criteria met."""
    analytes = list(dict.fromkeys(c.analyte for c in rows))
    return constant_table(
        pa.table(
            {
                "c_test": [c.test for c in rows],
                "analyte": [c.analyte for c in rows],
                "a_order": [analytes.index(c.analyte) for c in rows],
                "comparator": [c.comparator for c in rows],
                "threshold": [c.value for c in rows],
                "change_comparator": [c.change_comparator for c in rows],
                "change_pct": [c.change_pct for c in rows],
            },
            schema=_CRITERIA_SCHEMA,
        )
    )


_CRITERIA_SCHEMA = pa.schema(
    [
        ("c_test", pa.string()),
        ("analyte", pa.string()),
        ("a_order", pa.int64()),
        ("comparator", pa.string()),
        ("threshold", pa.float64()),
        ("change_comparator", pa.string()),
        ("change_pct", pa.float64()),
    ]
)


def _compare_by_row(
    x: ir.NumericValue,
    op: ir.StringValue,
    t: ir.NumericValue,
    qualifier: ir.StringValue,
    ops: list[str],
    otherwise: ir.BooleanValue,
) -> ir.BooleanValue:
    """:func:`~bvall.criteria.labs.compare` with the comparator and threshold read from a
    criterion row: one comparison per comparator the rows use (at most four), whatever the
    number of criteria; ``otherwise`` for a row whose comparator is NULL."""
    return ibis.cases(*((op == o, compare(x, o, t, qualifier)) for o in ops), else_=otherwise)


def tls_expression(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per patient (columns :data:`TLS_COLUMNS`).

    The laboratory criteria (and Cairo-Bishop's creatinine grades) are rows of constant tables
    joined to the lab values, and each rounded quantity (corrected calcium, % change, creatinine
    threshold, ratio to ULN) is rounded once in a projection that the next steps read as a
    column: the statement stays small whatever the number of criteria (DuckDB's time to plan a
    statement grows with its text).
    """
    rf, all_rows = load_tls_criteria()
    rows = [c for c in all_rows if c.set == settings.tls_criteria]
    params = rf.meta["parameters"]
    before, after = int(params["window_days_before"]), int(params["window_days_after"])
    d = settings.signif_digits
    lab_rf = load_lab_criteria().file
    coefficient = float(lab_rf.param("albumin_coefficient_mmol_per_g"))
    howard = settings.tls_criteria == "howard_2011"
    mult = float(params["creatinine_uln_multiple"])

    labs = cohort_labs(ws, settings)
    starts = _start_days(ws, settings)
    tests = sorted({c.test for c in rows} | {"creatinine"})
    lab = labs.filter(labs.test.isin(tests) & labs.day.notnull() & labs.factor.notnull())
    lab = lab.select(
        "patient_id", "test", "day", "minute", "qualifier", "unit_si", "value_si", "uln_si"
    )
    # Same-day albumin, from the columns it reads.
    lab = with_albumin(
        lab, labs.select("patient_id", "test", "day", "minute", "qualifier", "value_si"), settings
    )
    # The quantities to round, as columns (so each rounding below names a column, not the
    # expression it rounds): albumin-corrected calcium, and Howard's creatinine threshold
    # (Cairo-Bishop's are rounded in _cairo_creatinine_grades).
    multiples = {"uln_x_mult": mult} if howard else {}
    lab = lab.select(
        "patient_id",
        "test",
        "day",
        "minute",
        "qualifier",
        "unit_si",
        "value_si",
        "uln_si",
        _corrected=lab.value_si + coefficient * (settings.albumin_reference_g_l - lab.alb_si),
        **{f"_{name}": lab.uln_si * m for name, m in multiples.items()},
    )
    corrected = signif(lab._corrected, d)
    if settings.calcium_correction == "uncorrected_if_no_albumin":
        corrected = corrected.fill_null(lab.value_si)
    corr_tests = [c.test for c in rows if c.corrected]
    # The join with the start days keeps the rounded values as columns for what follows.
    lab = lab.join(starts, lab.patient_id == starts.s_patient).select(
        "patient_id",
        "test",
        "day",
        "minute",
        "qualifier",
        "unit_si",
        "uln_si",
        v=ibis.ifelse(lab.test.isin(corr_tests), corrected, lab.value_si),
        w_start=starts.start_day - before,
        w_end=starts.start_day + after,
        **{name: signif(lab[f"_{name}"], d) for name in multiples},
    )

    # Baseline of each test: its last value before the window opens (of two values at one time,
    # the lower: a rise from it is the more readily flagged, and the choice never depends on
    # the order of rows).
    pre = lab.filter((lab.day < lab.w_start) & lab.v.notnull() & lab.qualifier.isnull())
    pre = first_rows(
        pre,
        [pre.patient_id, pre.test],
        [ibis.desc(pre.day), ibis.desc(pre.minute.fill_null(0)), pre.v],
    )
    base = pre.select(b_patient="patient_id", b_test="test", b_v="v")
    win = lab.filter((lab.day >= lab.w_start) & (lab.day <= lab.w_end))
    creat_conds = {}
    if howard:
        creat_conds["c_uln"] = compare(win.v, ">", win.uln_x_mult, win.qualifier)
    win = win.select(
        "patient_id", "test", "day", "qualifier", "unit_si", "uln_si", "v", **creat_conds
    )
    # One join (a common table expression) read by the laboratory and the creatinine criteria.
    win = win.left_join(base, [win.patient_id == base.b_patient, win.test == base.b_test]).select(
        *win.columns,
        "b_v",
        _pchg=(win.v - base.b_v) / base.b_v * 100.0,
        _x_uln=win.v / win.uln_si,
    )

    crit = _criteria_table(rows)
    lab_rows = win.select(
        "patient_id",
        "test",
        "day",
        "qualifier",
        "unit_si",
        "v",
        pchg=signif(win._pchg, d),
    )
    lab_rows = lab_rows.join(crit, lab_rows.test == crit.c_test).select(
        *(c for c in lab_rows.columns if c != "test"),
        *(c for c in crit.columns if c != "c_test"),
    )
    t = lab_rows
    met = _compare_by_row(
        t.v,
        t.comparator,
        t.threshold,
        t.qualifier,
        sorted({c.comparator for c in rows}),
        ibis.null("boolean"),
    )
    change_ops = sorted({c.change_comparator for c in rows if c.change_comparator is not None})
    if change_ops:
        # A criterion without a change rule: its threshold alone (x OR FALSE is x).
        met = met | _compare_by_row(
            t.pchg, t.change_comparator, t.change_pct, t.qualifier, change_ops, ibis.literal(False)
        )
    lab_rows = lab_rows.select(
        "patient_id", "analyte", "a_order", "day", "unit_si", "v", "pchg", met=met
    )
    hit = lab_rows.met.fill_null(False)
    per = lab_rows.group_by([lab_rows.patient_id, lab_rows.analyte]).aggregate(
        a_order=lab_rows.a_order.min(),
        unit=lab_rows.unit_si.first(),
        n_true=hit.cast("int64").sum(),
        n_unknown=lab_rows.met.isnull().cast("int64").sum(),
        first_day=lab_rows.day.min(where=hit),
        first_value=arg_min(lab_rows.v, ibis.ifelse(hit, lab_rows.day, 100000)),
        first_change=arg_min(lab_rows.pchg, ibis.ifelse(hit, lab_rows.day, 100000)),
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
        # In the rule file's order (unordered, SQL lists them as its threads deliver them).
        met_text=per._text.group_concat("; ", order_by=per.a_order),
    )
    if settings.tls_criteria == "howard_2011":
        daily = lab_rows.filter(lab_rows.met.fill_null(False))
        daily = daily.select("patient_id", "day", "analyte").distinct()
        same_day = daily.group_by(["patient_id", "day"]).aggregate(n=daily.analyte.nunique())
        best = same_day.group_by("patient_id").aggregate(max_same_day=same_day.n.max())
        pt = _without(pt.left_join(best, pt.patient_id == best.patient_id), "patient_id_right")
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

    creat = _creatinine(win, settings)
    patients = ws.table("patients").select(p_patient="patient_id")
    # Clinical TLS is computed in the join, so the text below reads it as a column.
    ltls, creat_grade = pt.ltls, creat.creat_grade
    ctls = ibis.cases(
        (ltls.isnull(), ibis.null("boolean")),
        (~ltls, ibis.literal(False)),
        (creat_grade >= 1, ibis.literal(True)),
        (creat_grade.isnull() | creat.creat_unknown.fill_null(False), ibis.null("boolean")),
        else_=ibis.literal(False),
    )
    out = (
        patients.left_join(pt, patients.p_patient == pt.patient_id)
        .left_join(creat, patients.p_patient == creat.c_patient)
        .left_join(starts, patients.p_patient == starts.s_patient)
        .select(
            "p_patient",
            "start_day",
            "n_met",
            "met_text",
            "max_same_day",
            "ltls",
            "unassessed",
            "creat_grade",
            "creatinine_max_x_uln",
            ctls=ctls,
        )
    )
    return _finish(out, rf, settings, analytes, need, before, after)


def _without(t: ir.Table, *names: str) -> ir.Table:
    """``t`` without the columns ``names``, as a selection: a join's selection stays a join that
    two consumers share (one common table expression), where ``drop`` would copy it into each."""
    return t.select(*(c for c in t.columns if c not in names))


def _creatinine(win: ir.Table, settings: CriteriaSettings) -> ir.Table:
    """Per patient: the highest creatinine component grade in the window, whether a value could
    not be graded, and the highest ratio to ULN. ``win``: the values in the window with their
    baseline (``b_v``), ratio to ULN (``_x_uln``) and, for Howard, ``c_uln`` (> 1.5 x ULN)."""
    c = win.filter(win.test == "creatinine")
    if settings.tls_criteria == "howard_2011":
        rise = float(load_tls_criteria()[0].meta["parameters"]["howard_creatinine_rise_umol_l"])
        by_rise = compare(c.v - c.b_v, ">=", ibis.literal(rise), c.qualifier)
        # met TRUE -> 1, FALSE -> 0, unknown -> NULL.
        grade = ibis.ifelse(c.b_v.notnull(), by_rise, c.c_uln).cast("int64")
        c = c.select("patient_id", _g=grade, _ratio=signif(c._x_uln, 3))
    else:
        c = _cairo_creatinine_grades(c, settings)
    return (
        c.group_by(c.patient_id)
        .aggregate(
            creat_grade=c._g.max(),
            creat_unknown=c._g.isnull().any(),
            creatinine_max_x_uln=c._ratio.max(),
        )
        .rename(c_patient="patient_id")
    )


def _cairo_creatinine_grades(c: ir.Table, settings: CriteriaSettings) -> ir.Table:
    """Each creatinine value's Cairo-Bishop component grade (``_g``) and ratio to ULN.

    The grades are rows (grade, multiple of ULN, comparator) joined to the values; a value's
    grade is the highest whose comparison is not false: that grade when it holds, unknown (NULL)
    when it cannot be decided, and 0 when every comparison is false. A value is known by what its
    grade depends on (patient, value, qualifier, ULN): identical rows have one grade.
    """
    params = load_tls_criteria()[0].meta["parameters"]
    mult = float(params["creatinine_uln_multiple"])
    g1_op = ">=" if settings.tls_creatinine_boundary == "ge" else ">"
    grades = constant_table(
        pa.table(
            {
                "g_grade": [4, 3, 2, 1],
                "g_multiple": [6.0, 3.0, mult, mult],
                "g_comparator": [">", ">", ">", g1_op],
            },
            schema=_GRADES_SCHEMA,
        )
    )
    c = c.select("patient_id", "v", "qualifier", "uln_si", _ratio=signif(c._x_uln, 3))
    cg = c.cross_join(grades)
    cg = cg.select(
        "patient_id",
        "v",
        "qualifier",
        "uln_si",
        "_ratio",
        "g_grade",
        "g_comparator",
        threshold=signif(cg.uln_si * cg.g_multiple, settings.signif_digits),
    )
    cond = _compare_by_row(
        cg.v, cg.g_comparator, cg.threshold, cg.qualifier, sorted({">", g1_op}), _NULL_BOOL
    )
    cg = cg.select("patient_id", "v", "qualifier", "uln_si", "_ratio", "g_grade", _cond=cond)
    open_ = cg._cond.fill_null(True)  # not false: holds, or cannot be decided
    per = cg.group_by(["patient_id", "v", "qualifier", "uln_si"]).aggregate(
        _top=cg.g_grade.max(where=open_),
        _holds=arg_max(cg._cond, ibis.ifelse(open_, cg.g_grade, -1)),
        _ratio=cg._ratio.max(),
    )
    grade = ibis.cases(
        (per._top.isnull(), ibis.literal(0, "int64")),
        (per._holds, per._top),
        else_=ibis.null("int64"),
    )
    return per.select("patient_id", "_ratio", _g=grade)


_GRADES_SCHEMA = pa.schema(
    [("g_grade", pa.int64()), ("g_multiple", pa.float64()), ("g_comparator", pa.string())]
)
_NULL_BOOL = ibis.null("boolean")


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
    creat_grade, ctls = out.creat_grade, out.ctls
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
