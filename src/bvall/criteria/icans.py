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

from bvall.criteria.episodes import day_time_label, islands, number_episodes, timed_records
from bvall.criteria.exposure import dose_days, exposure_spans, treatment_during
from bvall.criteria.expressions import (
    Workspace,
    arg_max,
    arg_min,
    json_text,
    num_text,
)
from bvall.criteria.settings import CriteriaSettings
from bvall.criteria.sign_criteria import grade_records, load_sign_criteria

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


_FINDINGS = ("ice_score", "consciousness", "seizure", "motor_findings", "raised_icp")


def icans_records(ws: Workspace, settings: CriteriaSettings, doses: ir.Table) -> ir.Table:
    """Every neurological assessment (``patient_id, day, time, clock``, ``ice_score``,
    ``symptoms``) with its domain grades (``<domain>_grade``), ``icans_grade``, ``icans_rule`` and
    whether it can be ICANS (``attributable``: within the exposure window and not due to another
    cause). The other findings are read through their grades only."""
    crit = load_sign_criteria("astct_icans")
    n = timed_records(ws, "neuro_assessments", (*_FINDINGS, "other_cause", "symptoms"))
    n = grade_records(crit, settings, n, _FINDINGS, lambda t: {}, _DOMAINS, worst="icans")
    agents = [str(a) for a in crit.file.param("immune_effector_agents")]
    spans = exposure_spans(doses, agents).rename(s_patient="patient_id")
    joined = n.left_join(spans, n.patient_id == spans.s_patient)
    last = joined.last_day + settings.icans_attribution_days
    inside = (joined.day >= joined.first_day) & (joined.day <= last)
    attributable = inside.fill_null(False) & ~joined.other_cause.fill_null(False)
    kept = [c for c in n.columns if c not in _FINDINGS[1:] and c != "other_cause"]
    return joined.select(*kept, attributable=attributable)


def icans_episodes(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per ICANS episode (columns :data:`ICANS_COLUMNS`), computed once per workspace."""
    return ws.cached("icans", lambda: _icans_episodes(ws, settings))


def _icans_episodes(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    crit = load_sign_criteria("astct_icans")
    doses = dose_days(ws)
    rec = icans_records(ws, settings, doses)
    pos = rec.filter(rec.attributable & (rec.icans_grade > 0))
    pos = islands(pos, "clock", settings.episode_gap_hours * 60)
    worst_first = pos.icans_grade * 100000 - pos.clock
    agg = pos.group_by([pos.patient_id, pos.island]).aggregate(
        onset_day=pos.day.min(),
        _onset_clock=pos.clock.min(),
        onset_time=arg_min(pos.time, pos.clock),
        end_day=pos.day.max(),
        end_time=arg_max(pos.time, pos.clock),
        duration_hours=((pos.clock.max() - pos.clock.min()) / 60.0).round(1),
        max_grade=pos.icans_grade.max(),
        ice_min=pos.ice_score.min(),
        **{f"{d}_grade": pos[f"{d}_grade"].max() for d in _DOMAINS},
        symptoms=arg_max(pos.symptoms, worst_first),
        rule_id=arg_max(pos.icans_rule, worst_first),
    )
    agg = number_episodes(agg, "_onset_clock")
    used = doses.select(
        "patient_id", "agent", "dose", "dose_unit", "status", "start_day", "end_day"
    )
    given = treatment_during(agg, used, ["dexamethasone", "prednisone", "tocilizumab"])
    agg = agg.left_join(given, [agg.patient_id == given.e_patient, agg.episode == given.e_episode])
    agg = agg.select(*(c for c in agg.columns if c in ICANS_COLUMNS))
    findings = [
        (
            ibis.literal("; ICE score ") + agg.ice_min.cast("string")
            if d == "ice"
            else ibis.literal(f"; {_WORDS[d]}")
        )
        + " = grade "
        + agg[f"{d}_grade"].cast("string")
        for d in _DOMAINS
    ]
    shown = [
        ibis.ifelse(agg[f"{d}_grade"] > 0, p, "") for d, p in zip(_DOMAINS, findings, strict=True)
    ]
    text = shown[0]
    for part in shown[1:]:
        text = text + part
    explanation = (
        ibis.literal("grade ")
        + agg.max_grade.cast("string")
        + f" ICANS ({crit.file.system}) from "
        + day_time_label(agg.onset_day, agg.onset_time)
        + " to "
        + day_time_label(agg.end_day, agg.end_time)
        + " ("
        + num_text(agg.duration_hours)
        + " h)"
        + (ibis.literal(", ") + agg.symptoms).fill_null("")
        + text.re_replace(r"^; ", ": ")
        + (ibis.literal("; managed with ") + agg.treatment).fill_null(
            "; no corticosteroid recorded"
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
        # hhmm() of a missing time gave ':'; kept so the output does not change.
        onset_time=agg.onset_time.fill_null(":"),
        end_time=agg.end_time.fill_null(":"),
        rule_version=ibis.literal(crit.file.rule_version),
        inputs=inputs,
        explanation=explanation,
    ).select(*ICANS_COLUMNS)


def icans_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_icans` (planned once, see :mod:`bvall.criteria.plans`)."""
    return icans_episodes(ws, settings).order_by(["patient_id", "episode"])
