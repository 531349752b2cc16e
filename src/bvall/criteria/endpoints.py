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

import ibis
import ibis.expr.types as ir

from bvall.criteria.columns import AE_COLUMNS as AE_COLUMNS  # re-exported
from bvall.criteria.columns import ENDPOINT_COLUMNS as ENDPOINT_COLUMNS  # re-exported
from bvall.criteria.crs import crs_episodes
from bvall.criteria.exposure import dose_days, induction_windows
from bvall.criteria.expressions import Workspace, arg_max, json_text
from bvall.criteria.followup import SEEN_IN, follow_up_columns
from bvall.criteria.grades import cohort_labs, worst_grade_expression
from bvall.criteria.icans import icans_episodes
from bvall.criteria.plans import complete_terms as complete_terms  # re-exported
from bvall.criteria.response import RANK, response_expression
from bvall.criteria.rules import load_rule_file
from bvall.criteria.settings import CriteriaSettings
from bvall.criteria.summaries import days_below


def _reported(ws: Workspace, complete: set[str]) -> list[ir.Table]:
    """Per patient (key ``_k``), the reported values: day counts; CRS/ICANS grades (and their
    number of events where the cohort reports the term completely); transfusion totals."""
    r = ws.table("reported_summaries")
    r = r.filter(r.period.isnull() | (r.period == "induction"))
    summaries = r.group_by(_k=r.patient_id).aggregate(
        days_anc_below_0_5_reported=r.value.max(where=r.quantity == "days_anc_below_0_5"),
        days_plt_below_20_reported=r.value.max(where=r.quantity == "days_plt_below_20"),
    )
    ae = ws.table("adverse_events")
    ae = ae.filter(ae.period.isnull() | (ae.period == "induction"))
    aes = ae.group_by(_k=ae.patient_id).aggregate(
        **{
            f"{kind}_max_grade_reported": _reported_grade(
                ae.grade.max(where=ae.term == term),
                ae.term.count(where=ae.term == term),
                term in complete,
            )
            for kind, term in _EPISODE_TERMS.items()
        }
    )
    t = ws.table("transfusions")
    t = t.filter(
        t.study_day.isnull()
        & t.date.isnull()
        & (t.period == "induction")
        & (t.amount_unit == "unit")
    )
    totals = t.group_by(_k=t.patient_id).aggregate(
        platelet_units_reported=t.amount.sum(where=t.product == "platelets"),
        rbc_units_reported=t.amount.sum(where=t.product == "rbc"),
    )
    return [summaries, aes, totals]


#: CRS/ICANS: endpoint prefix -> adverse-event term.
_EPISODE_TERMS = {"crs": "Cytokine release syndrome", "icans": "ICANS"}
#: Cohort tables whose records in the induction window are the raw data of an endpoint.
_OBSERVED_IN = ("vitals", "neuro_assessments", "transfusions")


def _records(
    ws: Workspace,
    labs: ir.Table,
    doses: ir.Table,
    episodes: dict[str, ir.Table],
    responses: ir.Table,
) -> ir.Table:
    """The dated records endpoints read, one row each: ``patient_id``, ``kind`` (the cohort
    table, ``anc``, ``dose``, ``crs``, ``icans``, or a derived response ``CR``/``relapse``),
    ``what`` (the event of a follow-up record, the product of a transfusion counted in units),
    ``num`` (units transfused, an episode's grade) and ``day``."""
    parts = []
    for name in dict.fromkeys((*_OBSERVED_IN, *SEEN_IN)):
        t = ws.table(name)
        what = num = None
        if name == "follow_up_events":
            what = t.event
        elif name == "transfusions":
            what = ibis.ifelse(t.amount_unit == "unit", t.product, ibis.null("string"))
            num = t.amount
        parts.append(
            t.select(
                "patient_id",
                "study_day",
                "date",
                kind=ibis.literal(name),
                what=ibis.null("string") if what is None else what.cast("string"),
                num=ibis.null("float64") if num is None else num.cast("float64"),
            )
        )
    cohort_rows = ibis.union(*parts)
    d1 = ws.d1()
    from_date = (cohort_rows.date.delta(d1.d1_date, unit="day") + 1).cast("int64")
    dated = cohort_rows.left_join(d1, cohort_rows.patient_id == d1.patient_id).select(
        *(cohort_rows[c] for c in ("patient_id", "kind", "what", "num")),
        day=cohort_rows.study_day.cast("int64").fill_null(from_date),
    )
    anc = labs.filter(labs.test == "anc")
    remission = responses.filter(responses.response_derived.isin(["CR", "relapse"]))
    derived = [
        (anc, "anc", anc.day, None),
        (doses, "dose", doses.end_day, None),
        (remission, remission.response_derived, remission.day, None),
        *((e, kind, e.onset_day, e.max_grade) for kind, e in episodes.items()),
    ]
    return ibis.union(
        dated,
        *(
            t.select(
                "patient_id",
                kind=ibis.literal(kind) if isinstance(kind, str) else kind,
                what=ibis.null("string"),
                num=ibis.null("float64") if num is None else num.cast("float64"),
                day=day.cast("int64"),
            )
            for t, kind, day, num in derived
        ),
    )


def _record_facts(records: ir.Table, win: ir.Table, complete: set[str]) -> ir.Table:
    """Per patient (key ``_k``), from :func:`_records`: the CRS/ICANS grade derived from the
    episodes starting in the induction window (none is grade 0 when vital signs, resp.
    neurological assessments, were recorded in it), the units of platelets and red cells
    transfused in it (dated records; none is 0 when some transfusion is recorded in it or the
    cohort declares its transfusion records complete), whether vital signs and ANC values
    exist in it (what febrile neutropenia is derived from), and for follow-up the first CR,
    relapse (marrow or reported event) and death days, whether any follow-up record exists and
    the latest day of any record."""
    j = records.left_join(win, records.patient_id == win.w_patient)
    r = j.select(records, _in=(records.day >= win.w_start) & (records.day <= win.w_end))

    def seen(kind: str) -> ir.BooleanValue:
        return (r._in & (r.kind == kind)).any()

    metrics: dict[str, ir.Value] = {}
    for kind, observed in (("crs", "vitals"), ("icans", "neuro_assessments")):
        worst = r.num.max(where=r._in & (r.kind == kind)).cast("int64")
        metrics[f"_{kind}_derived"] = ibis.ifelse(seen(observed), worst.fill_null(0), None)
    transfused = seen("transfusions")
    for col, product in (("_platelet_units", "platelets"), ("_rbc_units", "rbc")):
        units = r.num.sum(where=r._in & (r.kind == "transfusions") & (r.what == product))
        if "transfusions" not in complete:
            units = ibis.ifelse(transfused, units.fill_null(0.0), ibis.null("float64"))
        metrics[col] = units
    fu = r.kind == "follow_up_events"
    return r.group_by(_k=r.patient_id).aggregate(
        **metrics,
        _fn_observed=seen("vitals") & seen("anc"),
        cr_day=r.day.min(where=r.kind == "CR"),
        relapse_day=r.day.min(where=(fu & (r.what == "relapse")) | (r.kind == "relapse")),
        death_day=r.day.min(where=fu & (r.what == "death")),
        _followed=fu.any(),
        _last_day=r.day.max(where=r.kind.isin([*SEEN_IN, "dose"])),
    )


def _reported_grade(grade: ir.Value, events: ir.Value, complete: bool) -> ir.Value:
    """The reported grade of a patient's term; when the cohort reports the term completely,
    no event is grade 0 (an event reported without a grade stays unknown). A patient without
    any reported event of any term is not in the table: see :func:`_endpoint_values`."""
    if not complete:
        return grade
    return ibis.ifelse(events.fill_null(0) == 0, grade.fill_null(0), grade)


def _source(derived: ir.Value, reported: ir.Value) -> ir.StringValue:
    return ibis.cases(
        (derived.notnull(), "derived"), (reported.notnull(), "reported"), else_="missing"
    )


def _response_facts(responses: ir.Table, win: ir.Table) -> ir.Table:
    """Per patient (key ``_k``) with a response in the induction window: the best one (derived
    before reported at one rank), its source and day, the best reported one, and MRD (negative
    when any marrow in the window is, positive when none is and one is positive)."""
    j = responses.left_join(win, responses.patient_id == win.w_patient)
    in_window = ibis.ifelse(
        responses.day.notnull(),
        (responses.day >= win.w_start) & (responses.day <= win.w_end),
        responses.timepoint.isin(["d14_21", "pre_consolidation"]),
    )
    rank = responses.response.cases(*RANK.items(), else_=-1)
    r = j.select(
        *(
            responses[c]
            for c in (
                "patient_id",
                "timepoint",
                "day",
                "response",
                "response_source",
                "mrd_negative",
            )
        ),
        _reported=responses.response_reported,
        _in=in_window.fill_null(False),
        # Best: highest rank, derived before reported, then the earliest day (undated last).
        _order=(rank * 10 + ibis.ifelse(responses.response_source == "derived", 1, 0)).cast("int64")
        * 10_000_000
        - responses.day.fill_null(1_000_000),
        _rank_reported=responses.response_reported.cases(*RANK.items(), else_=-1),
    )
    r = r.filter(r._in)
    mrd = ibis.cases(
        (r.mrd_negative.fill_null(False).any(), ibis.literal(True)),
        ((~r.mrd_negative).fill_null(False).any(), ibis.literal(False)),
        else_=ibis.null("boolean"),
    )
    return r.group_by(_k=r.patient_id).aggregate(
        best_response=arg_max(r.response, r._order),
        _best_source=arg_max(r.response_source, r._order),
        best_response_reported=arg_max(r._reported, r._rank_reported),
        best_response_day=arg_max(r.day, r._order),
        mrd_negative=mrd,
        mrd_negative_d14_21=r.mrd_negative.cast("int8").max(where=r.timepoint == "d14_21") == 1,
    )


def endpoints_expression(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per patient with the endpoint columns (see :func:`derive_endpoints`).

    Two statements: every per-patient fact joined to the patients with the endpoint values
    computed from them (``bv_step_endpoints``), then the disagreements and the explanation,
    which read those values as columns.
    """
    return _finish(ws.cached("endpoints", lambda: _values(ws, settings)), settings)


def _values(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    rf = load_rule_file("endpoints")
    params = rf.meta["parameters"]
    complete = set(ws.features["complete"])
    win = induction_windows(ws, settings.induction_max_day)
    labs = cohort_labs(ws, settings)
    days = days_below(
        labs,
        win,
        {"anc": float(params["anc_below"]), "platelets": float(params["platelets_below"])},
        settings,
    )
    # Days below are derived where some day was measured.
    anc, plt, measured = days.test == "anc", days.test == "platelets", days.measured > 0
    days = days.group_by(_k=days.patient_id).aggregate(
        _days_anc_derived=days.below.max(where=anc & measured),
        days_anc_below_0_5_measured=days.measured.max(where=anc),
        _days_plt_derived=days.below.max(where=plt & measured),
        days_plt_below_20_measured=days.measured.max(where=plt),
    )
    responses = response_expression(ws, settings)
    episodes = {"crs": crs_episodes(ws, settings), "icans": icans_episodes(ws, settings)}
    records = _records(ws, labs, dose_days(ws), episodes, responses)
    worst = worst_grade_expression(ws, settings)
    metrics = {}
    for prefix, term_id in AE_COLUMNS.items():
        this = worst.term_id == term_id
        metrics[f"_{prefix}_derived"] = worst.derived_grade.max(where=this)
        metrics[f"{prefix}_max_grade_reported"] = _reported_grade(
            worst.reported_grade.max(where=this),
            worst.reported_events.max(where=this),
            _AE_TERMS.get(prefix) in complete,
        )
    grades = worst.group_by(_k=worst.patient_id).aggregate(**metrics)
    pieces = [
        days,
        *_reported(ws, complete),
        _record_facts(records, win, complete),
        _response_facts(responses, win),
        grades,
    ]
    patients = ws.table("patients")
    joined = patients
    f: dict[str, ir.Value] = {"patient_id": patients.patient_id, "arm": patients.arm}
    for piece in pieces:
        joined = joined.left_join(piece, patients.patient_id == piece._k)
        f.update({c: piece[c] for c in piece.columns if c != "_k"})
    cols = _endpoint_values(f, complete)
    keep = ENDPOINT_COLUMNS[: ENDPOINT_COLUMNS.index("rule_id")]
    values: ir.Table = joined.select(**{c: cols[c] if c in cols else f[c] for c in keep})
    return values


#: Adverse-event terms a cohort may report completely: endpoint prefix -> term.
_AE_TERMS = {
    "transaminases": "Transaminases increased",
    "fibrinogen_decreased": "Fibrinogen decreased",
    "febrile_neutropenia": "Febrile neutropenia",
    "lung_infection": "Lung infection",
}


def _endpoint_values(f: dict[str, ir.Value], complete: set[str]) -> dict[str, ir.Value]:
    """Each endpoint value with its source and reported value, and ``disagreements``, from the
    facts ``f`` (read as columns, so that no value's expression is repeated in the SQL)."""
    cols: dict[str, ir.Value] = {}
    diffs: list[ir.StringValue] = []

    def add(col: str, derived: ir.Value, reported: ir.Value, shown: ir.Value | None = None) -> None:
        """``col`` and its source; where derived and reported (``shown``, as reported) differ,
        a disagreement (numbers compare as numbers: 3 = 3.0)."""
        cols[col] = derived.fill_null(reported)
        cols[f"{col}_source"] = _source(derived, reported)
        diffs.append(_disagreement(col, derived, reported if shown is None else shown))

    def reported_grade(prefix: str, term: str | None) -> ir.Value:
        reported = f[f"{prefix}_max_grade_reported"]
        if term in complete:
            # A patient absent from the reported table has no event: grade 0.
            reported = reported.fill_null(0)
            cols[f"{prefix}_max_grade_reported"] = reported
        return reported

    for col, test in (("days_anc_below_0_5", "anc"), ("days_plt_below_20", "plt")):
        reported = f[f"{col}_reported"]
        add(col, f[f"_days_{test}_derived"], reported.cast("int64"), reported)
    for prefix, term in _EPISODE_TERMS.items():
        add(f"{prefix}_max_grade", f[f"_{prefix}_derived"], reported_grade(prefix, term))
    best = f["best_response"]
    cols["best_response_source"] = ibis.ifelse(best.notnull(), f["_best_source"], "missing")
    diffs.append(
        _disagreement(
            "best_response",
            ibis.ifelse(f["_best_source"] == "derived", best, ibis.null("string")),
            f["best_response_reported"],
        )
    )
    for col in ("mrd_negative", "mrd_negative_d14_21"):
        cols[f"{col}_source"] = ibis.ifelse(f[col].notnull(), "derived", "missing")
    for col in ("platelet_units", "rbc_units"):
        derived = f[f"_{col}"]
        if "transfusions" in complete:
            # Complete transfusion records: a patient without a dated one received none.
            derived = derived.fill_null(0.0)
        add(col, derived, f[f"{col}_reported"])
    for prefix in AE_COLUMNS:
        derived = f[f"_{prefix}_derived"]
        if prefix == "febrile_neutropenia":
            # Vital signs and ANC in the window are what FN is derived from: no FN event is 0.
            derived = ibis.ifelse(f["_fn_observed"].fill_null(False), derived.fill_null(0), derived)
        add(f"{prefix}_max_grade", derived, reported_grade(prefix, _AE_TERMS.get(prefix)))
    cols["disagreements"] = ibis.literal("; ").join(diffs).nullif("")
    cols.update(
        follow_up_columns(
            cr_day=f["cr_day"],
            relapse_day=f["relapse_day"],
            death_day=f["death_day"],
            followed=f["_followed"].fill_null(False),
            last_day=f["_last_day"],
        )
    )
    return cols


def _disagreement(name: str, derived: ir.Value, reported: ir.Value) -> ir.StringValue:
    """``<name>: derived <value>, reported <value>`` when a derived value differs from the
    reported one, else NULL."""
    text = (
        ibis.literal(f"{name}: derived ")
        + derived.cast("string")
        + ", reported "
        + reported.cast("string")
    )
    return ibis.cases((derived != reported, text))


def _days_text(value: ir.Value, source: ir.Value, measured: ir.Value) -> ir.StringValue:
    return source.cases(
        ("derived", value.cast("string") + " of " + measured.cast("string") + " measured days"),
        ("reported", value.cast("string") + " days (reported)"),
        else_=ibis.literal("an unknown number of days"),
    )


def _finish(p: ir.Table, settings: CriteriaSettings) -> ir.Table:
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
        + p.mrd_negative.cases((True, "; MRD negative"), (False, "; MRD positive"), else_="")
        # A text part is NULL when its value is: "; CR from D" || NULL is NULL, then "".
        + (ibis.literal("; CR from D") + p.cr_day.cast("string")).fill_null("")
        + (ibis.literal("; relapse D") + p.relapse_day.cast("string")).fill_null("")
        + (ibis.literal("; died D") + p.death_day.cast("string")).fill_null("")
        + (ibis.literal("; differs from the report: ") + p.disagreements).fill_null("")
    )
    inputs = json_text(
        {
            "days_anc_measured": p.days_anc_below_0_5_measured,
            "days_plt_measured": p.days_plt_below_20_measured,
            "best_response_day": p.best_response_day,
            "settings": ibis.literal(str(settings.changed() or "defaults")),
        }
    )
    return p.select(
        *p.columns,
        rule_id=ibis.literal("endpoints"),
        rule_version=ibis.literal(load_rule_file("endpoints").rule_version),
        inputs=inputs,
        explanation=explanation,
    )


def endpoints_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_endpoints` (planned once, see :mod:`bvall.criteria.plans`)."""
    return endpoints_expression(ws, settings).order_by("patient_id")
