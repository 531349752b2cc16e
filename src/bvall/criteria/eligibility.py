"""The seed paper's eligibility criteria per patient (``data/eligibility.toml``).

Each criterion is met, not met or unknown (an input is missing); a patient is eligible when every
inclusion criterion is met and no exclusion criterion is met, not eligible when one fails, and
unknown otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import ibis
import ibis.expr.types as ir

from bvall.criteria.expressions import Workspace, arg_min, is_unknown, json_text
from bvall.criteria.rules import RuleFile, check_row, check_unique, load_rule_file
from bvall.criteria.settings import CriteriaSettings
from bvall.errors import SpecError

ELIGIBILITY_COLUMNS = (
    "patient_id",
    "eligible",
    "criteria_met",
    "criteria_not_met",
    "criteria_unknown",
    "rule_id",
    "rule_version",
    "inputs",
    "explanation",
)
FIELDS = (
    "age_years",
    "diagnosis",
    "cd19_positive",
    "induction_regimen",
    "induction_start_date",
)
COMPARATORS = (">=", "in", "is_true", "between_settings")


@dataclass(frozen=True)
class EligibilityCriterion:
    id: str
    kind: str
    published: str
    field: str
    comparator: str
    value: float | None
    codes: tuple[str, ...]
    value_settings: tuple[str, ...]
    source: str


@cache
def load_eligibility() -> tuple[RuleFile, tuple[EligibilityCriterion, ...]]:
    rf = load_rule_file("eligibility")
    return rf, build_eligibility(rf)


def build_eligibility(rf: RuleFile) -> tuple[EligibilityCriterion, ...]:
    raw = rf.rows("criterion")
    where0 = "eligibility.toml [[criterion]]"
    check_unique(raw, lambda r: r.get("id"), where0)
    out = []
    settings = CriteriaSettings()
    for i, r in enumerate(raw):
        where = f"{where0} row {i + 1}"
        check_row(
            r,
            where,
            {
                "id": str,
                "kind": str,
                "published": str,
                "field": str,
                "comparator": str,
                "source": str,
            },
            {"value": (int, float), "codes": list, "value_settings": list, "comment": str},
        )
        if r["kind"] not in ("inclusion", "exclusion"):
            raise SpecError(f"{where}: kind must be inclusion or exclusion.")
        if r["field"] not in FIELDS:
            raise SpecError(f"{where}: field {r['field']!r} is not one of {', '.join(FIELDS)}.")
        if r["comparator"] not in COMPARATORS:
            raise SpecError(f"{where}: comparator must be one of {', '.join(COMPARATORS)}.")
        if r["comparator"] == ">=" and "value" not in r:
            raise SpecError(f"{where}: '>=' needs a value.")
        if r["comparator"] == "in" and not r.get("codes"):
            raise SpecError(f"{where}: 'in' needs codes.")
        if r["comparator"] == "between_settings":
            names = r.get("value_settings", [])
            if len(names) != 2 or not all(hasattr(settings, n) for n in names):
                raise SpecError(f"{where}: between_settings needs two setting names.")
        out.append(
            EligibilityCriterion(
                id=r["id"],
                kind=r["kind"],
                published=r["published"],
                field=r["field"],
                comparator=r["comparator"],
                value=float(r["value"]) if "value" in r else None,
                codes=tuple(r.get("codes", [])),
                value_settings=tuple(r.get("value_settings", [])),
                source=r["source"],
            )
        )
    return tuple(out)


def _holds(c: EligibilityCriterion, t: ir.Table, settings: CriteriaSettings) -> ir.BooleanValue:
    x = t[c.field]
    if c.comparator == ">=":
        return x >= c.value
    if c.comparator == "in":
        return x.isin(list(c.codes))
    if c.comparator == "is_true":
        return x == True  # noqa: E712 (keeps NULL as unknown)
    start, end = (getattr(settings, n) for n in c.value_settings)
    assert isinstance(start, dt.date)
    assert isinstance(end, dt.date)
    return (x >= start) & (x <= end)


def eligibility_expression(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per patient (columns :data:`ELIGIBILITY_COLUMNS`)."""
    rf, criteria = load_eligibility()
    courses = ws.table("treatment_courses")
    ind = courses.filter(courses.course_type == "induction")
    first = (
        ind.group_by("patient_id")
        .aggregate(
            induction_regimen=arg_min(ind.regimen, ind.course_number.fill_null(0)),
            induction_start_date=ind.start_date.min(),
        )
        .rename(i_patient="patient_id")
    )
    p = ws.table("patients")
    t = p.left_join(first, p.patient_id == first.i_patient).drop("i_patient")
    met, failed, unknown = [], [], []
    for c in criteria:
        holds = _holds(c, t, settings)
        ok = holds if c.kind == "inclusion" else ~holds
        label = ibis.literal(f"{c.id} ({c.published})")
        met.append(ibis.ifelse(ok.fill_null(False), label, ibis.null("string")))
        failed.append(ibis.ifelse((~ok).fill_null(False), label, ibis.null("string")))
        unknown.append(ibis.ifelse(is_unknown(ok), ibis.literal(c.id), ibis.null("string")))
    sep = ibis.literal("; ")
    t = t.mutate(
        criteria_met=sep.join(met).nullif(""),
        criteria_not_met=sep.join(failed).nullif(""),
        criteria_unknown=ibis.literal(", ").join(unknown).nullif(""),
    )
    eligible = ibis.cases(
        (t.criteria_not_met.notnull(), ibis.literal(False)),
        (t.criteria_unknown.notnull(), ibis.null("boolean")),
        else_=ibis.literal(True),
    )
    explanation = (
        ibis.cases(
            (
                eligible.isnull(),
                ibis.literal("eligibility unknown: no criterion fails, but unknown: ")
                + t.criteria_unknown,
            ),
            (~eligible, ibis.literal("not eligible: fails ") + t.criteria_not_met),
            else_=ibis.literal(f"eligible: all {len(criteria)} criteria met"),
        )
        + f" ({rf.system})"
    )
    return t.select(
        "patient_id",
        eligible=eligible,
        criteria_met=t.criteria_met,
        criteria_not_met=t.criteria_not_met,
        criteria_unknown=t.criteria_unknown,
        rule_id=ibis.literal("eligibility.seed_paper"),
        rule_version=ibis.literal(rf.rule_version),
        inputs=json_text(
            {
                "age_years": t.age_years,
                "diagnosis": t.diagnosis,
                "cd19_positive": t.cd19_positive,
                "induction_regimen": t.induction_regimen,
                "induction_start_date": t.induction_start_date.cast("string"),
            }
        ),
        explanation=explanation,
    )


def eligibility_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_eligibility` (planned once, see :mod:`bvall.criteria.plans`)."""
    return eligibility_expression(ws, settings).order_by("patient_id")
