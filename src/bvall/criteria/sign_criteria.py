"""Per-record criteria (ASTCT CRS and ICANS): rows that grade one domain of one record.

A row grades one parameter (fever, hypotension, hypoxia) or domain (ICE, consciousness, seizure,
motor, raised ICP) from one input of a vital-signs or neurological record, by a comparison
(``comparator`` with ``value`` or ``value_setting``), a list of vocabulary ``codes``, or an oxygen
``devices`` list with an optional flow condition. :func:`grade_records` joins the rows, as a
constant table, to the records' values: a domain's grade is the most severe grade whose row holds,
else 0.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from bvall.cohort.vocab import vocabulary
from bvall.criteria.expressions import constant_table
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


#: Each comparator as the signs of ``value - threshold`` it accepts (lowest, highest): one
#: comparison in the SQL serves every comparator. ``is_true`` is ``value = 1`` (true).
_SIGNS = {"<": (-1, -1), "<=": (-1, 0), ">": (1, 1), ">=": (0, 1), "is_true": (0, 0)}


def criteria_table(
    criteria: SignCriteria, settings: CriteriaSettings, domains: Sequence[str]
) -> ir.Table:
    """The rows of ``domains`` as a constant table, one row per criterion and code.

    Columns: ``c_domain``, ``c_grade``, ``c_rule``, ``c_input``; a comparison holds when the
    sign of ``value - c_value`` lies in ``c_lo..c_hi`` (:data:`_SIGNS`), a code row when the
    value is ``c_code`` and the sign of ``flow - c_flow_value`` lies in
    ``c_flow_lo..c_flow_hi`` (``c_flow_missing`` when no flow is recorded). ``c_rank`` orders
    the rows by severity (grade descending, then ``domains`` order, then file order): the first
    holding row of a domain gives its grade and rule; the first holding row of all gives the
    worst grade's rule, the domain listed first winning a tie.
    """
    ranked = sorted(
        (r for r in criteria.rows if r.domain in domains),
        key=lambda r: (-r.grade, domains.index(r.domain)),
    )
    cols: dict[str, list[Any]] = defaultdict(list)
    for rank, r in enumerate(ranked):
        for code in r.codes or (None,):
            cols["c_domain"].append(r.domain)
            cols["c_grade"].append(r.grade)
            cols["c_rank"].append(rank)
            cols["c_rule"].append(r.rule_id)
            cols["c_input"].append(r.input)
            cols["c_code"].append(code)
            if r.codes:
                lo, hi, value = None, None, None
            elif r.comparator == "is_true":
                lo, hi, value = 0, 0, 1.0
            else:
                lo, hi = _SIGNS[r.comparator or ">="]
                value = r.threshold(settings)
            cols["c_value"].append(value)
            cols["c_lo"].append(lo)
            cols["c_hi"].append(hi)
            # No flow condition: any flow, or none, holds. A low-flow ('<=') condition holds
            # with no flow recorded, as the device suggests; a high-flow one does not.
            op, limit = r.flow if r.flow else ("any", 0.0)
            flow_lo, flow_hi = _SIGNS[op] if r.flow else (-1, 1)
            cols["c_flow_value"].append(limit)
            cols["c_flow_lo"].append(flow_lo)
            cols["c_flow_hi"].append(flow_hi)
            cols["c_flow_missing"].append(r.flow is None or op in ("<", "<="))
    types = {
        "c_domain": pa.string(),
        "c_grade": pa.int64(),
        "c_rank": pa.int64(),
        "c_rule": pa.string(),
        "c_input": pa.string(),
        "c_code": pa.string(),
        "c_value": pa.float64(),
        "c_lo": pa.int64(),
        "c_hi": pa.int64(),
        "c_flow_value": pa.float64(),
        "c_flow_lo": pa.int64(),
        "c_flow_hi": pa.int64(),
        "c_flow_missing": pa.bool_(),
    }
    return constant_table(pa.table({k: pa.array(cols[k], t) for k, t in types.items()}))


def grade_records(
    criteria: SignCriteria,
    settings: CriteriaSettings,
    records: ir.Table,
    keys: Sequence[str],
    inputs: Callable[[ir.Table], Mapping[str, ir.Value]],
    domains: Sequence[str],
    *,
    rules: Sequence[str] = (),
    keep: Sequence[str] = (),
    worst: str | None = None,
) -> ir.Table:
    """``records`` with the grade of each of ``domains`` (``<domain>_grade``, 0 when no row
    holds) and the rule id of each domain in ``rules`` (``<domain>_rule``).

    The criteria are rows of a constant table (:func:`criteria_table`) joined to the records'
    values, so the SQL does not grow with the number of rows. ``keys`` are the record columns
    the grades depend on; each distinct combination is graded once and joined back (NULL
    matching NULL). ``inputs`` makes further criteria inputs from a table of ``keys``; those
    named in ``keep`` are added to the records too. ``worst`` adds ``<worst>_grade`` (the most
    severe domain grade) and ``<worst>_rule`` (its rule; the domain listed first wins a tie).
    """
    crit = criteria_table(criteria, settings, domains)
    values = records.select(*keys).distinct()
    values = values.mutate(**inputs(values))
    used = sorted({r.input for r in criteria.rows if r.domain in domains})
    coded = [n for n in used if INPUTS[n] is not None]
    numeric = [n for n in used if INPUTS[n] is None]

    def pick(names: list[str], cast: str) -> ir.Value:
        if not names:
            return ibis.null(cast)
        return ibis.cases(*((crit.c_input == n, values[n].cast(cast)) for n in names))

    def within(x: ir.Value, limit: ir.Value, lo: ir.Value, hi: ir.Value) -> ir.BooleanValue:
        return (x - limit).sign().between(lo, hi)

    holds = ibis.ifelse(
        crit.c_code.isnull(),
        within(pick(numeric, "float64"), crit.c_value, crit.c_lo, crit.c_hi),
        pick(coded, "string") == crit.c_code,
    )
    if "oxygen_flow_l_min" in values.columns:
        flow = within(values.oxygen_flow_l_min, crit.c_flow_value, crit.c_flow_lo, crit.c_flow_hi)
        holds = holds & flow.fill_null(crit.c_flow_missing)
    j = values.left_join(crit, holds.fill_null(False))
    aggregates: dict[str, ir.Value] = {}
    for d in domains:
        aggregates[f"{d}_grade"] = j.c_grade.max(where=j.c_domain == d).fill_null(0)
        if d in rules:
            aggregates[f"{d}_rule"] = j.c_rule.argmin(j.c_rank, where=j.c_domain == d)
    if worst is not None:
        aggregates[f"{worst}_grade"] = j.c_grade.max().fill_null(0)
        aggregates[f"{worst}_rule"] = j.c_rule.argmin(j.c_rank)
    graded = j.group_by([*keys, *keep]).aggregate(**aggregates)
    graded = graded.rename({f"g_{k}": k for k in keys})
    out = records.join(graded, [records[k].identical_to(graded[f"g_{k}"]) for k in keys])
    return out.select(*records.columns, *keep, *aggregates)


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
