"""Per-patient endpoints (``data/endpoints.toml``), derived where raw data exist.

For each value a source can also report (day counts, CRS/ICANS grades, response, transfusion
units, AE grades) the row carries ``<column>_source``: *derived* when raw data exist (the value is
computed from them), *reported* when only a reported value exists (``reported_summaries``,
``adverse_events``, ``marrow_assessments.response_reported``, period totals of transfusions),
*missing* otherwise. When both exist the derived value is kept, the reported one is shown in
``<column>_reported`` and ``disagreements`` lists every difference. Nothing is invented: a
patient with no observations and no report of a quantity has it missing.

A source that reports every event of a term for every patient (e.g. the seed paper's Table 2 CRS
column, where 'No' means none) says so in the cohort metadata, ``complete_reporting``; only then
is an unreported event read as grade 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir

from bvall.criteria.crs import crs_episodes
from bvall.criteria.exposure import dose_days, induction_windows
from bvall.criteria.expressions import Workspace, arg_max, json_text
from bvall.criteria.followup import follow_up
from bvall.criteria.grades import cohort_labs, worst_grade_expression
from bvall.criteria.icans import icans_episodes
from bvall.criteria.plans import complete_terms as complete_terms  # re-exported
from bvall.criteria.response import RANK, response_expression
from bvall.criteria.rules import load_rule_file
from bvall.criteria.settings import CriteriaSettings
from bvall.criteria.summaries import days_below

#: Worst-grade columns: column prefix -> term id.
AE_COLUMNS = {
    "neutropenia": "neutrophil_count_decreased",
    "anemia": "anemia",
    "thrombocytopenia": "platelet_count_decreased",
    "transaminases": "transaminases_increased",
    "fibrinogen_decreased": "fibrinogen_decreased",
    "febrile_neutropenia": "febrile_neutropenia",
    "lung_infection": "lung_infection",
}


def _reported(ws: Workspace) -> ir.Table:
    """Per patient, the reported values: day counts, CRS/ICANS grades, transfusion totals."""
    r = ws.table("reported_summaries")
    r = r.filter(r.period.isnull() | (r.period == "induction"))
    summaries = r.group_by("patient_id").aggregate(
        days_anc_below_0_5_reported=r.value.max(where=r.quantity == "days_anc_below_0_5"),
        days_plt_below_20_reported=r.value.max(where=r.quantity == "days_plt_below_20"),
    )
    ae = ws.table("adverse_events")
    ae = ae.filter(ae.period.isnull() | (ae.period == "induction"))
    aes = ae.group_by("patient_id").aggregate(
        crs_max_grade_reported=ae.grade.max(where=ae.term == "Cytokine release syndrome"),
        icans_max_grade_reported=ae.grade.max(where=ae.term == "ICANS"),
        _crs_events=ae.term.count(where=ae.term == "Cytokine release syndrome"),
        _icans_events=ae.term.count(where=ae.term == "ICANS"),
    )
    t = ws.table("transfusions")
    t = t.filter(t.study_day.isnull() & t.date.isnull() & (t.period == "induction"))
    t = t.filter(t.amount_unit == "unit")
    totals = t.group_by("patient_id").aggregate(
        platelet_units_reported=t.amount.sum(where=t.product == "platelets"),
        rbc_units_reported=t.amount.sum(where=t.product == "rbc"),
    )
    p = ws.table("patients").select("patient_id")
    for part in (summaries, aes, totals):
        part = part.rename(_k="patient_id")
        p = p.left_join(part, p.patient_id == part._k).drop("_k")
    return p


def _observed(ws: Workspace, win: ir.Table, labs: ir.Table) -> ir.Table:
    """Per patient, which raw data exist in the induction window."""
    parts = []
    for name, flag in (
        ("vitals", "has_vitals"),
        ("neuro_assessments", "has_neuro"),
        ("transfusions", "has_transfusions"),
    ):
        t = ws.with_day(name)
        t = t.join(win, t.patient_id == win.w_patient)
        t = t.filter((t.day >= t.w_start) & (t.day <= t.w_end))
        parts.append(t.select("patient_id", kind=ibis.literal(flag)))
    anc = labs.filter((labs.test == "anc") & labs.day.notnull())
    anc = anc.join(win, anc.patient_id == win.w_patient)
    anc = anc.filter((anc.day >= anc.w_start) & (anc.day <= anc.w_end))
    parts.append(anc.select("patient_id", kind=ibis.literal("has_anc")))
    allp = ibis.union(*parts)
    return allp.group_by("patient_id").aggregate(
        **{
            flag: (allp.kind == flag).any()
            for flag in ("has_vitals", "has_neuro", "has_transfusions", "has_anc")
        }
    )


def _source(derived: ir.Value, reported: ir.Value) -> ir.StringValue:
    return ibis.cases(
        (derived.notnull(), "derived"), (reported.notnull(), "reported"), else_="missing"
    )


def _best(responses: ir.Table, win: ir.Table) -> ir.Table:
    r = responses.left_join(win, responses.patient_id == win.w_patient)
    in_window = ibis.ifelse(
        r.day.notnull(),
        (r.day >= r.w_start) & (r.day <= r.w_end),
        r.timepoint.isin(["d14_21", "pre_consolidation"]),
    )
    r = r.filter(in_window.fill_null(False))
    rank = ibis.cases(*((r.response == k, v) for k, v in RANK.items()), else_=-1)
    rank_rep = ibis.cases(*((r.response_reported == k, v) for k, v in RANK.items()), else_=-1)
    order = rank * 10 + ibis.ifelse(r.response_source == "derived", 1, 0)
    return (
        r.group_by("patient_id")
        .aggregate(
            best=arg_max(r.response, order),
            best_source=arg_max(r.response_source, order),
            best_reported=arg_max(r.response_reported, rank_rep),
            best_day=arg_max(r.day, order),
            mrd_any_negative=r.mrd_negative.fill_null(False).any(),
            mrd_any_positive=(~r.mrd_negative).fill_null(False).any(),
            mrd_d14=r.mrd_negative.cast("int8").max(where=r.timepoint == "d14_21") == 1,
            has_d14=(r.timepoint == "d14_21").any(),
        )
        .rename(b_patient="patient_id")
    )


def _transfused(ws: Workspace, win: ir.Table) -> ir.Table:
    """Per patient, units of platelets and red cells transfused (dated records) in induction."""
    t = ws.with_day("transfusions")
    t = t.filter(t.day.notnull() & (t.amount_unit == "unit"))
    t = t.join(win, t.patient_id == win.w_patient)
    t = t.filter((t.day >= t.w_start) & (t.day <= t.w_end))
    return t.group_by("patient_id").aggregate(
        _platelet_units=t.amount.sum(where=t.product == "platelets"),
        _rbc_units=t.amount.sum(where=t.product == "rbc"),
    )


def endpoints_expression(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per patient with the endpoint columns (see :func:`derive_endpoints`)."""
    rf = load_rule_file("endpoints")
    params = rf.meta["parameters"]
    win = induction_windows(ws, settings.induction_max_day)
    labs = cohort_labs(ws, settings)
    doses = dose_days(ws)
    days = days_below(
        labs,
        win,
        {"anc": float(params["anc_below"]), "platelets": float(params["platelets_below"])},
        settings,
    )
    anc = days.filter(days.test == "anc")
    plt = days.filter(days.test == "platelets")
    crs = crs_episodes(ws, settings)
    icans = icans_episodes(ws, settings)
    episodes = []
    for name, e in (("crs", crs), ("icans", icans)):
        e = e.join(win, e.patient_id == win.w_patient)
        e = e.filter((e.onset_day >= e.w_start) & (e.onset_day <= e.w_end))
        episodes.append(e.select("patient_id", "max_grade", kind=ibis.literal(name)))
    ep = ibis.union(*episodes)
    ep = ep.group_by("patient_id").aggregate(
        _crs_worst=ep.max_grade.max(where=ep.kind == "crs"),
        _icans_worst=ep.max_grade.max(where=ep.kind == "icans"),
    )
    responses = response_expression(ws, settings)
    worst = worst_grade_expression(ws, settings)
    grades = worst.group_by("patient_id").aggregate(
        **{
            f"_{prefix}_derived": worst.derived_grade.max(where=worst.term_id == term_id)
            for prefix, term_id in AE_COLUMNS.items()
        },
        **{
            f"{prefix}_max_grade_reported": worst.reported_grade.max(where=worst.term_id == term_id)
            for prefix, term_id in AE_COLUMNS.items()
        },
        **{
            f"_{prefix}_events": worst.reported_events.max(where=worst.term_id == term_id)
            for prefix, term_id in AE_COLUMNS.items()
        },
    )
    pieces: list[tuple[ir.Table, dict[str, str]]] = [
        (anc, {"days_anc_below_0_5": "below", "days_anc_below_0_5_measured": "measured"}),
        (plt, {"days_plt_below_20": "below", "days_plt_below_20_measured": "measured"}),
        (_reported(ws), {}),
        (_observed(ws, win, labs), {}),
        (ep, {}),
        (
            _best(responses, win).rename(patient_id="b_patient"),
            {
                "_best": "best",
                "_best_source": "best_source",
                "best_response_reported": "best_reported",
                "best_response_day": "best_day",
                "_mrd_neg": "mrd_any_negative",
                "_mrd_pos": "mrd_any_positive",
                "mrd_negative_d14_21": "mrd_d14",
            },
        ),
        (_transfused(ws, win), {}),
        (grades, {}),
        (follow_up(ws, responses, doses).rename(patient_id="f_patient"), {}),
    ]
    p = ws.table("patients").select("patient_id", "arm")
    for n, (piece, names) in enumerate(pieces):
        cols = (
            {new: piece[old] for new, old in names.items()}
            if names
            else {c: piece[c] for c in piece.columns if c != "patient_id"}
        )
        renamed = piece.select(_k=piece.patient_id, **cols)
        joined = p.left_join(renamed, p.patient_id == renamed._k).drop("_k")
        # Materialized step by step: the expression, and its compile time, stay flat.
        p = ws.cached(f"endpoints_{n}", _const(joined))
    return _finish(p, set(ws.features["complete"]), settings)


def _const(t: ir.Table) -> Callable[[], ir.Table]:
    return lambda: t


def _days_text(value: ir.Value, source: ir.Value, measured: ir.Value) -> ir.StringValue:
    return ibis.cases(
        (
            source == "derived",
            value.cast("string") + " of " + measured.cast("string") + " measured days",
        ),
        (source == "reported", value.cast("string") + " days (reported)"),
        else_=ibis.literal("an unknown number of days"),
    )


def _finish(p: ir.Table, complete: set[str], settings: CriteriaSettings) -> ir.Table:
    cols: dict[str, ir.Value] = {}
    for col in ("days_anc_below_0_5", "days_plt_below_20"):
        derived = ibis.ifelse(p[f"{col}_measured"].fill_null(0) > 0, p[col], ibis.null("int64"))
        cols[col] = derived.fill_null(p[f"{col}_reported"].cast("int64"))
        cols[f"{col}_source"] = _source(derived, p[f"{col}_reported"])
    for col, observed, term in (
        ("crs_max_grade", p.has_vitals, "Cytokine release syndrome"),
        ("icans_max_grade", p.has_neuro, "ICANS"),
    ):
        derived = ibis.ifelse(
            observed.fill_null(False), p[f"_{col.split('_')[0]}_worst"].fill_null(0), None
        )
        reported = p[f"{col}_reported"]
        if term in complete:
            # An event reported without a grade stays unknown; no event at all is grade 0.
            none = p[f"_{col.split('_')[0]}_events"].fill_null(0) == 0
            reported = ibis.ifelse(none, reported.fill_null(0), reported)
        cols[f"{col}_reported"] = reported
        cols[col] = derived.fill_null(reported)
        cols[f"{col}_source"] = _source(derived, reported)
    cols["best_response"] = p._best
    cols["best_response_source"] = ibis.ifelse(p._best.notnull(), p._best_source, "missing")
    mrd = ibis.cases(
        (p._mrd_neg.fill_null(False), ibis.literal(True)),
        (p._mrd_pos.fill_null(False), ibis.literal(False)),
        else_=ibis.null("boolean"),
    )
    cols["mrd_negative"] = mrd
    cols["mrd_negative_source"] = ibis.ifelse(mrd.notnull(), "derived", "missing")
    cols["mrd_negative_d14_21_source"] = ibis.ifelse(
        p.mrd_negative_d14_21.notnull(), "derived", "missing"
    )
    # Dated transfusion records are raw data. A patient without one has received none only when
    # the cohort declares its transfusion records complete.
    tx_complete = "transfusions" in complete
    for col in ("platelet_units", "rbc_units"):
        have = p.has_transfusions.fill_null(False)
        if tx_complete:
            have = ibis.literal(True)
        derived = ibis.ifelse(have, p[f"_{col}"].fill_null(0.0), ibis.null("float64"))
        cols[col] = derived.fill_null(p[f"{col}_reported"])
        cols[f"{col}_source"] = _source(derived, p[f"{col}_reported"])
    term_of = {
        "transaminases": "Transaminases increased",
        "fibrinogen_decreased": "Fibrinogen decreased",
        "febrile_neutropenia": "Febrile neutropenia",
        "lung_infection": "Lung infection",
    }
    for prefix in AE_COLUMNS:
        derived = p[f"_{prefix}_derived"]
        if prefix == "febrile_neutropenia":
            # Vital signs and ANC in the window are what FN is derived from: no FN event is 0.
            seen = p.has_vitals.fill_null(False) & p.has_anc.fill_null(False)
            derived = ibis.ifelse(seen, derived.fill_null(0), derived)
        reported = p[f"{prefix}_max_grade_reported"]
        if term_of.get(prefix) in complete:
            none = p[f"_{prefix}_events"].fill_null(0) == 0
            reported = ibis.ifelse(none, reported.fill_null(0), reported)
        cols[f"{prefix}_max_grade_reported"] = reported
        cols[f"{prefix}_max_grade"] = derived.fill_null(reported)
        cols[f"{prefix}_max_grade_source"] = _source(derived, reported)
    p = p.mutate(**cols)
    checks: Sequence[tuple[str, ir.Value, ir.Value]] = [
        ("days_anc_below_0_5", p.days_anc_below_0_5, p.days_anc_below_0_5_reported),
        ("days_plt_below_20", p.days_plt_below_20, p.days_plt_below_20_reported),
        ("crs_max_grade", p.crs_max_grade, p.crs_max_grade_reported),
        ("icans_max_grade", p.icans_max_grade, p.icans_max_grade_reported),
        ("best_response", p.best_response, p.best_response_reported),
        ("platelet_units", p.platelet_units, p.platelet_units_reported),
        ("rbc_units", p.rbc_units, p.rbc_units_reported),
        *(
            (f"{x}_max_grade", p[f"{x}_max_grade"], p[f"{x}_max_grade_reported"])
            for x in AE_COLUMNS
        ),
    ]
    diffs = []
    for name, value, reported in checks:
        src = p[f"{name}_source"]
        if value.type().is_numeric():
            differs = value.cast("float64") != reported.cast("float64")
        else:
            differs = value.cast("string") != reported.cast("string")
        differs = differs & (src == "derived")
        diffs.append(
            ibis.ifelse(
                differs.fill_null(False),
                ibis.literal(f"{name}: derived ")
                + value.cast("string")
                + ", reported "
                + reported.cast("string"),
                ibis.null("string"),
            )
        )
    p = p.mutate(disagreements=ibis.literal("; ").join(diffs).nullif(""))
    explanation = (
        ibis.literal("ANC < 0.5 on ")
        + _days_text(
            p.days_anc_below_0_5, p.days_anc_below_0_5_source, p.days_anc_below_0_5_measured
        )
        + "; platelets < 20 on "
        + _days_text(p.days_plt_below_20, p.days_plt_below_20_source, p.days_plt_below_20_measured)
        + "; CRS grade "
        + p.crs_max_grade.cast("string").fill_null("unknown")
        + " ("
        + p.crs_max_grade_source
        + "), ICANS grade "
        + p.icans_max_grade.cast("string").fill_null("unknown")
        + " ("
        + p.icans_max_grade_source
        + "); best response "
        + p.best_response.fill_null("unknown")
        + " ("
        + p.best_response_source
        + ")"
        + ibis.ifelse(
            p.mrd_negative,
            "; MRD negative",
            ibis.ifelse(~p.mrd_negative, "; MRD positive", ""),
        )
        + ibis.ifelse(p.cr_day.notnull(), ibis.literal("; CR from D") + p.cr_day.cast("string"), "")
        + ibis.ifelse(
            p.relapse.fill_null(False),
            ibis.literal("; relapse D") + p.relapse_day.cast("string"),
            "",
        )
        + ibis.ifelse(
            p.death.fill_null(False), ibis.literal("; died D") + p.death_day.cast("string"), ""
        )
        + ibis.ifelse(
            p.disagreements.notnull(),
            ibis.literal("; differs from the report: ") + p.disagreements,
            "",
        )
    )
    inputs = json_text(
        {
            "days_anc_measured": p.days_anc_below_0_5_measured,
            "days_plt_measured": p.days_plt_below_20_measured,
            "best_response_day": p.best_response_day,
            "settings": ibis.literal(str(settings.changed() or "defaults")),
        }
    )
    keep = [
        c for c in ENDPOINT_COLUMNS if c not in ("rule_id", "rule_version", "inputs", "explanation")
    ]
    return p.select(
        *keep,
        rule_id=ibis.literal("endpoints"),
        rule_version=ibis.literal(load_rule_file("endpoints").rule_version),
        inputs=inputs,
        explanation=explanation,
    )


ENDPOINT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "arm",
    "days_anc_below_0_5",
    "days_anc_below_0_5_source",
    "days_anc_below_0_5_reported",
    "days_anc_below_0_5_measured",
    "days_plt_below_20",
    "days_plt_below_20_source",
    "days_plt_below_20_reported",
    "days_plt_below_20_measured",
    "crs_max_grade",
    "crs_max_grade_source",
    "crs_max_grade_reported",
    "icans_max_grade",
    "icans_max_grade_source",
    "icans_max_grade_reported",
    "best_response",
    "best_response_source",
    "best_response_reported",
    "best_response_day",
    "mrd_negative",
    "mrd_negative_source",
    "mrd_negative_d14_21",
    "mrd_negative_d14_21_source",
    "cr_day",
    "relapse",
    "relapse_day",
    "relapse_days_after_cr",
    "death",
    "death_day",
    "last_contact_day",
    "os_days",
    "os_event",
    "rfs_days",
    "rfs_event",
    "platelet_units",
    "platelet_units_source",
    "platelet_units_reported",
    "rbc_units",
    "rbc_units_source",
    "rbc_units_reported",
    *(
        f"{prefix}_max_grade{suffix}"
        for prefix in AE_COLUMNS
        for suffix in ("", "_source", "_reported")
    ),
    "disagreements",
    "rule_id",
    "rule_version",
    "inputs",
    "explanation",
)


def endpoints_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_endpoints` (planned once, see :mod:`bvall.criteria.plans`)."""
    return endpoints_expression(ws, settings).order_by("patient_id")
