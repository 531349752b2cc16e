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
    dated,
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


def _nearest_counts(m: ir.Table, labs: ir.Table, window: int) -> ir.Table:
    """Per marrow (``m_key``), the ANC and platelet value nearest its day within ``window`` days
    (same day first, then the earlier day on a tie): structs ``anc``/``platelets`` of
    ``value, qualifier, day``, both tests in one join."""
    c = labs.filter(
        labs.test.isin(["anc", "platelets"]) & labs.day.notnull() & labs.factor.notnull()
    )
    keys = m.select("m_key", "m_patient", "m_day")
    j = keys.join(
        c,
        [
            keys.m_patient == c.patient_id,
            c.day >= keys.m_day - window,
            c.day <= keys.m_day + window,
        ],
    ).select(
        keys.m_key,
        c.test,
        nearest=ibis.struct({"value": c.value_si, "qualifier": c.qualifier, "day": c.day}),
        _d=(c.day - keys.m_day).abs() * 2 + (c.day > keys.m_day).cast("int64"),
    )
    return j.group_by("m_key").aggregate(
        **{test: j.nearest.argmin(j._d, where=j.test == test) for test in ("anc", "platelets")}
    )


def response_expression(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per marrow assessment after diagnosis (columns :data:`RESPONSE_COLUMNS`),
    computed once per workspace."""
    return ws.cached("responses", lambda: _responses(ws, settings))


_MARROW_COLUMNS = (
    "patient_id",
    "timepoint",
    "blasts_percent",
    "trilineage_hematopoiesis",
    "mrd_status",
    "mrd_level",
    "mrd_sensitivity",
    "circulating_blasts",
    "extramedullary_disease",
    "response_reported",
)


def _responses(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    # Three statement layers, each computing what the next reads as columns (so no expression is
    # repeated in the SQL): the marrow joined to its counts, diagnostic marrow and patient, with
    # the CR criteria; the first classification and the first CR day (a window); the response,
    # its source and the explanation.
    rf = load_rule_file("nccn_response")
    p = rf.meta["parameters"]
    blast_cut = float(p["cr_marrow_blasts_below_percent"])
    pd_pct = float(p["pd_blast_increase_percent"])
    op = settings.count_recovery_comparator
    all_m = dated(ws, "marrow_assessments", _MARROW_COLUMNS)
    diag = all_m.filter(all_m.timepoint.isin(list(_DIAGNOSIS_TIMEPOINTS)) | (all_m.day <= 0))
    diag = diag.group_by(d_patient=diag.patient_id).aggregate(
        diag_blasts=arg_max(diag.blasts_percent, diag.day.fill_null(-100000))
    )
    m = all_m.filter(
        ~all_m.timepoint.isin(list(_DIAGNOSIS_TIMEPOINTS)) & (all_m.day.isnull() | (all_m.day >= 1))
    )
    m = m.mutate(
        m_key=m.patient_id + "|" + m.timepoint + "|" + m.day.cast("string").fill_null("?"),
        m_patient=m.patient_id,
        m_day=m.day,
    )
    counts = _nearest_counts(m, cohort_labs(ws, settings), settings.response_counts_window_days)
    patients = ws.table("patients")
    j = (
        m.left_join(counts, m.m_key == counts.m_key)
        .left_join(diag, m.patient_id == diag.d_patient)
        .left_join(patients, m.patient_id == patients.patient_id)
    )
    anc, plt = counts.anc, counts.platelets
    blasts = m.blasts_percent
    low_blasts = blasts < blast_cut
    core = (
        low_blasts & ~m.circulating_blasts & ~m.extramedullary_disease & m.trilineage_hematopoiesis
    )
    anc_ok = compare(anc["value"], op, ibis.literal(float(p["anc_recovery"])), anc["qualifier"])
    plt_ok = compare(
        plt["value"], op, ibis.literal(float(p["platelet_recovery"])), plt["qualifier"]
    )
    progression = (blasts >= diag.diag_blasts * (1 + pd_pct / 100.0)) | (
        m.extramedullary_disease & ~patients.extramedullary_disease.fill_null(True)
    )
    counts_day = anc["day"].fill_null(plt["day"])
    count_text = (
        ibis.literal("ANC ")
        + num_text(anc["value"]).fill_null("not measured")
        + ", platelets "
        + num_text(plt["value"]).fill_null("not measured")
        + " ×10⁹/L"
        + (ibis.literal(" (D") + counts_day.cast("string") + ")").fill_null("")
    )
    m = j.select(
        *(m[c] for c in ("patient_id", "timepoint", "day", "blasts_percent")),
        anc=anc["value"],
        platelets=plt["value"],
        counts_day=counts_day,
        **{c: m[c] for c in _MARROW_COLUMNS[3:]},
        mrd_negative=_mrd_negative(m, settings),
        diag_blasts=diag.diag_blasts,
        _low=low_blasts,
        _core=core,
        _counts_ok=anc_ok & plt_ok,
        _progression=progression,
        _blasts_text=ibis.literal("marrow blasts ")
        + (num_text(blasts) + " %").fill_null("not recorded"),
        _count_text=count_text,
    )
    first = ibis.cases(
        (m._core & m._counts_ok, "CR"),
        (m._core & ~m._counts_ok, "CRi"),
        (~m._low & m._progression, "PD"),
        (~m._low, "NR"),
        (~m._core & m._low.notnull(), "NR"),
        else_=ibis.null("string"),
    )
    remission_day = ibis.ifelse(first.isin(["CR", "CRi"]), m.day, ibis.null("int64"))
    cr_day = remission_day.min().over(ibis.window(group_by=m.patient_id))
    relapse_cut = (
        m.blasts_percent > blast_cut
        if settings.relapse_marrow_blasts == "gt_5"
        else m.blasts_percent >= 25.0
    )
    relapsed = (m.day > cr_day) & (
        relapse_cut
        | m.circulating_blasts.fill_null(False)
        | m.extramedullary_disease.fill_null(False)
    )
    m = m.mutate(
        _cr_day=cr_day,
        response_derived=ibis.ifelse(relapsed.fill_null(False), "relapse", first),
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
    derived = m.response_derived
    # The explanation: "<response>: " (or how it was reported), the marrow blasts, what of the
    # category they meet, the blood counts where the category reads them, then MRD.
    head = ibis.cases(
        (derived.notnull(), derived + ": "),
        (
            m.response_reported.notnull(),
            m.response_reported + " as reported by the investigator; ",
        ),
        else_=ibis.literal("response neither derivable nor reported: "),
    )
    criterion = derived.cases(
        (
            "CR",
            f" < {blast_cut:g}, no circulating blasts, no extramedullary disease, "
            "trilineage haematopoiesis, ",
        ),
        ("CRi", f" < {blast_cut:g} with the other CR criteria, but counts not recovered: "),
        ("PD", " (≥ 25 % above the diagnostic marrow)"),
        ("NR", " or another CR criterion not met"),
        ("relapse", ibis.literal(" after CR on D") + m._cr_day.cast("string")),
        else_=ibis.literal("; "),
    )
    counts = ibis.ifelse(derived.isin(["PD", "NR", "relapse"]), "", m._count_text)
    tail = ibis.cases(
        (derived == "CR", ibis.literal(f" (recovery {op_text} 1 and {op_text} 100)")),
        (derived.isnull(), ibis.literal(")")),
        else_=ibis.literal(""),
    )
    why = (
        ibis.ifelse(derived.isnull(), "not derived (", "")
        + m._blasts_text
        + criterion
        + counts
        + tail
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
    explanation = head + why + mrd_text + ", " + rf.system
    rule_id = ibis.literal("nccn_response.") + derived
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
    return m.select(
        *RESPONSE_COLUMNS[: RESPONSE_COLUMNS.index("response")],
        response=derived.fill_null(m.response_reported),
        response_source=ibis.cases(
            (derived.notnull(), "derived"),
            (m.response_reported.notnull(), "reported"),
            else_="missing",
        ),
        response_derived=derived,
        response_reported=m.response_reported,
        mrd_negative=m.mrd_negative,
        mrd_level=m.mrd_level,
        mrd_sensitivity=m.mrd_sensitivity,
        rule_id=rule_id,
        rule_version=ibis.literal(rf.rule_version),
        inputs=inputs,
        explanation=explanation,
    )


def response_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_response` (planned once, see :mod:`bvall.criteria.plans`)."""
    return response_expression(ws, settings).order_by(["patient_id", "day", "timepoint"])
