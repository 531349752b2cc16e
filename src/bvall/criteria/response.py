"""NCCN response per marrow assessment, with flow MRD (``data/nccn_response.toml``).

Each marrow after D1 is classified from its morphology (blasts, trilineage haematopoiesis), the
absence of circulating blasts and extramedullary disease, and the blood counts nearest its day
(within ``response_counts_window_days``): CR, CRi, NR, PD, or relapse after a documented CR.
A category whose inputs are missing is not derived; the investigator's reported response is used
instead and the row says so (``response_source``: derived, reported or missing).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bvall.criteria.expressions import (
    Workspace,
    arg_max,
    arg_min,
    json_text,
    num_text,
)
from bvall.criteria.grades import cohort_labs
from bvall.criteria.labs import compare
from bvall.criteria.rules import RuleFile, load_rule_file
from bvall.criteria.settings import CriteriaSettings

RESPONSE_COLUMNS = (
    "patient_id",
    "timepoint",
    "day",
    "blasts_percent",
    "anc",
    "platelets",
    "counts_day",
    "response",
    "response_source",
    "response_derived",
    "response_reported",
    "mrd_negative",
    "mrd_level",
    "mrd_sensitivity",
    "rule_id",
    "rule_version",
    "inputs",
    "explanation",
)
#: Order of responses for "best response" (higher is better).
RANK = {"CR": 5, "CRh": 4, "CRi": 4, "NR": 2, "PD": 1, "relapse": 0}
_DIAGNOSIS_TIMEPOINTS = ("diagnosis",)


def _nearest_count(m: ir.Table, labs: ir.Table, test: str, window: int) -> ir.Table:
    c = labs.filter((labs.test == test) & labs.day.notnull() & labs.factor.notnull())
    j = m.select("m_key", "m_patient", "m_day").join(
        c,
        [
            m.m_patient == c.patient_id,
            c.day >= m.m_day - window,
            c.day <= m.m_day + window,
        ],
    )
    dist = (j.day - j.m_day).abs() * 2 + (j.day > j.m_day).cast("int64")
    j = j.mutate(_d=dist)
    best = j.group_by("m_key").aggregate(
        value=arg_min(j.value_si, j._d),
        qualifier=arg_min(j.qualifier, j._d),
        day=arg_min(j.day, j._d),
    )
    return best.rename(
        **{f"{test}_key": "m_key", test: "value", f"{test}_q": "qualifier", f"{test}_day": "day"}
    )


def response_expression(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per marrow assessment after diagnosis (columns :data:`RESPONSE_COLUMNS`),
    computed once per workspace."""
    return ws.cached("responses", lambda: _responses(ws, settings))


def _responses(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    rf = load_rule_file("nccn_response")
    p = rf.meta["parameters"]
    blast_cut = float(p["cr_marrow_blasts_below_percent"])
    pd_pct = float(p["pd_blast_increase_percent"])
    op = settings.count_recovery_comparator
    m = ws.with_day("marrow_assessments")
    diag = m.filter(m.timepoint.isin(list(_DIAGNOSIS_TIMEPOINTS)) | (m.day <= 0))
    diag = (
        diag.group_by("patient_id")
        .aggregate(diag_blasts=arg_max(diag.blasts_percent, diag.day.fill_null(-100000)))
        .rename(d_patient="patient_id")
    )
    m = m.filter(~m.timepoint.isin(list(_DIAGNOSIS_TIMEPOINTS)) & (m.day.isnull() | (m.day >= 1)))
    m = m.mutate(
        m_key=m.patient_id + "|" + m.timepoint + "|" + m.day.cast("string").fill_null("?"),
        m_patient=m.patient_id,
        m_day=m.day,
    )
    labs = cohort_labs(ws, settings)
    window = settings.response_counts_window_days
    anc = _nearest_count(m, labs, "anc", window)
    plt = _nearest_count(m, labs, "platelets", window)
    m = m.left_join(anc, m.m_key == anc.anc_key).drop("anc_key")
    m = m.left_join(plt, m.m_key == plt.platelets_key).drop("platelets_key")
    m = m.left_join(diag, m.patient_id == diag.d_patient).drop("d_patient")
    patients = ws.table("patients").select(e_patient="patient_id", emd0="extramedullary_disease")
    m = m.left_join(patients, m.patient_id == patients.e_patient).drop("e_patient")

    blasts = m.blasts_percent
    low_blasts = blasts < blast_cut
    core = (
        low_blasts & ~m.circulating_blasts & ~m.extramedullary_disease & m.trilineage_hematopoiesis
    )
    anc_ok = compare(m.anc, op, ibis.literal(float(p["anc_recovery"])), m.anc_q)
    plt_ok = compare(m.platelets, op, ibis.literal(float(p["platelet_recovery"])), m.platelets_q)
    counts_ok = anc_ok & plt_ok
    progression = (blasts >= m.diag_blasts * (1 + pd_pct / 100.0)) | (
        m.extramedullary_disease & ~m.emd0.fill_null(True)
    )
    first = ibis.cases(
        (core & counts_ok, "CR"),
        (core & ~counts_ok, "CRi"),
        (~low_blasts & progression, "PD"),
        (~low_blasts, "NR"),
        (~core & low_blasts.notnull(), "NR"),
        else_=ibis.null("string"),
    )
    m = m.mutate(_first=first)
    per_patient = ibis.window(group_by=m.patient_id)
    remission_day = ibis.ifelse(m._first.isin(["CR", "CRi"]), m.day, ibis.null("int64"))
    m = m.mutate(_cr_day=remission_day.min().over(per_patient))
    relapse_cut = blasts > blast_cut if settings.relapse_marrow_blasts == "gt_5" else blasts >= 25.0
    relapsed = (m.day > m._cr_day) & (
        relapse_cut
        | m.circulating_blasts.fill_null(False)
        | m.extramedullary_disease.fill_null(False)
    )
    derived = ibis.ifelse(relapsed.fill_null(False), "relapse", m._first)
    response = derived.fill_null(m.response_reported)
    source = ibis.cases(
        (derived.notnull(), "derived"),
        (m.response_reported.notnull(), "reported"),
        else_="missing",
    )
    mrd = _mrd_negative(m, settings)
    m = m.mutate(
        response_derived=derived,
        response=response,
        response_source=source,
        mrd_negative=mrd,
        counts_day=m.anc_day.fill_null(m.platelets_day),
    )
    return _finish(m, rf, settings, blast_cut, op)


def _mrd_negative(m: ir.Table, settings: CriteriaSettings) -> ir.BooleanValue:
    """TRUE below ``mrd_threshold`` by an assay at least that sensitive; FALSE when MRD is
    detected at or above it; NULL when the assay cannot tell (sensitivity too coarse or not
    recorded while ``mrd_requires_sensitivity``)."""
    threshold = settings.mrd_threshold
    sensitive = m.mrd_sensitivity <= threshold
    if not settings.mrd_requires_sensitivity:
        sensitive = sensitive.fill_null(True)
    established = ibis.ifelse(sensitive, ibis.literal(True), ibis.null("boolean"))
    return ibis.cases(
        (m.mrd_level >= threshold, ibis.literal(False)),
        (m.mrd_level.notnull(), established),
        (m.mrd_status == "negative", established),
        (m.mrd_status == "positive", ibis.literal(False)),
        else_=ibis.null("boolean"),
    )


def _finish(
    m: ir.Table, rf: RuleFile, settings: CriteriaSettings, blast_cut: float, op: str
) -> ir.Table:
    op_text = {">=": "≥", ">": ">"}[op]
    counts = (
        ibis.literal("ANC ")
        + num_text(m.anc).fill_null("not measured")
        + ", platelets "
        + num_text(m.platelets).fill_null("not measured")
        + " ×10⁹/L"
        + ibis.ifelse(
            m.counts_day.notnull(), ibis.literal(" (D") + m.counts_day.cast("string") + ")", ""
        )
    )
    blasts = ibis.literal("marrow blasts ") + (num_text(m.blasts_percent) + " %").fill_null(
        "not recorded"
    )
    why = ibis.cases(
        (
            m.response_derived == "CR",
            blasts + f" < {blast_cut:g}, no circulating blasts, no extramedullary disease, "
            "trilineage haematopoiesis, " + counts + f" (recovery {op_text} 1 and {op_text} 100)",
        ),
        (
            m.response_derived == "CRi",
            blasts
            + f" < {blast_cut:g} with the other CR criteria, but counts not recovered: "
            + counts,
        ),
        (m.response_derived == "PD", blasts + " (≥ 25 % above the diagnostic marrow)"),
        (m.response_derived == "NR", blasts + " or another CR criterion not met"),
        (
            m.response_derived == "relapse",
            blasts + " after CR on D" + m._cr_day.cast("string"),
        ),
        else_=ibis.literal("not derived (") + blasts + "; " + counts + ")",
    )
    mrd_text = ibis.cases(
        (m.mrd_negative, ibis.literal(f"; MRD negative (< {settings.mrd_threshold * 100:g} %)")),
        (~m.mrd_negative, ibis.literal("; MRD positive")),
        (
            m.mrd_status.notnull(),
            ibis.literal("; MRD ") + m.mrd_status + " (sensitivity not established)",
        ),
        else_=ibis.literal(""),
    )
    head = ibis.cases(
        (m.response_source == "derived", m.response + ": " + why),
        (
            m.response_source == "reported",
            m.response + " as reported by the investigator; " + why,
        ),
        else_=ibis.literal("response neither derivable nor reported: ") + why,
    )
    explanation = head + mrd_text + ", " + rf.system
    rule_id = ibis.ifelse(
        m.response_derived.notnull(), ibis.literal("nccn_response.") + m.response_derived, None
    )
    inputs = json_text(
        {
            "blasts_percent": m.blasts_percent,
            "circulating_blasts": m.circulating_blasts,
            "extramedullary_disease": m.extramedullary_disease,
            "trilineage_hematopoiesis": m.trilineage_hematopoiesis,
            "anc": m.anc,
            "platelets": m.platelets,
            "counts_day": m.counts_day,
            "diagnostic_blasts_percent": m.diag_blasts,
            "mrd_status": m.mrd_status,
            "mrd_level": m.mrd_level,
            "mrd_sensitivity": m.mrd_sensitivity,
            "response_reported": m.response_reported,
        }
    )
    observed = RESPONSE_COLUMNS[: RESPONSE_COLUMNS.index("rule_id")]
    return m.select(
        *observed,
        rule_id=rule_id,
        rule_version=ibis.literal(rf.rule_version),
        inputs=inputs,
        explanation=explanation,
    )


def response_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_response` (planned once, see :mod:`bvall.criteria.plans`)."""
    return response_expression(ws, settings).order_by(["patient_id", "day", "timepoint"])
