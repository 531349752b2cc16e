"""Patient-level conditions over cohort tables, in three-valued logic that respects ambiguity.

A condition says which patients have something: ``{table = "adverse_events", where = {term =
"Febrile neutropenia", grade = {ge = 3}}}`` holds for a patient with at least one such row.
Conditions combine with ``{all = [...]}``, ``{any = [...]}`` and ``{not = {...}}``.

Each patient gets *true*, *false* or *unknown* (Kleene logic), with the reasons for every
unknown:

* a missing cell is unknown, never a "no" (missing is missing);
* a cell the ``provenance`` table marks ``ambiguous`` is evaluated under each of its readings:
  true if every reading satisfies the clause, false if none does, unknown otherwise (a reading
  that is not a value of the column, such as "not assessed", leaves it unknown);
* an ambiguous provenance entry naming a record the table does not hold (the source may or may
  not report that record, e.g. "MRD- | not assessed") is a record that may exist: it can make
  the condition unknown, never true.

Clause operators: a bare value (equals), a list (one of), or a table of ``eq``, ``ne``, ``lt``,
``le``, ``gt``, ``ge``, ``in``, ``not_in``, ``missing`` (true/false).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bvall.cohort import Cohort
from bvall.cohort.schema import TABLES, Column
from bvall.cohort.vocab import vocabulary
from bvall.errors import SpecError, suggest

Truth = bool | None  # None: unknown
Verdict = tuple[Truth, tuple[str, ...]]

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "missing")


def t_and(values: Sequence[Truth]) -> Truth:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def t_or(values: Sequence[Truth]) -> Truth:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA:
        return True
    return isinstance(v, float) and math.isnan(v)


def _norm(v: Any) -> str:
    """A value as text for matching provenance records (1.0 and 1 both read '1')."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# -- the cohort as the evaluator sees it ----------------------------------------------------------


@dataclass(frozen=True)
class AmbiguousCell:
    """An ambiguous provenance entry: which record and column, the readings, where printed."""

    record: Mapping[str, str]
    column: str
    readings: tuple[str, ...]
    location: str
    printed: str

    def describe(self) -> str:
        return f"{self.location} reads {self.printed!r} (readings: {' | '.join(self.readings)})"


class CohortView:
    """Per-patient access to a cohort's tables and its ambiguous provenance entries."""

    def __init__(self, cohort: Cohort) -> None:
        self.cohort = cohort
        self.patients: list[str] = cohort.patient_ids
        self._rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.ambiguous: dict[tuple[str, str], list[AmbiguousCell]] = defaultdict(list)
        prov = cohort["provenance"].to_pylist()
        for p in prov:
            if p["status"] != "ambiguous" or not p["patient_id"]:
                continue
            record = dict(part.split("=", 1) for part in str(p["record"]).split(";") if "=" in part)
            readings = tuple(r.strip() for r in str(p["readings"] or "").split("|") if r.strip())
            self.ambiguous[(p["table_name"], p["patient_id"])].append(
                AmbiguousCell(record, p["column_name"], readings, p["location"], p["printed"] or "")
            )

    def rows(self, table: str) -> dict[str, list[dict[str, Any]]]:
        """Rows of ``table`` grouped by patient (every patient present, possibly empty)."""
        if table not in self._rows:
            grouped: dict[str, list[dict[str, Any]]] = {p: [] for p in self.patients}
            for row in self.cohort[table].to_pylist():
                grouped.setdefault(row["patient_id"], []).append(row)
            self._rows[table] = grouped
        return self._rows[table]

    def n_rows(self, table: str) -> int:
        return int(self.cohort[table].num_rows)

    def column_recorded(self, table: str, column: str) -> bool:
        """Whether any row has a value in ``column``, or provenance gives readings for it."""
        values = self.cohort[table].column(column)
        if values.null_count < len(values):
            return True
        return any(
            cell.column == column
            for (t, _), cells in self.ambiguous.items()
            if t == table
            for cell in cells
        )


def record_label(table: str, row: Mapping[str, Any]) -> str:
    """``timepoint=d14_21``: the row's key columns (without the patient), for messages."""
    key = [k for k in TABLES[table].key if k != "patient_id" and not _missing(row.get(k))]
    return ";".join(f"{k}={_norm(row[k])}" for k in key) or "record"


# -- clauses -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """One column test: ``column op value``."""

    column: Column
    op: str
    value: Any

    def test(self, v: Any) -> bool:
        """The clause on a present (non-missing) value."""
        op, ref = self.op, self.value
        if op == "missing":
            return not ref
        if op == "eq":
            return bool(v == ref)
        if op == "ne":
            return bool(v != ref)
        if op == "in":
            return v in ref
        if op == "not_in":
            return v not in ref
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "lt": lambda a, b: a < b,
            "le": lambda a, b: a <= b,
            "gt": lambda a, b: a > b,
            "ge": lambda a, b: a >= b,
        }
        return compare[op](v, ref)

    def parse_reading(self, reading: str) -> tuple[bool, Any]:
        """A provenance reading as a value of this column: (parsed?, value)."""
        if self.column.type in ("integer", "number"):
            try:
                return True, float(reading)
            except ValueError:
                return False, None
        if self.column.type == "boolean":
            low = reading.lower()
            return (low in ("true", "false")), low == "true"
        if self.column.vocabulary and reading not in vocabulary(self.column.vocabulary):
            return False, None
        return True, reading

    def describe(self) -> str:
        symbols = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
        if self.op in symbols:
            return f"{self.column.name} {symbols[self.op]} {_norm(self.value)}"
        if self.op == "missing":
            return f"{self.column.name} {'is' if self.value else 'is not'} missing"
        values = ", ".join(_norm(v) for v in self.value)
        return f"{self.column.name} {'in' if self.op == 'in' else 'not in'} {{{values}}}"


def _check_value(where: str, column: Column, value: Any) -> Any:
    if isinstance(value, list):
        return [_check_value(where, column, v) for v in value]
    if column.type in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"{where}: {value!r} is not a number ({column.name} is numeric).")
        return float(value)
    if column.type == "boolean":
        if not isinstance(value, bool):
            raise SpecError(f"{where}: {value!r} is not true/false ({column.name} is boolean).")
        return value
    if not isinstance(value, str):
        raise SpecError(f"{where}: {value!r} is not text ({column.name} is text).")
    if column.vocabulary and not column.list_of:
        codes = vocabulary(column.vocabulary).codes
        if value not in codes:
            raise SpecError(
                f"{where}: {value!r} is not a code of vocabulary {column.vocabulary!r}"
                f"{suggest(value, codes)} Codes: {', '.join(codes)}."
            )
    return value


def compile_clauses(where_path: str, table: str, where: Any) -> tuple[Clause, ...]:
    """Validate a ``where`` table against the schema of ``table``."""
    if where is None:
        return ()
    if not isinstance(where, Mapping):
        raise SpecError(f"{where_path}: expected a table of column = value, got {where!r}.")
    schema = TABLES[table]
    clauses = []
    for name, spec in where.items():
        if name not in schema.column_names:
            raise SpecError(
                f"{where_path}: column {name!r} is not in {table}"
                f"{suggest(name, list(schema.column_names))} Columns: "
                f"{', '.join(schema.column_names)}."
            )
        column = schema.column(name)
        here = f"{where_path}.{name}"
        if isinstance(spec, Mapping):
            for op, value in spec.items():
                if op not in OPERATORS:
                    raise SpecError(
                        f"{here}: operator {op!r} is not known{suggest(op, OPERATORS)} "
                        f"Operators: {', '.join(OPERATORS)}."
                    )
                if op == "missing":
                    if not isinstance(value, bool):
                        raise SpecError(f"{here}.missing: expected true or false, got {value!r}.")
                    clauses.append(Clause(column, op, value))
                elif op in ("in", "not_in"):
                    if not isinstance(value, list):
                        raise SpecError(f"{here}.{op}: expected a list, got {value!r}.")
                    clauses.append(Clause(column, op, _check_value(here, column, value)))
                else:
                    clauses.append(Clause(column, op, _check_value(here, column, value)))
        elif isinstance(spec, list):
            clauses.append(Clause(column, "in", _check_value(here, column, spec)))
        else:
            clauses.append(Clause(column, "eq", _check_value(here, column, spec)))
    return tuple(clauses)


# -- conditions ----------------------------------------------------------------------------------


class Condition:
    """A compiled condition: :meth:`evaluate` gives every patient a verdict."""

    tables: frozenset[str] = frozenset()

    def evaluate(self, view: CohortView) -> dict[str, Verdict]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def columns(self) -> list[tuple[str, str]]:
        """(table, column) pairs the condition reads."""
        return []


class Everyone(Condition):
    def evaluate(self, view: CohortView) -> dict[str, Verdict]:
        return dict.fromkeys(view.patients, (True, ()))

    def describe(self) -> str:
        return "all patients"


class TableCondition(Condition):
    def __init__(self, table: str, clauses: tuple[Clause, ...]) -> None:
        self.table = table
        self.clauses = clauses
        self.tables = frozenset([table])

    def columns(self) -> list[tuple[str, str]]:
        return [(self.table, c.column.name) for c in self.clauses]

    def describe(self) -> str:
        if not self.clauses:
            return f"a {self.table} record"
        return f"{self.table} with " + ", ".join(c.describe() for c in self.clauses)

    def cell_verdict(
        self, clause: Clause, row: Mapping[str, Any], cells: list[AmbiguousCell], pid: str
    ) -> Verdict:
        name = clause.column.name
        v = row.get(name)
        if clause.op == "missing" and not _missing(v):
            return clause.test(v), ()
        if not _missing(v):
            return clause.test(v), ()
        for cell in cells:
            if cell.column != name or not all(
                _norm(row.get(k)) == val for k, val in cell.record.items()
            ):
                continue
            parsed = [clause.parse_reading(r) for r in cell.readings]
            if cell.readings and all(ok for ok, _ in parsed):
                results = {clause.test(value) for _, value in parsed}
                if len(results) == 1:
                    return results.pop(), ()
            return None, (f"{pid}: {self.table}.{name} is ambiguous — {cell.describe()}",)
        if clause.op == "missing":
            return bool(clause.value), ()
        where = record_label(self.table, row)
        return None, (f"{pid}: {self.table}.{name} is not recorded ({where})",)

    def evaluate(self, view: CohortView) -> dict[str, Verdict]:
        out: dict[str, Verdict] = {}
        by_patient = view.rows(self.table)
        for pid in view.patients:
            rows = by_patient.get(pid, [])
            cells = view.ambiguous.get((self.table, pid), [])
            truths: list[Truth] = []
            reasons: list[str] = []
            for row in rows:
                verdicts = [self.cell_verdict(c, row, cells, pid) for c in self.clauses]
                truth = t_and([v for v, _ in verdicts])
                truths.append(truth)
                if truth is None:
                    reasons.extend(r for _, rs in verdicts for r in rs)
            # records the source may or may not report (no row, but an ambiguous entry names one)
            phantoms: dict[tuple[tuple[str, str], ...], AmbiguousCell] = {}
            for cell in cells:
                key = tuple(sorted(cell.record.items()))
                matches_row = any(
                    all(_norm(r.get(k)) == val for k, val in cell.record.items()) for r in rows
                )
                if not matches_row:
                    phantoms.setdefault(key, cell)
            for cell in phantoms.values():
                known = []
                for c in self.clauses:
                    if c.column.name in cell.record:
                        ok, value = c.parse_reading(cell.record[c.column.name])
                        known.append(c.test(value) if ok else None)
                if t_and(known) is False:
                    continue
                truths.append(None)
                record = ";".join(f"{k}={v}" for k, v in cell.record.items())
                reasons.append(
                    f"{pid}: a {self.table} record ({record}) may or may not exist — "
                    f"{cell.describe()}"
                )
            truth = t_or(truths) if truths else False
            out[pid] = (truth, tuple(reasons) if truth is None else ())
        return out


class AllOf(Condition):
    def __init__(self, parts: list[Condition]) -> None:
        self.parts = parts
        self.tables = frozenset().union(*(p.tables for p in parts))

    def columns(self) -> list[tuple[str, str]]:
        return [c for p in self.parts for c in p.columns()]

    def describe(self) -> str:
        return " and ".join(f"({p.describe()})" for p in self.parts)

    def evaluate(self, view: CohortView) -> dict[str, Verdict]:
        results = [p.evaluate(view) for p in self.parts]
        out: dict[str, Verdict] = {}
        for pid in view.patients:
            verdicts = [r[pid] for r in results]
            truth = t_and([v for v, _ in verdicts])
            out[pid] = (truth, tuple(x for _, rs in verdicts for x in rs) if truth is None else ())
        return out


class AnyOf(AllOf):
    def describe(self) -> str:
        return " or ".join(f"({p.describe()})" for p in self.parts)

    def evaluate(self, view: CohortView) -> dict[str, Verdict]:
        results = [p.evaluate(view) for p in self.parts]
        out: dict[str, Verdict] = {}
        for pid in view.patients:
            verdicts = [r[pid] for r in results]
            truth = t_or([v for v, _ in verdicts])
            out[pid] = (truth, tuple(x for _, rs in verdicts for x in rs) if truth is None else ())
        return out


class Not(Condition):
    def __init__(self, part: Condition) -> None:
        self.part = part
        self.tables = part.tables

    def columns(self) -> list[tuple[str, str]]:
        return self.part.columns()

    def describe(self) -> str:
        return f"not ({self.part.describe()})"

    def evaluate(self, view: CohortView) -> dict[str, Verdict]:
        return {
            pid: (None if v is None else not v, reasons)
            for pid, (v, reasons) in self.part.evaluate(view).items()
        }


def compile_condition(path: str, spec: Any) -> Condition:
    """Validate and compile a condition; :class:`SpecError` names the path and the fix."""
    if not isinstance(spec, Mapping):
        raise SpecError(f"{path}: expected a condition table, got {spec!r}.")
    keys = set(spec)
    if keys & {"all", "any"}:
        if len(keys) != 1:
            raise SpecError(f"{path}: 'all'/'any' must stand alone, got keys {sorted(keys)}.")
        name = "all" if "all" in keys else "any"
        parts = spec[name]
        if not isinstance(parts, list) or not parts:
            raise SpecError(f"{path}.{name}: expected a non-empty list of conditions.")
        compiled = [compile_condition(f"{path}.{name}[{i}]", p) for i, p in enumerate(parts)]
        return AllOf(compiled) if name == "all" else AnyOf(compiled)
    if "not" in keys:
        if len(keys) != 1:
            raise SpecError(f"{path}: 'not' must stand alone, got keys {sorted(keys)}.")
        return Not(compile_condition(f"{path}.not", spec["not"]))
    unknown = keys - {"table", "where"}
    if unknown or "table" not in keys:
        raise SpecError(
            f"{path}: a condition is {{table = ..., where = {{...}}}}, or all/any/not; got keys "
            f"{sorted(keys)}."
        )
    table = spec["table"]
    if table not in TABLES or table == "provenance":
        names = [t for t in TABLES if t != "provenance"]
        raise SpecError(
            f"{path}.table: {table!r} is not a cohort table{suggest(str(table), names)} "
            f"Tables: {', '.join(names)}."
        )
    return TableCondition(table, compile_clauses(f"{path}.where", table, spec.get("where")))
