"""ASTCT 2019 ICANS (adults): per-assessment grades and episodes from neurological assessments.

Each assessment is graded by ``data/astct_icans.toml``: the most severe of the ICE score,
depressed level of consciousness, seizure, motor findings and raised ICP / cerebral oedema.
Findings the investigator attributes to another cause are not ICANS, nor are findings outside the
exposure to the immune effector therapy (first dose to ``icans_attribution_days`` after the last).
Assessments with ICANS less than ``episode_gap_hours`` apart form one episode.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bvall.criteria.episodes import day_time_text, hhmm, islands, number_episodes
from bvall.criteria.exposure import dose_days, exposure_spans, treatment_during
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

ICANS_COLUMNS = (
    "patient_id",
    "episode",
    "onset_day",
    "onset_time",
    "end_day",
    "end_time",
    "duration_hours",
    "max_grade",
    "ice_min",
    "ice_grade",
    "consciousness_grade",
    "seizure_grade",
    "motor_grade",
    "raised_icp_grade",
    "symptoms",
    "treatment",
    "dexamethasone_mg",
    "rule_id",
    "rule_version",
    "inputs",
    "explanation",
)
_DOMAINS = ("ice", "consciousness", "seizure", "motor", "raised_icp")
_WORDS = {
    "ice": "ICE score",
    "consciousness": "depressed level of consciousness",
    "seizure": "seizure",
    "motor": "motor weakness",
    "raised_icp": "raised ICP / cerebral oedema",
}


def icans_records(ws: Workspace, settings: CriteriaSettings, doses: ir.Table) -> ir.Table:
    """Every neurological assessment with its domain grades, ``icans_grade`` and whether it can
    be ICANS (``attributable``: within the exposure window and not due to another cause)."""
    crit = load_sign_criteria("astct_icans")
    n = ws.with_day("neuro_assessments")
    n = n.filter(n.day.notnull())
    n = n.mutate(minute=minutes_of(n.time))
    n = n.mutate(clock=clock(n.day, n.minute))
    inputs = {
        "ice_score": n.ice_score,
        "consciousness": n.consciousness,
        "seizure": n.seizure,
        "motor_findings": n.motor_findings,
        "raised_icp": n.raised_icp,
    }
    grades = {}
    rules = {}
    for d in _DOMAINS:
        grades[d], rules[d] = domain_grade(crit, d, inputs, settings)
    worst = ibis.greatest(*grades.values())
    rule = ibis.cases(*((grades[d] == worst, rules[d]) for d in _DOMAINS), else_=None)
    agents = [str(a) for a in crit.file.param("immune_effector_agents")]
    spans = exposure_spans(doses, agents).rename(s_patient="patient_id")
    n = n.left_join(spans, n.patient_id == spans.s_patient).drop("s_patient")
    inside = (n.day >= n.first_day) & (n.day <= n.last_day + settings.icans_attribution_days)
    attributable = inside.fill_null(False) & ~n.other_cause.fill_null(False)
    return n.mutate(
        **{f"{d}_grade": grades[d] for d in _DOMAINS},
        icans_grade=worst,
        icans_rule=rule,
        attributable=attributable,
    )


def icans_episodes(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per ICANS episode (columns :data:`ICANS_COLUMNS`), computed once per workspace."""
    return ws.cached("icans", lambda: _icans_episodes(ws, settings))


def _icans_episodes(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    crit = load_sign_criteria("astct_icans")
    doses = dose_days(ws)
    rec = icans_records(ws, settings, doses)
    pos = rec.filter(rec.attributable & (rec.icans_grade > 0))
    pos = islands(pos, "clock", settings.episode_gap_hours * 60)
    agg = pos.group_by([pos.patient_id, pos.island]).aggregate(
        onset_day=pos.day.min(),
        _onset_clock=pos.clock.min(),
        _onset_minute=arg_min(pos.minute, pos.clock),
        end_day=pos.day.max(),
        _end_clock=pos.clock.max(),
        _end_minute=arg_max(pos.minute, pos.clock),
        max_grade=pos.icans_grade.max(),
        ice_min=pos.ice_score.min(),
        **{f"{d}_grade": pos[f"{d}_grade"].max() for d in _DOMAINS},
        symptoms=arg_max(pos.symptoms, pos.icans_grade * 100000 - pos.clock),
        rule_id=arg_max(pos.icans_rule, pos.icans_grade * 100000 - pos.clock),
    )
    agg = number_episodes(agg, "_onset_clock")
    given = treatment_during(agg, doses, ["dexamethasone", "prednisone", "tocilizumab"])
    agg = agg.left_join(
        given, [agg.patient_id == given.e_patient, agg.episode == given.e_episode]
    ).drop("e_patient", "e_episode")
    hours = ((agg._end_clock - agg._onset_clock) / 60.0).round(1)
    parts = [
        ibis.ifelse(
            agg[f"{d}_grade"] > 0,
            (
                ibis.literal("; ICE score ") + agg.ice_min.cast("string")
                if d == "ice"
                else ibis.literal(f"; {_WORDS[d]}")
            )
            + " = grade "
            + agg[f"{d}_grade"].cast("string"),
            "",
        )
        for d in _DOMAINS
    ]
    findings = parts[0]
    for p in parts[1:]:
        findings = findings + p
    explanation = (
        ibis.literal("grade ")
        + agg.max_grade.cast("string")
        + f" ICANS ({crit.file.system}) from "
        + day_time_text(agg.onset_day, agg._onset_minute)
        + " to "
        + day_time_text(agg.end_day, agg._end_minute)
        + " ("
        + num_text(hours)
        + " h)"
        + ibis.ifelse(agg.symptoms.notnull(), ibis.literal(", ") + agg.symptoms, "")
        + findings.re_replace(r"^; ", ": ")
        + ibis.ifelse(
            agg.treatment.notnull(),
            ibis.literal("; managed with ") + agg.treatment,
            ibis.literal("; no corticosteroid recorded"),
        )
    )
    inputs = json_text(
        {
            "ice_min": agg.ice_min,
            **{f"{d}_grade": agg[f"{d}_grade"] for d in _DOMAINS},
            "symptoms": agg.symptoms,
        }
    )
    return agg.mutate(
        onset_time=hhmm(agg._onset_minute),
        end_time=hhmm(agg._end_minute),
        duration_hours=hours,
        rule_version=ibis.literal(crit.file.rule_version),
        inputs=inputs,
        explanation=explanation,
    ).select(*ICANS_COLUMNS)


def icans_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_icans` (planned once, see :mod:`bvall.criteria.plans`)."""
    return icans_episodes(ws, settings).order_by(["patient_id", "episode"])
