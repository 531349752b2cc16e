"""ASTCT 2019 cytokine release syndrome: per-record grades and episodes from daily vital signs.

Each vital-signs record is graded by ``data/astct_crs.toml`` (fever, hypotension by the support
it needs, hypoxia by oxygen delivery). An episode begins with a fever recorded on the day an
immune effector therapy (blinatumomab) starts or steps up, or within ``crs_attribution_days``
after it, and continues while records with fever, hypotension or hypoxia follow each other
within ``episode_gap_hours``. Once a corticosteroid, tocilizumab or an antipyretic has been given
in the episode, fever is no longer required. Each episode carries its onset, end, duration,
maximum grade, what drove it and how it was managed, and explains itself in a sentence.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from bvall.cohort.vocab import vocabulary
from bvall.criteria.episodes import day_time_label, islands, number_episodes, timed_records
from bvall.criteria.exposure import dose_days, effector_steps, treatment_during
from bvall.criteria.expressions import (
    Workspace,
    arg_max,
    arg_min,
    constant_table,
    first_rows,
    json_text,
    num_text,
)
from bvall.criteria.settings import CriteriaSettings
from bvall.criteria.sign_criteria import grade_records, load_sign_criteria

CRS_COLUMNS = (
    "patient_id",
    "episode",
    "onset_day",
    "onset_time",
    "end_day",
    "end_time",
    "duration_hours",
    "max_grade",
    "fever_max_c",
    "sbp_min_mmhg",
    "hypotension_grade",
    "hypoxia_grade",
    "vasopressors",
    "vasopressors_max",
    "oxygen_device",
    "oxygen_flow_max_l_min",
    "fluid_bolus",
    "trigger_agent",
    "trigger_day",
    "treatment",
    "dexamethasone_mg",
    "tocilizumab_given",
    "rule_id",
    "rule_version",
    "inputs",
    "explanation",
)


_VITALS = (
    "temperature_c",
    "sbp_mmhg",
    "fluid_bolus",
    "vasopressors",
    "oxygen_device",
    "oxygen_flow_l_min",
    "antipyretic_given",
)
#: The vital signs the ASTCT rows read (a record's grades depend on these alone).
_GRADED = _VITALS[:-1]


def _vasopressor_counts(settings: CriteriaSettings) -> Callable[[ir.Table], dict[str, ir.Value]]:
    def counts(v: ir.Table) -> dict[str, ir.Value]:
        items = v.vasopressors.split(";")
        total = items.length().fill_null(0)
        has_vasopressin = items.contains("vasopressin").fill_null(False).cast("int64")
        non_vasopressin = total - has_vasopressin
        counted = non_vasopressin
        if settings.vasopressin_alone == "counts_as_vasopressor":
            counted = total
        return {
            "vasopressors_any": total,
            "non_vasopressin_vasopressors": non_vasopressin,
            "vasopressors_counted": counted,
        }

    return counts


def crs_records(ws: Workspace, settings: CriteriaSettings, doses: ir.Table) -> ir.Table:
    """Every vital-signs record (``patient_id, day, time, clock`` and the vital signs) with its
    ``fever_grade``, ``hypotension_grade``/``_rule``, ``hypoxia_grade``/``_rule``,
    ``vasopressors_counted``, the day of the immune effector step its day follows
    (``trigger_day``; NULL outside the attribution window; it attributes a fever) and the last
    day of the fever-masking doses begun by its day (``mask_end``)."""
    crit = load_sign_criteria("astct_crs")
    timed = timed_records(ws, "vitals", _VITALS)
    v = grade_records(
        crit,
        settings,
        timed,
        _GRADED,
        _vasopressor_counts(settings),
        ("fever", "hypotension", "hypoxia"),
        rules=("hypotension", "hypoxia"),
        keep=("vasopressors_counted",),
    )
    days = timed.select(d_patient="patient_id", d_day="day").distinct()
    trig = _triggers(days, doses, settings)
    masking = [str(a) for a in crit.file.param("fever_masking_agents")]
    m = doses.filter(doses.agent.isin(masking) & (doses.status == "given"))
    masked = days.join(m, [days.d_patient == m.patient_id, m.start_day <= days.d_day])
    masks = masked.group_by(["d_patient", "d_day"]).aggregate(mask_end=masked.end_day.max())
    masks = masks.rename(k_patient="d_patient", k_day="d_day")
    out = v.left_join(trig, [v.patient_id == trig.d_patient, v.day == trig.d_day])
    out = out.left_join(masks, [out.patient_id == masks.k_patient, out.day == masks.k_day])
    return out.select(*v.columns, "trigger_day", "mask_end")


def _earliest_first(key: ir.NumericValue, clock: ir.IntegerValue) -> ir.NumericValue:
    """An ``arg_max`` key: the largest ``key``, and of records equal in it the earliest (a
    record's clock is its minute of the study; an episode spans far fewer than 10^6 minutes,
    less than the 10^8 that one step of ``key`` weighs, and flows are recorded to 0.01 L/min).
    The device and the rule named are those of the first record that reached the episode's
    worst grade, never whichever row came first."""
    return key * 100_000_000 - clock


def _triggers(days: ir.Table, doses: ir.Table, settings: CriteriaSettings) -> ir.Table:
    """Per patient and study day (``d_patient, d_day``): the latest immune effector step a fever
    that day follows (``trigger_day``, ``trigger_agent``, ``trigger_dose``, ``trigger_unit``)."""
    crit = load_sign_criteria("astct_crs")
    agents = [str(a) for a in crit.file.param("immune_effector_agents")]
    steps = effector_steps(doses, agents)
    span = settings.crs_attribution_days
    hits = days.join(
        steps,
        [
            days.d_patient == steps.patient_id,
            steps.step_day <= days.d_day,
            steps.step_day + span >= days.d_day,
        ],
    )
    # The latest step, all its columns from one row; of two steps on one day, the first by
    # agent, dose and unit, so the choice never depends on the order of rows (nulls last on
    # every backend: ``isnull()`` sorts false before true).
    first = first_rows(
        hits,
        [hits.d_patient, hits.d_day],
        [
            ibis.desc(hits.step_day),
            hits.agent.isnull(),
            hits.agent,
            hits.step_dose.isnull(),
            hits.step_dose,
            hits.step_unit.isnull(),
            hits.step_unit,
        ],
    )
    return first.select(
        "d_patient",
        "d_day",
        trigger_day=first.step_day,
        trigger_agent=first.agent,
        trigger_dose=first.step_dose,
        trigger_unit=first.step_unit,
    )


def crs_episodes(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per CRS episode (columns :data:`CRS_COLUMNS`), computed once per workspace."""
    return ws.cached("crs", lambda: _crs_episodes(ws, settings))


def _crs_episodes(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    crit = load_sign_criteria("astct_crs")
    # The doses columns read here (fewer columns, shorter SQL).
    doses = dose_days(ws).select(
        "patient_id", "agent", "dose", "dose_unit", "status", "start_day", "end_day"
    )
    rec = crs_records(ws, settings, doses)
    fever = rec.fever_grade >= 1
    signs = rec.filter(fever | (rec.hypotension_grade > 0) | (rec.hypoxia_grade > 0))
    # Episodes over the times with a sign (records at one time share an episode): an attributed
    # fever opens one, and it runs while signs follow within the gap.
    times = signs.group_by(["patient_id", "clock", "day"]).aggregate(
        _opens=((signs.fever_grade >= 1) & signs.trigger_day.notnull()).any()
    )
    times = islands(times, "clock", settings.episode_gap_hours * 60)
    per_island = ibis.window(group_by=[times.patient_id, times.island])
    times = times.mutate(
        _onset=ibis.ifelse(times._opens, times.clock, None).min().over(per_island),
        _onset_day=ibis.ifelse(times._opens, times.day, None).min().over(per_island),
    )
    times = times.filter(times._onset.notnull() & (times.clock >= times._onset))
    times = times.select(
        i_patient="patient_id", i_clock="clock", island="island", _onset_day="_onset_day"
    )
    ep = signs.join(times, [signs.patient_id == times.i_patient, signs.clock == times.i_clock])
    # Fever is no longer required once a masking agent given by then lasts into the episode.
    fever = ep.fever_grade >= 1
    masked = (ep.mask_end >= ep._onset_day).fill_null(False) | ep.antipyretic_given.fill_null(False)
    row_grade = ibis.cases(
        (fever, ibis.greatest(ep.hypotension_grade, ep.hypoxia_grade, ibis.literal(1, "int64"))),
        (masked, ibis.greatest(ep.hypotension_grade, ep.hypoxia_grade)),
        else_=ibis.literal(0, "int64"),
    )
    graded = ep.mutate(row_grade=row_grade)
    graded = graded.filter(graded.row_grade > 0)
    agg = graded.group_by([graded.patient_id, graded.island]).aggregate(
        onset_day=graded.day.min(),
        _onset_clock=graded.clock.min(),
        onset_time=arg_min(graded.time, graded.clock),
        end_day=graded.day.max(),
        end_time=arg_max(graded.time, graded.clock),
        duration_hours=((graded.clock.max() - graded.clock.min()) / 60.0).round(1),
        max_grade=graded.row_grade.max(),
        fever_max_c=graded.temperature_c.max(),
        sbp_min_mmhg=graded.sbp_mmhg.min(),
        hypotension_grade=graded.hypotension_grade.max(),
        hypoxia_grade=graded.hypoxia_grade.max(),
        # alphabetical: the list never depends on the order rows are read in
        vasopressors=graded.vasopressors.collect(distinct=True).sort().join(";"),
        vasopressors_max=graded.vasopressors_counted.max(),
        oxygen_device=arg_max(
            graded.oxygen_device,
            _earliest_first(
                graded.hypoxia_grade * 1000 + graded.oxygen_flow_l_min.fill_null(0), graded.clock
            ),
        ),
        oxygen_flow_max_l_min=graded.oxygen_flow_l_min.max(),
        fluid_bolus=graded.fluid_bolus.any(),
        _hyp_rule=arg_max(
            graded.hypotension_rule, _earliest_first(graded.hypotension_grade, graded.clock)
        ),
        _oxy_rule=arg_max(graded.hypoxia_rule, _earliest_first(graded.hypoxia_grade, graded.clock)),
    )
    agg = number_episodes(agg, "_onset_clock")
    masking = [str(a) for a in crit.file.param("fever_masking_agents")]
    given = treatment_during(agg, doses, [*masking, "tocilizumab"])
    labels = _device_labels()
    # The episode's trigger is the step its onset fever (its first record) follows.
    days = timed_records(ws, "vitals", _VITALS).select(d_patient="patient_id", d_day="day")
    trig = _triggers(days.distinct(), doses, settings)
    agg = (
        agg.left_join(trig, [agg.patient_id == trig.d_patient, agg.onset_day == trig.d_day])
        .left_join(given, [agg.patient_id == given.e_patient, agg.episode == given.e_episode])
        .left_join(labels, agg.oxygen_device == labels.device)
    )
    agg = agg.select(*(c for c in agg.columns if c in CRS_COLUMNS or c in _FINISH_READS))
    return _finish(agg, crit.file.rule_version, crit.file.system)


#: Columns besides CRS_COLUMNS that the explanation reads.
_FINISH_READS = ("_hyp_rule", "_oxy_rule", "device_label", "trigger_dose", "trigger_unit")


def _device_labels() -> ir.Table:
    """``device, device_label``: the oxygen devices in words, as a constant table."""
    vocab = vocabulary("oxygen_device")
    return constant_table(
        {
            "device": [t.code for t in vocab.terms],
            "device_label": [t.label.lower() for t in vocab.terms],
        }
    )


def _finish(agg: ir.Table, rule_version: str, system: str) -> ir.Table:
    pressors = agg.vasopressors.replace(";", ", ")
    fever = ibis.ifelse(
        agg.fever_max_c >= 38.0,
        ibis.literal("fever up to ") + num_text(agg.fever_max_c) + " °C",
        ibis.literal("no fever after antipyretic or anti-cytokine therapy"),
    )
    lowest = (ibis.literal(" (lowest SBP ") + num_text(agg.sbp_min_mmhg) + " mmHg)").fill_null("")
    hypotension = ibis.cases(
        (
            agg.hypotension_grade == 4,
            ibis.literal("; hypotension requiring ")
            + agg.vasopressors_max.cast("string")
            + " vasopressors ("
            + pressors
            + ") = grade 4",
        ),
        (
            agg.hypotension_grade == 3,
            ibis.literal("; hypotension")
            + lowest
            + " requiring one vasopressor ("
            + pressors
            + ") = grade 3",
        ),
        (
            agg.hypotension_grade == 2,
            ibis.literal("; hypotension")
            + lowest
            + " not requiring vasopressors"
            + ibis.ifelse(agg.fluid_bolus.fill_null(False), " (fluid bolus)", "")
            + " = grade 2",
        ),
        else_="",
    )
    flow = (ibis.literal(" ") + num_text(agg.oxygen_flow_max_l_min) + " L/min").fill_null("")
    hypoxia = ibis.ifelse(
        agg.hypoxia_grade > 0,
        ibis.literal("; hypoxia needing oxygen by ")
        + agg.device_label.fill_null(agg.oxygen_device)
        + flow
        + " = grade "
        + agg.hypoxia_grade.cast("string"),
        "",
    )
    trigger = (
        ibis.literal(" after ")
        + agg.trigger_agent
        + " "
        + num_text(agg.trigger_dose)
        + " "
        + agg.trigger_unit
        + " from D"
        + agg.trigger_day.cast("string")
    )
    managed = ibis.ifelse(
        agg.treatment.notnull(),
        ibis.literal("; managed with ") + agg.treatment,
        ibis.literal("; no corticosteroid or tocilizumab recorded"),
    )
    explanation = (
        ibis.literal("grade ")
        + agg.max_grade.cast("string")
        + f" CRS ({system}) from "
        + day_time_label(agg.onset_day, agg.onset_time)
        + " to "
        + day_time_label(agg.end_day, agg.end_time)
        + " ("
        + num_text(agg.duration_hours)
        + " h)"
        + trigger
        + ": "
        + fever
        + hypotension
        + hypoxia
        + managed
    )
    rule_id = ibis.cases(
        (agg.max_grade == 1, ibis.literal("astct_crs.fever.g1")),
        (agg.hypotension_grade >= agg.hypoxia_grade, agg._hyp_rule),
        else_=agg._oxy_rule,
    )
    inputs = json_text(
        {
            "fever_max_c": agg.fever_max_c,
            "sbp_min_mmhg": agg.sbp_min_mmhg,
            "vasopressors": agg.vasopressors,
            "vasopressors_max": agg.vasopressors_max,
            "oxygen_device": agg.oxygen_device,
            "oxygen_flow_max_l_min": agg.oxygen_flow_max_l_min,
            "fluid_bolus": agg.fluid_bolus,
            "trigger_day": agg.trigger_day,
            "treatment": agg.treatment,
        }
    )
    return agg.mutate(
        # hhmm() of a missing time gave ':'; kept so the output does not change.
        onset_time=agg.onset_time.fill_null(":"),
        end_time=agg.end_time.fill_null(":"),
        rule_id=rule_id,
        rule_version=ibis.literal(rule_version),
        inputs=inputs,
        explanation=explanation,
    ).select(*CRS_COLUMNS)


def crs_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_crs` (planned once, see :mod:`bvall.criteria.plans`)."""
    return crs_episodes(ws, settings).order_by(["patient_id", "episode"])
