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
import threading
from collections import OrderedDict
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


# --- compiled SQL, reused ---------------------------------------------------------------------
#
# Compiling a derivation's Ibis expression to SQL costs seconds (the rules become CASE cascades
# of several thousand nodes), while running it on one patient's data takes milliseconds. The
# expression depends on the rules, the settings and the tables' schemas, never on their data:
# every cohort table and every intermediate enters it as an in-memory table with a fixed name
# (``bv_cohort_labs``, ``bv_step_grades``), and the constant tables (unit factors, term codes) as
# one table per content. So the SQL of an expression is kept, keyed by the expression with its
# in-memory tables replaced by their names and schemas, and the next cohort (a patient page,
# a report, a test) runs it without compiling. Ibis has no such cache; the backend's own
# ``compile`` is wrapped, so execution, type mapping and table registration stay Ibis's.

_SQL_CACHE: OrderedDict[ops.Node, str] = OrderedDict()
_SQL_CACHE_SIZE = 512
_SQL_LOCK = threading.Lock()


def _cache_key(op: ops.Node) -> ops.Node:
    tables = {t: ops.UnboundTable(name=t.name, schema=t.schema) for t in op.find(ops.InMemoryTable)}
    return op.replace(tables) if tables else op


class _CompileOnceDuckDB(DuckDBBackend):  # type: ignore[misc]  # Ibis ships no stubs for it
    """DuckDB through Ibis, compiling each distinct expression once per process."""

    def compile(
        self,
        expr: ir.Expr,
        /,
        *,
        limit: int | None = None,
        params: Mapping[ir.Expr, Any] | None = None,
        pretty: bool = False,
    ) -> str:
        if limit is not None or params or pretty:
            return str(super().compile(expr, limit=limit, params=params, pretty=pretty))
        key = _cache_key(expr.op())
        with _SQL_LOCK:
            sql = _SQL_CACHE.get(key)
            if sql is not None:
                _SQL_CACHE.move_to_end(key)
                return sql
        sql = str(super().compile(expr))
        with _SQL_LOCK:
            _SQL_CACHE[key] = sql
            while len(_SQL_CACHE) > _SQL_CACHE_SIZE:
                _SQL_CACHE.popitem(last=False)
        return sql


def connect() -> Any:
    """An in-process DuckDB connection (through Ibis) that reuses compiled SQL."""
    return _CompileOnceDuckDB().connect()


def named_memtable(data: pa.Table, name: str) -> ir.Table:
    """``ibis.memtable(data)`` under a fixed name (Ibis gives each a random one)."""
    table: ir.Table = ibis.memtable(data).op().copy(name=name).to_expr()
    return table


_CONSTANTS: dict[str, ir.Table] = {}


def constant_table(columns: Mapping[str, Sequence[Any]] | pa.Table) -> ir.Table:
    """A small constant table (unit factors, term codes) as one in-memory table per content.

    The same content gives the same table object, with a name derived from the content, so that
    expressions using it are equal from one derivation to the next (see :func:`connect`).
    """
    data = columns if isinstance(columns, pa.Table) else pa.table(dict(columns))
    text = json.dumps(
        {"schema": str(data.schema), "columns": data.to_pydict()}, sort_keys=True, default=str
    )
    name = "bv_const_" + hashlib.sha256(text.encode()).hexdigest()[:16]
    with _SQL_LOCK:
        table = _CONSTANTS.get(name)
        if table is None:
            table = named_memtable(data, name)
            _CONSTANTS[name] = table
    return table


class Workspace:
    """An in-process DuckDB connection holding one cohort's tables as Ibis tables.

    ``Workspace(cohort).table("labs")`` is the cohort's labs table; :meth:`d1` gives each
    patient's D1 date (the induction course's start) for turning dates into study days.
    """

    def __init__(self, cohort: Cohort, con: Any | None = None) -> None:
        self.cohort = cohort
        self.con = con if con is not None else connect()
        self._tables: dict[str, ir.Table] = {}
        self._cached: dict[str, ir.Table] = {}

    def cached(self, key: str, build: Callable[[], ir.Table]) -> ir.Table:
        """``build()`` computed once (an Arrow table in this workspace) and reused.

        Later expressions refer to the table instead of repeating its whole expression: this keeps
        the SQL of a derivation that reuses an intermediate (prepared labs, grades, responses)
        small and each intermediate computed once.
        """
        if key not in self._cached:
            # Materialized as Arrow and registered back (zero-copy scan): Ibis' create_table
            # reads the new table's schema through a DuckDB call that DuckDB 2 deprecates.
            self._cached[key] = named_memtable(
                self.con.to_pyarrow(build()), f"bv_step_{_identifier(key)}"
            )
        return self._cached[key]

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            arrow = self.cohort[name]
            if arrow.num_rows == 0:
                arrow = TABLES[name].arrow_schema.empty_table()
            self._tables[name] = named_memtable(arrow, f"bv_cohort_{name}")
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
        return self.con.to_pyarrow(expr)


def _identifier(key: str) -> str:
    if not key.replace("_", "").isalnum():
        raise ValueError(f"workspace step key {key!r} must be letters, digits and '_'")
    return key


_WORKSPACES: OrderedDict[tuple[int, Any], tuple[Cohort, Workspace]] = OrderedDict()


def workspace_for(cohort: Cohort, settings: Any) -> Workspace:
    """The workspace of a cohort under given settings, reused across derivations.

    A cohort never changes after it is built, so the intermediate tables of one derivation
    (prepared labs, grades, episodes, responses) serve the next: ``derive(c, "crs")`` after
    ``derive(c, "endpoints")`` costs nothing. The last few workspaces are kept.
    """
    key = (id(cohort), settings)
    hit = _WORKSPACES.get(key)
    if hit is not None and hit[0] is cohort:
        _WORKSPACES.move_to_end(key)
        return hit[1]
    ws = Workspace(cohort)
    _WORKSPACES[key] = (cohort, ws)
    while len(_WORKSPACES) > 8:
        _WORKSPACES.popitem(last=False)
    return ws
