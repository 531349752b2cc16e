"""NCCN cytogenetic and molecular risk group per patient (``data/nccn_risk.toml``).

Poor risk when any poor-risk lesion (or a complex karyotype) is recorded, whatever standard-risk
lesions coexist; standard risk when profiling was performed and none was found; unknown when
profiling was partial, not done or not recorded and no poor-risk lesion is known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import ibis
import ibis.expr.types as ir

from bvall.cohort.vocab import vocabulary
from bvall.criteria.expressions import Workspace, constant_table, json_text
from bvall.criteria.rules import RuleFile, check_row, check_unique, load_rule_file, parse_when
from bvall.criteria.settings import CriteriaSettings
from bvall.errors import SpecError

RISK_COLUMNS = (
    "patient_id",
    "risk_group",
    "poor_risk_factors",
    "standard_risk_factors",
    "unclassified_findings",
    "karyotype",
    "genetic_profiling",
    "rule_id",
    "rule_version",
    "inputs",
    "explanation",
)
GROUPS = ("standard", "poor", "unclassified")


@dataclass(frozen=True)
class RiskRow:
    kind: str  # lesion or karyotype
    code: str
    group: str
    published: str
    when: tuple[str, str] | None
    source: str

    def applies(self, settings: CriteriaSettings) -> bool:
        return self.when is None or str(getattr(settings, self.when[0])) == self.when[1]


@cache
def load_risk_table() -> tuple[RuleFile, tuple[RiskRow, ...]]:
    rf = load_rule_file("nccn_risk")
    return rf, build_risk_table(rf)


def _key(kind: str) -> Callable[[Mapping[str, Any]], object]:
    return lambda r: (r.get(kind), r.get("when", ""))


def build_risk_table(rf: RuleFile) -> tuple[RiskRow, ...]:
    rows: list[RiskRow] = []
    for kind, vocab_name in (("lesion", "genetic_lesion"), ("karyotype", "karyotype")):
        vocab = vocabulary(vocab_name)
        raw = rf.rows(kind)
        where0 = f"nccn_risk.toml [[{kind}]]"
        check_unique(raw, _key(kind), where0)
        for i, r in enumerate(raw):
            where = f"{where0} row {i + 1}"
            check_row(
                r,
                where,
                {kind: str, "group": str, "published": str, "source": str},
                {"when": str, "comment": str},
            )
            if r[kind] not in vocab:
                raise SpecError(f"{where}: {r[kind]!r} is not in the {vocab_name} vocabulary.")
            if r["group"] not in GROUPS:
                raise SpecError(f"{where}: group must be one of {', '.join(GROUPS)}.")
            when = parse_when(r["when"], where) if "when" in r else None
            rows.append(RiskRow(kind, r[kind], r["group"], r["published"], when, r["source"]))
    return tuple(rows)


def _group_table(settings: CriteriaSettings, kind: str) -> ir.Table:
    _, rows = load_risk_table()
    chosen = {r.code: r.group for r in rows if r.kind == kind and r.applies(settings)}
    return constant_table({"g_code": list(chosen), "g_group": list(chosen.values())})


def risk_expression(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """One row per patient (columns :data:`RISK_COLUMNS`)."""
    rf, _ = load_risk_table()
    findings = ws.table("genetic_findings")
    groups = _group_table(settings, "lesion")
    f = findings.left_join(groups, findings.lesion == groups.g_code).select(
        findings.patient_id,
        group=groups.g_group.fill_null("unclassified"),
        label=findings.lesion
        + ibis.ifelse(
            findings.detail.notnull() & (findings.detail != findings.lesion),
            ibis.literal(" (") + findings.detail + ")",
            "",
        ),
    )
    label = f.label
    per = (
        f.group_by(f.patient_id)
        .aggregate(
            poor=label.collect(where=f.group == "poor", distinct=True).sort().join(", "),
            standard=label.collect(where=f.group == "standard", distinct=True).sort().join(", "),
            other=label.collect(where=f.group == "unclassified", distinct=True).sort().join(", "),
        )
        .rename(f_patient="patient_id")
    )
    patients = ws.table("patients")
    kgroups = _group_table(settings, "karyotype")
    kpoor = (kgroups.g_group == "poor").fill_null(False)
    # The poor-risk text is computed in the join, so the statement reads it as a column.
    p = (
        patients.left_join(per, patients.patient_id == per.f_patient)
        .left_join(kgroups, patients.karyotype == kgroups.g_code)
        .select(
            patients.patient_id,
            patients.karyotype,
            patients.genetic_profiling,
            per.standard,
            per.other,
            poor=ibis.cases(
                (kpoor & per.poor.notnull(), per.poor + ", karyotype " + patients.karyotype),
                (kpoor, ibis.literal("karyotype ") + patients.karyotype),
                else_=per.poor,
            ),
        )
    )
    poor_text = p.poor
    profiled = p.genetic_profiling == "performed"
    group = ibis.cases(
        (poor_text.notnull(), "poor"),
        (profiled.fill_null(False), "standard"),
        else_="unknown",
    )
    hypodiploid_note = ibis.ifelse(
        (p.karyotype == "hypodiploid") & ~poor_text.fill_null("").contains("hypodiploidy"),
        "; karyotype hypodiploid without a chromosome count (< 44 not established)",
        "",
    )
    explanation = (
        ibis.cases(
            (
                group == "poor",
                ibis.literal("poor risk: ")
                + poor_text
                + ibis.ifelse(
                    p.standard.notnull(), ibis.literal(" (standard-risk: ") + p.standard + ")", ""
                ),
            ),
            (
                group == "standard",
                ibis.literal("standard risk: profiling performed, no poor-risk lesion")
                + ibis.ifelse(p.standard.notnull(), ibis.literal(" (") + p.standard + ")", ""),
            ),
            else_=ibis.literal("unknown: no poor-risk lesion recorded and profiling ")
            + p.genetic_profiling.fill_null("not recorded"),
        )
        + hypodiploid_note
        + f", {rf.system}"
    )
    return p.select(
        "patient_id",
        risk_group=group,
        poor_risk_factors=poor_text,
        standard_risk_factors=p.standard,
        unclassified_findings=p.other,
        karyotype=p.karyotype,
        genetic_profiling=p.genetic_profiling,
        rule_id=ibis.literal("nccn_risk.") + group,
        rule_version=ibis.literal(rf.rule_version),
        inputs=json_text(
            {
                "poor": poor_text,
                "standard": p.standard,
                "unclassified": p.other,
                "karyotype": p.karyotype,
                "genetic_profiling": p.genetic_profiling,
            }
        ),
        explanation=explanation,
    )


def risk_query(ws: Workspace, settings: CriteriaSettings) -> ir.Table:
    """The query of :func:`derive_risk` (planned once, see :mod:`bvall.criteria.plans`)."""
    return risk_expression(ws, settings).order_by("patient_id")
