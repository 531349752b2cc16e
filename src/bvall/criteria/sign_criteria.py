"""Per-record criteria (ASTCT CRS and ICANS): rows that grade one domain of one record.

A row grades one parameter (fever, hypotension, hypoxia) or domain (ICE, consciousness, seizure,
motor, raised ICP) from one input of a vital-signs or neurological record, by a comparison
(``comparator`` with ``value`` or ``value_setting``), a list of vocabulary ``codes``, or an oxygen
``devices`` list with an optional flow condition. :func:`domain_grade` turns the rows of one
domain into an Ibis expression: the most severe grade whose row holds, else 0.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import ibis
import ibis.expr.types as ir

from bvall.cohort.vocab import vocabulary
from bvall.criteria.rules import RuleFile, check_row, check_unique, load_rule_file
from bvall.criteria.settings import CriteriaSettings
from bvall.errors import SpecError

#: Inputs a row may read, with the vocabulary its codes come from (None: numeric or yes/no).
INPUTS: dict[str, str | None] = {
    "temperature_c": None,
    "sbp_mmhg": None,
    "fluid_bolus": None,
    "vasopressors_counted": None,
    "non_vasopressin_vasopressors": None,
    "vasopressors_any": None,
    "oxygen_device": "oxygen_device",
    "ice_score": None,
    "consciousness": "consciousness",
    "seizure": "seizure",
    "motor_findings": "motor_findings",
    "raised_icp": "raised_icp",
}

_KEYS: dict[str, type | tuple[type, ...]] = {
    "grade": int,
    "published": str,
    "input": str,
    "source": str,
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "parameter": str,
    "domain": str,
    "clause": str,
    "comparator": str,
    "value": (int, float),
    "value_setting": str,
    "unit": str,
    "codes": list,
    "devices": list,
    "flow_comparator": str,
    "flow_value": (int, float),
    "comment": str,
}


@dataclass(frozen=True)
class SignCriterion:
    """One grade of one domain, read from one input of a record."""

    domain: str
    grade: int
    clause: str
    published: str
    input: str
    comparator: str | None
    value: float | None
    value_setting: str | None
    unit: str | None
    codes: tuple[str, ...]
    flow: tuple[str, float] | None
    source: str
    comment: str
    file_id: str

    @property
    def rule_id(self) -> str:
        suffix = f".{self.clause}" if self.clause else ""
        return f"{self.file_id}.{self.domain}.g{self.grade}{suffix}"

    def threshold(self, settings: CriteriaSettings) -> float:
        if self.value_setting is not None:
            return float(getattr(settings, self.value_setting))
        assert self.value is not None
        return self.value


@dataclass(frozen=True)
class SignCriteria:
    file: RuleFile
    rows: tuple[SignCriterion, ...]

    def domain(self, name: str) -> tuple[SignCriterion, ...]:
        return tuple(sorted((r for r in self.rows if r.domain == name), key=lambda r: -r.grade))

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.domain for r in self.rows))


def _build(file: RuleFile) -> SignCriteria:
    raw = file.rows("criterion")
    where0 = f"{file.id}.toml [[criterion]]"
    check_unique(
        raw,
        lambda r: (r.get("parameter") or r.get("domain"), r.get("grade"), r.get("clause", "")),
        where0,
    )
    settings = CriteriaSettings()
    rows: list[SignCriterion] = []
    for i, r in enumerate(raw):
        where = f"{where0} row {i + 1}"
        check_row(r, where, _KEYS, _OPTIONAL)
        domain = r.get("parameter") or r.get("domain")
        if not domain:
            raise SpecError(f"{where}: a row needs 'parameter' or 'domain'.")
        if r["input"] not in INPUTS:
            raise SpecError(
                f"{where}: input {r['input']!r} is not known; inputs: {', '.join(INPUTS)}."
            )
        if not 1 <= r["grade"] <= 4:
            raise SpecError(f"{where}: grade must be 1-4.")
        codes = tuple(r.get("codes", r.get("devices", [])))
        vocab_name = INPUTS[r["input"]]
        comparator = r.get("comparator")
        if codes:
            if vocab_name is None:
                raise SpecError(f"{where}: input {r['input']} takes no codes.")
            vocab = vocabulary(vocab_name)
            unknown = [c for c in codes if c not in vocab]
            if unknown:
                raise SpecError(f"{where}: {unknown} are not in the {vocab_name} vocabulary.")
        elif comparator not in ("<", "<=", ">", ">=", "is_true"):
            raise SpecError(f"{where}: a row needs codes/devices or a comparator.")
        if comparator in ("<", "<=", ">", ">="):
            if ("value" in r) == ("value_setting" in r):
                raise SpecError(f"{where}: give exactly one of value and value_setting.")
            if "value_setting" in r and not hasattr(settings, r["value_setting"]):
                raise SpecError(f"{where}: value_setting {r['value_setting']!r} is not a setting.")
        flow = None
        if "flow_comparator" in r:
            if r["flow_comparator"] not in ("<", "<=", ">", ">=") or "flow_value" not in r:
                raise SpecError(f"{where}: flow_comparator needs a comparison and flow_value.")
            flow = (r["flow_comparator"], float(r["flow_value"]))
        rows.append(
            SignCriterion(
                domain=domain,
                grade=r["grade"],
                clause=r.get("clause", ""),
                published=r["published"],
                input=r["input"],
                comparator=comparator,
                value=float(r["value"]) if "value" in r else None,
                value_setting=r.get("value_setting"),
                unit=r.get("unit"),
                codes=codes,
                flow=flow,
                source=r["source"],
                comment=r.get("comment", ""),
                file_id=file.id,
            )
        )
    _check_monotone(rows, where0, settings)
    return SignCriteria(file, tuple(rows))


def _check_monotone(rows: list[SignCriterion], where: str, settings: CriteriaSettings) -> None:
    groups: dict[tuple[str, str, str | None], list[SignCriterion]] = defaultdict(list)
    for r in rows:
        if r.comparator in ("<", "<=", ">", ">=") and not r.codes:
            groups[(r.domain, r.input, r.comparator)].append(r)
    for rs in groups.values():
        rs.sort(key=lambda r: r.grade)
        for milder, worse in itertools.pairwise(rs):
            a, b = milder.threshold(settings), worse.threshold(settings)
            ok = b > a if milder.comparator in (">", ">=") else b < a
            if not ok:
                raise SpecError(
                    f"{where}: thresholds of {milder.domain} are not monotone (grade "
                    f"{milder.grade} {milder.comparator} {a:g}, grade {worse.grade} "
                    f"{worse.comparator} {b:g})."
                )
    # A code may appear at two grades only when a flow condition tells them apart
    # (low-flow cannula <= 6 L/min is grade 2, > 6 L/min grade 3).
    seen: dict[tuple[str, str], SignCriterion] = {}
    for r in rows:
        for code in r.codes:
            other = seen.get((r.domain, code))
            if (
                other is not None
                and other.grade != r.grade
                and (other.flow is None or r.flow is None)
            ):
                raise SpecError(f"{where}: code {code!r} of {r.domain} has two grades.")
            seen[(r.domain, code)] = r


@cache
def load_sign_criteria(name: str) -> SignCriteria:
    """``astct_crs`` or ``astct_icans``, checked."""
    return _build(load_rule_file(name))


def build_sign_criteria(file: RuleFile) -> SignCriteria:
    return _build(file)


def _row_condition(
    row: SignCriterion, inputs: Mapping[str, ir.Value], settings: CriteriaSettings
) -> ir.BooleanValue:
    value = inputs[row.input]
    if row.codes:
        cond = value.isin(list(row.codes))
        if row.flow is not None:
            op, limit = row.flow
            flow = inputs["oxygen_flow_l_min"]
            flow_ok = _cmp(flow, op, limit)
            # No flow recorded: only a '<=' (low-flow) row can hold, as the device suggests.
            cond = cond & (flow_ok if op in (">", ">=") else flow_ok.fill_null(True))
        return cond.fill_null(False)
    if row.comparator == "is_true":
        return value.fill_null(False)
    return _cmp(value, row.comparator or ">=", row.threshold(settings)).fill_null(False)


def _cmp(x: ir.Value, op: str, limit: float) -> ir.BooleanValue:
    if op == "<":
        return x < limit
    if op == "<=":
        return x <= limit
    if op == ">":
        return x > limit
    return x >= limit


def domain_grade(
    criteria: SignCriteria,
    domain: str,
    inputs: Mapping[str, ir.Value],
    settings: CriteriaSettings,
) -> tuple[ir.IntegerValue, ir.StringValue]:
    """The grade (0 when no row holds) and rule id of ``domain`` for each record."""
    rows = criteria.domain(domain)
    grade = ibis.cases(
        *((_row_condition(r, inputs, settings), ibis.literal(r.grade, "int64")) for r in rows),
        else_=ibis.literal(0, "int64"),
    )
    rule = ibis.cases(
        *((_row_condition(r, inputs, settings), ibis.literal(r.rule_id)) for r in rows),
        else_=ibis.null("string"),
    )
    return grade, rule


def published(criteria: SignCriteria, domain: str, grade: int) -> str:
    """The published wording of a domain's grade (first row)."""
    for r in criteria.domain(domain):
        if r.grade == grade:
            return r.published
    return ""


def describe(criteria: SignCriteria) -> list[dict[str, Any]]:
    """The rows as plain dicts (for documentation and the CLI)."""
    return [
        {
            "domain": r.domain,
            "grade": r.grade,
            "published": r.published,
            "rule_id": r.rule_id,
            "source": r.source,
        }
        for r in criteria.rows
    ]
