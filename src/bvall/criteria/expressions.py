"""Ibis building blocks shared by the evaluators, and the in-process DuckDB workspace.

Every evaluator builds Ibis expressions; they run on DuckDB in-process by default and contain no
DuckDB-only SQL, so the same expressions can run on another Ibis backend. Two DuckDB-specific
pitfalls are avoided on purpose: ``ROUND(x, n)`` needs a constant ``n`` (so :func:`signif`
scales by a power of ten instead), and DuckDB 2 refuses the ``->`` lambdas that Ibis emits for
array ``filter``/``map`` (so no evaluator uses them).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend

from bvall.cohort.model import Cohort
from bvall.cohort.schema import TABLES

#: Timepoints of lab values recorded without a date that are baseline candidates, earliest first.
BASELINE_TIMEPOINTS = ("diagnosis", "pretreatment", "baseline_d1")


def signif(x: ir.NumericValue, digits: int) -> ir.FloatingValue:
    """``x`` rounded to ``digits`` significant digits, as R's ``signif`` (admiral).

    Scales by an exact power of ten, rounds to an integer and scales back (as R's ``signif``
    does), so a floating-point product such as ``3 * 33.3`` becomes the decimal ``99.9`` it
    stands for. Within one unit of the last digit of Python's correctly rounded
    ``float(f"{x:.15g}")``, and equal to it except at ties hidden beyond the 15th digit; meant
    for 1e-8 <= |x| < 1e15 (every clinical value).
    """
    magnitude = ibis.ifelse(x == 0, 1.0, x.abs()).log10().floor()
    scale = ibis.literal(10.0).pow((digits - 1) - magnitude)
    return ((x * scale).round() / scale).cast("float64")


def is_unknown(x: ir.BooleanValue) -> ir.BooleanValue:
    """``x IS NULL`` for a three-valued condition.

    Goes through a cast because Ibis 12 compiles ``(~x).isnull()`` to ``NOT (x) IS NULL``, which
    SQL reads as ``NOT ((x) IS NULL)``.
    """
    return x.cast("int8").isnull()


def first_rows(t: ir.Table, group_by: Sequence[Any], order_by: Sequence[Any]) -> ir.Table:
    """The first row of each group of ``t`` in ``order_by``: every column from one row (where
    one ``arg_max`` per column could take each from another row when keys tie). Give
    ``order_by`` keys enough that no two rows tie, and put ``x.isnull()`` before a nullable key
    ``x``: DuckDB sorts nulls last and Spark first, while false sorts before true on both.
    The rows keep their number (``_rn``); the caller selects the columns it needs."""
    ranked = t.mutate(_rn=ibis.row_number().over(group_by=list(group_by), order_by=list(order_by)))
    return ranked.filter(ranked._rn == 0)


def arg_max(value: ir.Value, key: ir.Value) -> ir.Value:
    """``value`` of the row with the largest ``key`` in a group, NULL included.

    SQL ``arg_max`` (DuckDB's ``arg_max``, Spark's ``max_by``) skips rows whose value is NULL and
    would return the value of another row; wrapping it in a struct keeps the row together on
    every backend.
    """
    return ibis.struct({"v": value}).argmax(key)["v"]


def arg_min(value: ir.Value, key: ir.Value) -> ir.Value:
    """``value`` of the row with the smallest ``key`` in a group, NULL included."""
    return ibis.struct({"v": value}).argmin(key)["v"]


def signif_py(x: float, digits: int) -> float:
    """The Python twin of :func:`signif` for constants."""
    return float(f"{x:.{digits}g}")


def num_text(x: ir.NumericValue, decimals: int | None = None) -> ir.StringValue:
    """A number as short text for explanations (``150``, ``0.3``, ``1.25``).

    Values the engine compares are already rounded to 15 significant digits, so their shortest
    text is clean; ``decimals`` rounds a derived quantity (a percent change) for display.
    """
    value = x.cast("float64") if decimals is None else x.cast("float64").round(decimals)
    return value.cast("string").re_replace(r"\.0$", "")


def py_num(x: float) -> str:
    """Python twin of :func:`num_text` for constants in explanations."""
    return f"{x:.6g}"


def minutes_of(time: ir.StringValue) -> ir.IntegerValue:
    """Minutes after midnight of an ``HH:MM`` string (``None`` stays ``None``)."""
    return time.left(2).cast("int64") * 60 + time.right(2).cast("int64")


def clock(day: ir.IntegerValue, minute: ir.IntegerValue) -> ir.IntegerValue:
    """Minutes since the start of study day 0: a single sortable time axis (no time = 00:00)."""
    return day.cast("int64") * 1440 + minute.fill_null(0)


def json_text(fields: Mapping[str, ir.Value]) -> ir.StringValue:
    """The values used by a rule, as JSON text (``inputs`` column)."""
    return ibis.struct(dict(fields)).cast("json").cast("string")


def study_day(t: ir.Table, day: str = "study_day", date: str = "date") -> ir.IntegerValue:
    """Study day of each row: the recorded day, else ``date - D1 + 1`` when D1 is known.

    ``t`` must carry ``d1_date`` (joined from :meth:`Workspace.d1`).
    """
    from_date = (t[date].delta(t["d1_date"], unit="day") + 1).cast("int64")
    return t[day].cast("int64").fill_null(from_date)


# --- workspaces --------------------------------------------------------------------------------
#
# Every cohort table and every intermediate enters a derivation's expressions as an in-memory
# table with a fixed name (``bv_cohort_labs``, ``bv_step_grades``), and the constant tables (unit
# factors, term codes) as one table per content (``bv_const_<hash>``). So the expressions depend
# on the rules, the settings and the schemas, never on the rows: a :class:`PlanningWorkspace`
# compiles them once into a plan (:mod:`bvall.criteria.plans`) that any cohort reuses, and a
# :class:`Workspace` executes them directly on one cohort (the reference the plans are checked
# against).


def connect() -> Any:
    """An in-process DuckDB connection through Ibis."""
    return DuckDBBackend().connect()


def named_memtable(data: pa.Table, name: str) -> ir.Table:
    """``ibis.memtable(data)`` under a fixed name (Ibis gives each a random one)."""
    table: ir.Table = ibis.memtable(data).op().copy(name=name).to_expr()
    return table


_CONSTANTS: dict[str, ir.Table] = {}
_CONSTANTS_LOCK = threading.Lock()


def constant_table(columns: Mapping[str, Sequence[Any]] | pa.Table) -> ir.Table:
    """A small constant table (unit factors, term codes) as one in-memory table per content.

    The same content gives the same table object, with a name derived from the content, so that
    plans carry each constant table once under a name that cannot clash.
    """
    data = columns if isinstance(columns, pa.Table) else pa.table(dict(columns))
    text = json.dumps(
        {"schema": str(data.schema), "columns": data.to_pydict()}, sort_keys=True, default=str
    )
    name = "bv_const_" + hashlib.sha256(text.encode()).hexdigest()[:16]
    with _CONSTANTS_LOCK:
        table = _CONSTANTS.get(name)
        if table is None:
            table = named_memtable(data, name)
            _CONSTANTS[name] = table
    return table


class Workspace:
    """One cohort's tables as Ibis tables, with its intermediates executed on in-process DuckDB.

    ``Workspace(cohort).table("labs")`` is the cohort's labs table; :meth:`d1` gives each
    patient's D1 date (the induction course's start) for turning dates into study days;
    :attr:`features` are the facts about the cohort its expressions may depend on
    (:func:`bvall.criteria.plans.plan_features`) - and nothing else of the cohort's data may
    shape an expression.
    """

    #: The engine the expressions run on (a :class:`PlanningWorkspace` compiles for another).
    backend: str = "duckdb"

    def __init__(self, cohort: Cohort | None, con: Any | None = None) -> None:
        from bvall.criteria.plans import plan_features

        self.cohort = cohort
        self.con = con if con is not None else connect()
        self.features: Mapping[str, Any] = plan_features(cohort) if cohort is not None else {}
        self._tables: dict[str, ir.Table] = {}
        self._cached: dict[str, ir.Table] = {}

    def cached(self, key: str, build: Callable[[], ir.Table]) -> ir.Table:
        """``build()`` computed once (an Arrow table named ``bv_step_<key>``) and reused.

        Later expressions refer to the table instead of repeating its whole expression: this keeps
        the SQL of a derivation that reuses an intermediate (prepared labs, grades, responses)
        small and each intermediate computed once.
        """
        if key not in self._cached:
            name = f"bv_step_{_identifier(key)}"
            # Materialized as Arrow and registered back (zero-copy scan): Ibis' create_table
            # reads the new table's schema through a DuckDB call that DuckDB 2 deprecates.
            self._cached[key] = named_memtable(self._materialise(name, build()), name)
        return self._cached[key]

    def _materialise(self, name: str, expr: ir.Table) -> pa.Table:
        table: pa.Table = self.con.to_pyarrow(expr)
        return table

    def _cohort_table(self, name: str) -> pa.Table:
        assert self.cohort is not None
        arrow = self.cohort[name]
        return TABLES[name].arrow_schema.empty_table() if arrow.num_rows == 0 else arrow

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            self._tables[name] = named_memtable(self._cohort_table(name), f"bv_cohort_{name}")
        return self._tables[name]

    def d1(self) -> ir.Table:
        """``patient_id, d1_date``: start date of each patient's first induction course."""
        courses = self.table("treatment_courses")
        return (
            courses.filter(courses.course_type == "induction")
            .group_by("patient_id")
            .aggregate(d1_date=courses.start_date.min())
        )

    def with_day(self, name: str, day: str = "study_day", date: str = "date") -> ir.Table:
        """A cohort table with ``day``: the recorded study day, or one computed from its date."""
        t = self.table(name)
        joined = t.left_join(self.d1(), "patient_id").drop("patient_id_right")
        return joined.mutate(day=study_day(joined, day, date))

    def execute(self, expr: ir.Table) -> pa.Table:
        table: pa.Table = self.con.to_pyarrow(expr)
        return table


class PlanningWorkspace(Workspace):
    """A workspace on empty tables that compiles each step to SQL instead of executing it.

    Running a derivation's query on it records the derivation's plan: :attr:`steps` (SQL, the
    tables it reads, the table it materialises and its Arrow schema), the constant tables and
    the cohort tables read. ``features`` stand for the cohort's (see :class:`Workspace`).
    """

    def __init__(self, features: Mapping[str, Any], backend: str = "duckdb") -> None:
        if backend not in ("duckdb", "spark"):
            raise ValueError(f"no Ibis compiler for plans on backend {backend!r}")
        super().__init__(None, connect())
        self.backend = backend
        self.features = dict(features)
        self.steps: list[Any] = []
        self.constants: dict[str, pa.Table] = {}
        self.cohort_tables: list[str] = []
        self.failed_step: str | None = None

    def _cohort_table(self, name: str) -> pa.Table:
        self.cohort_tables.append(name)
        return TABLES[name].arrow_schema.empty_table()

    def cached(self, key: str, build: Callable[[], ir.Table]) -> ir.Table:
        try:
            return super().cached(key, build)
        except Exception:
            self.failed_step = self.failed_step or key  # the innermost step that failed
            raise

    def _record(self, name: str | None, expr: ir.Table) -> pa.Table:
        from bvall.criteria.plans import Step

        op = expr.op()
        inputs = sorted({t.name for t in op.find(ops.InMemoryTable)})
        for t in op.find(ops.InMemoryTable):
            if t.name.startswith("bv_const_"):
                self.constants[t.name] = t.data.to_pyarrow(t.schema)
        schema = expr.schema()
        arrow = schema.to_pyarrow()
        self.steps.append(
            Step(
                name=name,
                sql=self._compile(expr),
                inputs=tuple(inputs),
                schema=arrow,
                null_columns=tuple(n for n, t in schema.items() if t.is_null()),
                sort_keys=arrow_sort_keys(op) if self.backend == "duckdb" else (),
            )
        )
        return arrow.empty_table()

    def _compile(self, expr: ir.Table) -> str:
        if self.backend == "spark":
            from bvall.criteria.spark import compile_step

            return compile_step(expr)
        return _sorted_excludes(str(self.con.compile(expr)))

    def _materialise(self, name: str, expr: ir.Table) -> pa.Table:
        return self._record(name, expr)

    def execute(self, expr: ir.Table) -> pa.Table:
        return self._record(None, expr)


def arrow_sort_keys(op: ops.Node) -> tuple[tuple[str, bool], ...]:
    """When ``op`` only sorts one table by some of its columns, those columns and whether each
    is ascending (a step that :func:`bvall.criteria.plans.run_plan` sorts with Arrow instead of
    a DuckDB statement); else ``()``.

    Arrow orders as DuckDB does here: nulls last whatever the direction (Ibis writes no
    ``NULLS FIRST`` unless asked, and DuckDB's default is ``NULLS LAST``), strings by their
    bytes. It differs on NaN in a descending float column (DuckDB puts NaN first, Arrow last)
    and has no order for nested types, so such sorts stay SQL."""
    if not isinstance(op, ops.Sort) or not isinstance(op.parent, ops.InMemoryTable):
        return ()
    keys = []
    for key in op.keys:
        field = key.arg
        if not isinstance(field, ops.Field) or field.rel is not op.parent or key.nulls_first:
            return ()
        dtype = field.dtype
        if dtype.is_nested() or (dtype.is_floating() and not key.ascending):
            return ()
        keys.append((field.name, bool(key.ascending)))
    return tuple(keys)


#: ``EXCLUDE ("a", "b")`` of a DuckDB statement: Ibis writes the dropped columns from a set, so
#: their order follows the process's string hashes (``PYTHONHASHSEED``).
_EXCLUDE = re.compile(r'EXCLUDE \(((?:"[^"]*"(?:, )?)+)\)')
_QUOTED = re.compile(r'"[^"]*"')


def _sorted_excludes(sql: str) -> str:
    """``sql`` with the columns of every ``EXCLUDE (...)`` in sorted order (the order has no
    meaning). Without it, two processes wrote one step in two texts, so plans loaded from the
    cache, built by different processes, did not share the steps they have in common (a step
    is reused by the lineage of its text): all derivations of one patient ran lab grading twice."""

    def ordered(m: re.Match[str]) -> str:
        return "EXCLUDE (" + ", ".join(sorted(_QUOTED.findall(m.group(1)))) + ")"

    return _EXCLUDE.sub(ordered, sql)


def _identifier(key: str) -> str:
    if not key.replace("_", "").isalnum():
        raise ValueError(f"workspace step key {key!r} must be letters, digits and '_'")
    return key


# --- lean statements ---------------------------------------------------------------------------
#
# DuckDB's cost for a plan's statement grows with the length of its SQL (parsing, binding and
# optimising), not with the rows. Ibis lists every column of a table in each nested SELECT and
# inlines a column's expression wherever a merged projection uses it, so a derivation keeps its
# statements short by reading only the columns it needs and by computing an expression in the
# statement layer below the ones that use it.


def dated(
    ws: Workspace,
    name: str,
    columns: Sequence[str],
    day: str = "study_day",
    date: str = "date",
) -> ir.Table:
    """``columns`` of the cohort table ``name`` and its study ``day`` (as
    :meth:`Workspace.with_day`, without carrying the table's other columns through the SQL)."""
    t = ws.table(name)
    d1 = ws.d1()
    joined = t.left_join(d1, t.patient_id == d1.patient_id)
    from_date = (t[date].delta(d1.d1_date, unit="day") + 1).cast("int64")
    out: ir.Table = joined.select(
        *(t[c] for c in columns), day=t[day].cast("int64").fill_null(from_date)
    )
    return out
