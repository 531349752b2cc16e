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

import ibis
import ibis.expr.types as ir

from bvall.cohort.vocab import vocabulary
from bvall.criteria.episodes import day_time_text, hhmm, islands, number_episodes
from bvall.criteria.exposure import dose_days, effector_steps, treatment_during
from bvall.criteria.expressions import (
    Workspace,
    arg_max,
    arg_min,
    clock,
    json_text,
    minutes_of,
    num_text,
)
from bvall.criteria.settings import CriteriaSettings
from bvall.criteria.sign_criteria import domain_grade, load_sign_criteria

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


def crs_records(ws: Workspace, settings: CriteriaSettings, doses: ir.Table) -> ir.Table:
    """Every vital-signs record with its fever, hypotension and hypoxia grades and, for fevers,
    the immune effector step it follows (``trigger_day``; NULL outside the attribution window)."""
    crit = load_sign_criteria("astct_crs")
    v = ws.with_day("vitals")
    v = v.filter(v.day.notnull())
    v = v.mutate(minute=minutes_of(v.time))
    v = v.mutate(clock=clock(v.day, v.minute))
    items = v.vasopressors.split(";")
    total = items.length().fill_null(0)
    has_vasopressin = items.contains("vasopressin").fill_null(False).cast("int64")
    non_vasopressin = total - has_vasopressin
    counted = non_vasopressin
    if settings.vasopressin_alone == "counts_as_vasopressor":
        counted = non_vasopressin + has_vasopressin
    inputs = {
        "temperature_c": v.temperature_c,
        "sbp_mmhg": v.sbp_mmhg,
        "fluid_bolus": v.fluid_bolus,
        "vasopressors_counted": counted,
        "non_vasopressin_vasopressors": non_vasopressin,
        "vasopressors_any": total,
        "oxygen_device": v.oxygen_device,
        "oxygen_flow_l_min": v.oxygen_flow_l_min,
    }
    fever_g, _ = domain_grade(crit, "fever", inputs, settings)
    hyp_g, hyp_rule = domain_grade(crit, "hypotension", inputs, settings)
    oxy_g, oxy_rule = domain_grade(crit, "hypoxia", inputs, settings)
    v = v.mutate(
        vasopressors_counted=counted,
        fever=fever_g >= 1,
        hypotension_grade=hyp_g,
        hypotension_rule=hyp_rule,
        hypoxia_grade=oxy_g,
        hypoxia_rule=oxy_rule,
    )
    agents = [str(a) for a in crit.file.param("immune_effector_agents")]
    steps = effector_steps(doses, agents)
    span = settings.crs_attribution_days
    hits = v.filter(v.fever).join(
        steps,
        [
            v.patient_id == steps.patient_id,
            steps.step_day <= v.day,
            steps.step_day + span >= v.day,
        ],
    )
    trig = hits.group_by([hits.patient_id, hits.clock]).aggregate(
        trigger_day=hits.step_day.max(),
        trigger_agent=arg_max(hits.agent, hits.step_day),
        trigger_dose=arg_max(hits.step_dose, hits.step_day),
        trigger_unit=arg_max(hits.step_unit, hits.step_day),
    )
    trig = trig.rename(t_patient="patient_id", t_clock="clock")
    out = v.left_join(trig, [v.patient_id == trig.t_patient, v.clock == trig.t_clock])
    return out.drop("t_patient", "t_clock")


def crs_episodes(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per CRS episode (columns :data:`CRS_COLUMNS`), computed once per workspace."""
    return ws.cached("crs", lambda: _crs_episodes(ws, settings))


def _crs_episodes(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    crit = load_sign_criteria("astct_crs")
    doses = dose_days(ws)
    rec = crs_records(ws, settings, doses)
    signs = rec.filter(rec.fever | (rec.hypotension_grade > 0) | (rec.hypoxia_grade > 0))
    signs = islands(signs, "clock", settings.episode_gap_hours * 60)
    onset_row = signs.fever & signs.trigger_day.notnull()
    per_island = ibis.window(group_by=[signs.patient_id, signs.island])
    signs = signs.mutate(
        _onset=ibis.ifelse(onset_row, signs.clock, ibis.null("int64")).min().over(per_island),
        _onset_day=ibis.ifelse(onset_row, signs.day, ibis.null("int64")).min().over(per_island),
    )
    ep = signs.filter(signs._onset.notnull() & (signs.clock >= signs._onset))

    masking = [str(a) for a in crit.file.param("fever_masking_agents")]
    m = doses.filter(doses.agent.isin(masking) & (doses.status == "given"))
    masked_keys = (
        ep.join(
            m,
            [ep.patient_id == m.patient_id, m.start_day <= ep.day, m.end_day >= ep._onset_day],
        )
        .select(k_patient=ep.patient_id, k_clock=ep.clock)
        .distinct()
        .mutate(_dose_masked=ibis.literal(True))
    )
    ep = ep.left_join(
        masked_keys, [ep.patient_id == masked_keys.k_patient, ep.clock == masked_keys.k_clock]
    ).drop("k_patient", "k_clock")
    masked = ep._dose_masked.fill_null(False) | ep.antipyretic_given.fill_null(False)
    signs_grade = ibis.greatest(ep.hypotension_grade, ep.hypoxia_grade)
    row_grade = ibis.cases(
        (ep.fever, ibis.greatest(signs_grade, ibis.literal(1, "int64"))),
        (masked, signs_grade),
        else_=ibis.literal(0, "int64"),
    )
    counts = ep.fever | masked
    ep = ep.mutate(
        row_grade=row_grade,
        _hyp=ibis.ifelse(counts, ep.hypotension_grade, 0),
        _oxy=ibis.ifelse(counts, ep.hypoxia_grade, 0),
    )
    graded = ep.filter(ep.row_grade > 0)
    agg = graded.group_by([graded.patient_id, graded.island]).aggregate(
        onset_day=graded.day.min(),
        _onset_clock=graded.clock.min(),
        _onset_minute=arg_min(graded.minute, graded.clock),
        end_day=graded.day.max(),
        _end_clock=graded.clock.max(),
        _end_minute=arg_max(graded.minute, graded.clock),
        max_grade=graded.row_grade.max(),
        fever_max_c=graded.temperature_c.max(),
        sbp_min_mmhg=graded.sbp_mmhg.min(),
        hypotension_grade=graded._hyp.max(),
        hypoxia_grade=graded._oxy.max(),
        vasopressors=graded.vasopressors.collect(distinct=True).join(";"),
        vasopressors_max=graded.vasopressors_counted.max(),
        oxygen_device=arg_max(
            graded.oxygen_device, graded._oxy * 1000 + graded.oxygen_flow_l_min.fill_null(0)
        ),
        oxygen_flow_max_l_min=graded.oxygen_flow_l_min.max(),
        fluid_bolus=graded.fluid_bolus.any(),
        trigger_agent=arg_min(graded.trigger_agent, graded.clock),
        trigger_day=arg_min(graded.trigger_day, graded.clock),
        trigger_dose=arg_min(graded.trigger_dose, graded.clock),
        trigger_unit=arg_min(graded.trigger_unit, graded.clock),
        _hyp_rule=arg_max(graded.hypotension_rule, graded._hyp),
        _oxy_rule=arg_max(graded.hypoxia_rule, graded._oxy),
    )
    agg = number_episodes(agg, "_onset_clock")
    given = treatment_during(agg, doses, [*masking, "tocilizumab"])
    agg = agg.left_join(
        given, [agg.patient_id == given.e_patient, agg.episode == given.e_episode]
    ).drop("e_patient", "e_episode")
    return _finish(agg, crit.file.rule_version, crit.file.system)


def _device_label(device: ir.StringValue) -> ir.StringValue:
    vocab = vocabulary("oxygen_device")
    return ibis.cases(*((device == t.code, t.label.lower()) for t in vocab.terms), else_=device)


def _finish(agg: ir.Table, rule_version: str, system: str) -> ir.Table:
    onset = day_time_text(agg.onset_day, agg._onset_minute)
    end = day_time_text(agg.end_day, agg._end_minute)
    hours = ((agg._end_clock - agg._onset_clock) / 60.0).round(1)
    pressors = agg.vasopressors.replace(";", ", ")
    g = agg.max_grade.cast("string")
    fever = ibis.ifelse(
        agg.fever_max_c >= 38.0,
        ibis.literal("fever up to ") + num_text(agg.fever_max_c) + " °C",
        ibis.literal("no fever after antipyretic or anti-cytokine therapy"),
    )
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
            + ibis.ifelse(
                agg.sbp_min_mmhg.notnull(),
                ibis.literal(" (lowest SBP ") + num_text(agg.sbp_min_mmhg) + " mmHg)",
                "",
            )
            + " requiring one vasopressor ("
            + pressors
            + ") = grade 3",
        ),
        (
            agg.hypotension_grade == 2,
            ibis.literal("; hypotension")
            + ibis.ifelse(
                agg.sbp_min_mmhg.notnull(),
                ibis.literal(" (lowest SBP ") + num_text(agg.sbp_min_mmhg) + " mmHg)",
                "",
            )
            + " not requiring vasopressors"
            + ibis.ifelse(agg.fluid_bolus.fill_null(False), " (fluid bolus)", "")
            + " = grade 2",
        ),
        else_="",
    )
    flow = ibis.ifelse(
        agg.oxygen_flow_max_l_min.notnull(),
        ibis.literal(" ") + num_text(agg.oxygen_flow_max_l_min) + " L/min",
        "",
    )
    hypoxia = ibis.ifelse(
        agg.hypoxia_grade > 0,
        ibis.literal("; hypoxia needing oxygen by ")
        + _device_label(agg.oxygen_device)
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
        + g
        + f" CRS ({system}) from "
        + onset
        + " to "
        + end
        + " ("
        + num_text(hours)
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
        onset_time=hhmm(agg._onset_minute),
        end_time=hhmm(agg._end_minute),
        duration_hours=hours,
        rule_id=rule_id,
        rule_version=ibis.literal(rule_version),
        inputs=inputs,
        explanation=explanation,
    ).select(*CRS_COLUMNS)


def crs_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_crs` (planned once, see :mod:`bvall.criteria.plans`)."""
    return crs_episodes(ws, settings).order_by(["patient_id", "episode"])
