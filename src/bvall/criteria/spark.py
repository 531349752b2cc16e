"""Derivation plans on Apache Spark: the same Ibis queries, compiled by Ibis's PySpark backend.

A registry that pools lab feeds across hospitals lives on a Spark platform; it runs the rules
written once for DuckDB, not a re-implementation. :func:`bvall.criteria.plans.plan_derivation`
with ``backend="spark"`` compiles each step of a derivation's query to Spark SQL (Ibis's PySpark
compiler, no Spark session needed); :func:`run_plan` registers the cohort's tables and the plan's
constant tables as temporary views, runs each step with ``spark.sql`` and gives the result as a
Spark DataFrame (:func:`to_arrow` casts it to the plan's Arrow schema, so it compares equal to the
DuckDB result; :func:`write_parquet` writes it partitioned by patient hash).

One operation Ibis 12 leaves untranslated for Spark is added to its compiler here, not to the
rules: an ordered ``group_concat`` (``string_agg(x ORDER BY k)`` in DuckDB), written as a sorted
``collect_list`` of ``(k, x)`` structs joined after the sort. Any other operation Ibis cannot
translate stops the plan with :class:`~bvall.criteria.plans.PlanError` naming the derivation, its
query function and step, and the operation: there is no fallback to another engine.

Needs ``pyspark`` (the ``spark`` extra) and a Java runtime (17).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from bvall.cohort.model import Cohort
from bvall.errors import BvallError, InputError

#: Master URLs :func:`session` accepts (``local``, ``local[2]``, ``local[*]``, ``local[2,3]``,
#: ``spark://host:7077[,host2:7077]``, ``yarn``, ``k8s://https://host:443``, ``mesos://...``).
_MASTER = re.compile(
    r"^(local(\[(\d+|\*)(,\d+)?\])?|spark://[\w.\-]+(:\d+)?(,[\w.\-]+(:\d+)?)*|yarn"
    r"|k8s://\S+|mesos://\S+)$"
)

DEFAULT_MASTER = "local[2]"


class SparkError(BvallError):
    """Spark cannot be started or used (no Java runtime, no pyspark, a bad master URL)."""


def _dt(name: str) -> Any:
    import ibis.expr.datatypes as dt

    return dt.dtype(name)


# --- compiling --------------------------------------------------------------------------------

_COMPILER: list[Any] = []


def compiling_backend() -> Any:
    """An unconnected Ibis PySpark backend whose ``compile`` gives Spark SQL (no session)."""
    if not _COMPILER:
        try:
            from ibis.backends.pyspark import Backend
            from ibis.backends.sql.compilers.pyspark import PySparkCompiler
        except ImportError as exc:  # pragma: no cover - pyspark is a dependency of the extra
            raise SparkError(
                f"The spark engine needs pyspark ({exc}); install bvall[spark]."
            ) from exc

        class Compiler(PySparkCompiler):  # type: ignore[misc]
            def visit_GroupConcat(  # noqa: N802 - Ibis's visitor naming
                self, op: Any, *, arg: Any, sep: Any, where: Any, order_by: Any
            ) -> Any:
                if not order_by:
                    return super().visit_GroupConcat(
                        op, arg=arg, sep=sep, where=where, order_by=order_by
                    )
                return _ordered_group_concat(self, arg, sep, where, order_by)

            def visit_Cast(self, op: Any, *, arg: Any, to: Any) -> Any:  # noqa: N802
                source = op.arg.dtype
                if to.is_json() and source.is_struct():
                    return _json(self, arg, source)
                if to.is_string() and source.is_floating():
                    return _float_text(self, arg, json=False)
                return super().visit_Cast(op, arg=arg, to=to)

        backend = Backend()
        backend.register_options()  # ibis.options.pyspark, which the compiler reads
        backend.compiler = Compiler()
        _COMPILER.append(backend)
    return _COMPILER[0]


def _ordered_group_concat(compiler: Any, arg: Any, sep: Any, where: Any, order_by: Any) -> Any:
    """``array_join`` of the values sorted by their keys: ``collect_list`` of ``(k..., v)``
    structs, ``array_sort``-ed (ascending, struct fields in order), then ``transform``-ed back to
    the values. Ties between keys are broken by the value, so the result is deterministic."""
    import sqlglot as sg
    import sqlglot.expressions as sge
    from ibis.common.exceptions import UnsupportedOperationError

    keys = []
    for i, key in enumerate(order_by):
        if isinstance(key, sge.Ordered):
            if key.args.get("desc"):
                raise UnsupportedOperationError(
                    "GroupConcat ordered descending (only ascending keys are translated)"
                )
            key = key.this
        keys.append(sge.PropertyEQ(this=sg.to_identifier(f"k{i}"), expression=key))
    value = sge.PropertyEQ(this=sg.to_identifier("v"), expression=arg)
    item = sge.Struct(expressions=[*keys, value])
    keep = arg.is_(sge.null()).not_()
    if where is not None:
        keep = sge.and_(keep, where)
    collected = compiler.f.array_sort(compiler.f.collect_list(compiler.if_(keep, item, sge.null())))
    x = sg.to_identifier("bv_x")
    values = compiler.f.transform(
        collected,
        sge.Lambda(this=sge.Dot(this=x, expression=sg.to_identifier("v")), expressions=[x]),
    )
    return compiler.if_(
        compiler.f.size(collected).eq(0), sge.null(), compiler.f.array_join(values, sep)
    )


# DuckDB's text of a double, which the rules' explanations and ``inputs`` JSON carry: plain digits
# for 1e-4 <= |x| < 1e16 (``0.0001``, ``12345678.0``), else ``1e-05``/``1.5e+16`` (a cast to
# text); plain for 1e-6 <= |x| < 1e21, else ``1e-7``/``1.5e21`` (in JSON). Spark writes a
# double as Java does (``1.0E-4``, ``1.2345678E7``), with the same digits; :func:`_float_text`
# rewrites Spark's text into DuckDB's.


def _let(c: Any, value: Any, name: str, body: Any) -> Any:
    """``body`` with ``value`` bound to the variable ``name`` (``transform(array(value), name ->
    body)[0]``): an expression used many times is written, and evaluated, once."""
    import sqlglot as sg
    import sqlglot.expressions as sge

    var = sg.to_identifier(name)
    return c.f.element_at(
        c.f.transform(c.f.array(value), sge.Lambda(this=body(var), expressions=[var])),
        sge.convert(1),
    )


def _float_text(c: Any, x: Any, *, json: bool) -> Any:
    import sqlglot as sg
    import sqlglot.expressions as sge

    lit = sge.convert
    pattern = lit(r"^-?([0-9.]+)E(-?[0-9]+)$")

    def parts(java: Any) -> Any:  # Java's text, its digits and its exponent
        mantissa = c.f.regexp_extract(java, pattern, 1)
        return c.f.named_struct(
            lit("j"),
            java,
            lit("d"),
            c.f.regexp_replace(c.f.replace(mantissa, lit("."), lit("")), lit("0+$"), lit("")),
            lit("e"),
            c.cast(c.f.regexp_extract(java, pattern, 2), _dt("int32")),
        )

    def text(w: Any) -> Any:
        def field(name: str) -> Any:
            return sge.Dot(this=w, expression=sg.to_identifier(name))

        java, digits, e = field("j"), field("d"), field("e")
        n = c.f.length(digits)
        sign = c.if_(c.f.startswith(java, lit("-")), lit("-"), lit(""))
        small = c.f.concat(lit("0."), c.f.repeat(lit("0"), -e - 1), digits)
        large = c.if_(
            n <= e + 1,
            c.f.concat(digits, c.f.repeat(lit("0"), e + 1 - n), lit(".0")),
            c.f.concat(c.f.substr(digits, 1, e + 1), lit("."), c.f.substr(digits, e + 2)),
        )
        plain = c.if_(e < 0, small, large)
        head = c.f.concat(
            c.f.substr(digits, 1, 1),
            c.if_(n > 1, c.f.concat(lit("."), c.f.substr(digits, 2)), lit("")),
        )
        if json:
            low, high = -6, 21
            exponent = c.cast(e, _dt("string"))
        else:
            low, high = -4, 16
            exponent = c.f.concat(
                c.if_(e < 0, lit("-"), lit("+")),
                c.if_(c.f.abs(e) < 10, lit("0"), lit("")),
                c.cast(c.f.abs(e), _dt("string")),
            )
        scientific = c.f.concat(head, lit("e"), exponent)
        rewritten = c.f.concat(sign, c.if_((e >= low) & (e < high), plain, scientific))
        return c.if_(e.is_(sge.null()), java, rewritten)

    def choose(java: Any) -> Any:
        # Java writes 1e-3 <= |x| < 1e7 (and NaN, Infinity) without an exponent, as DuckDB does:
        # that text is kept as it is, and only one with an exponent is taken apart (regular
        # expressions, evaluated without generated code inside the lambda) and rewritten.
        plain = c.f.instr(java, lit("E")).eq(0)
        return c.if_(plain, java, _let(c, parts(java), "bv_t", text))

    if _simple(x):  # a column: its text written twice costs less than a lambda
        return choose(c.cast(x, _dt("string")))
    return _let(c, c.cast(x, _dt("string")), "bv_f", choose)


def _simple(x: Any) -> bool:
    """Whether ``x`` is a column, a lambda variable or a field of one (cheap to repeat)."""
    import sqlglot.expressions as sge

    if isinstance(x, (sge.Column, sge.Identifier)):
        return True
    if isinstance(x, sge.Dot):
        return _simple(x.this) and isinstance(x.expression, sge.Identifier)
    return False


def _json(c: Any, arg: Any, dtype: Any) -> Any:
    """``CAST(struct AS JSON)`` as DuckDB writes it: every field, NULL ones as ``null``, in
    order, numbers as :func:`_float_text`."""
    import sqlglot as sg
    import sqlglot.expressions as sge

    def text(struct: Any) -> Any:
        parts = []
        for i, (name, ftype) in enumerate(dtype.fields.items()):
            key = ("," if i else "") + f'"{name}":'
            value = sge.Dot(this=struct, expression=sg.to_identifier(name, quoted=c.quoted))
            parts.append(sge.convert(key))
            parts.append(c.f.coalesce(_json_value(c, value, ftype), sge.convert("null")))
        return c.f.concat(sge.convert("{"), *parts, sge.convert("}"))

    return _let(c, arg, "bv_j", text)


def _json_value(c: Any, x: Any, dtype: Any) -> Any:
    import sqlglot.expressions as sge
    from ibis.common.exceptions import UnsupportedOperationError

    if dtype.is_null():
        return sge.null()
    if dtype.is_string():

        def quoted(v: Any) -> Any:  # JSON-escaped by Spark: {"v":"..."} less its ends
            whole = c.f.to_json(c.f.named_struct(sge.convert("v"), v))
            return c.if_(v.is_(sge.null()), sge.null(), c.f.substr(whole, 6, c.f.length(whole) - 6))

        return _let(c, x, "bv_s", quoted)
    if dtype.is_boolean():
        return sge.Case(
            this=x,
            ifs=[
                sge.If(this=sge.true(), true=sge.convert("true")),
                sge.If(this=sge.false(), true=sge.convert("false")),
            ],
        )
    if dtype.is_integer():
        return c.cast(x, _dt("string"))
    if dtype.is_floating():
        return _float_text(c, x, json=True)
    if dtype.is_date():
        return c.f.concat(sge.convert('"'), c.cast(x, _dt("string")), sge.convert('"'))
    if dtype.is_struct():
        return c.if_(x.is_(sge.null()), sge.null(), _json(c, x, dtype))
    raise UnsupportedOperationError(f"Cast of a {dtype} field to JSON")


def compile_step(expr: Any) -> str:
    """Spark SQL of one step; an operation Ibis cannot translate raises :class:`SparkError`
    naming it."""
    import ibis.expr.operations as ops

    for node in expr.op().find((ops.ScalarUDF, ops.AggUDF)):
        raise SparkError(
            f"Ibis cannot translate {type(node).__name__} {node.__func_name__!r} for Spark SQL "
            "(a Python function would need registering in the session)"
        )
    try:
        return str(compiling_backend().compile(expr))
    except Exception as exc:
        raise SparkError(
            f"Ibis cannot translate {_untranslated(exc)} for Spark SQL: {exc}".rstrip()
        ) from exc


def _untranslated(exc: BaseException) -> str:
    """The Ibis operation whose translation failed (the innermost ``visit_*`` frame)."""
    found = re.search(
        r"rule for '?(\w+)'? operation|translation rule for (\w+)|[Oo]peration '?(\w+)'", str(exc)
    )
    if found:
        return f"operation {next(g for g in found.groups() if g)}"
    names = [
        f.name.removeprefix("visit_")
        for f in traceback.extract_tb(exc.__traceback__)
        if f.name.startswith("visit_") and f.name not in ("visit_node", "visit_Undefined")
    ]
    return f"operation {names[-1]}" if names else "an operation"


# --- the session ------------------------------------------------------------------------------

_SESSION_LOCK = threading.Lock()

#: What the SQL of a plan assumes: dates and times in UTC, and Spark's non-ANSI semantics that
#: Ibis's PySpark compiler is written for (a division by zero or a failed cast gives NULL, as in
#: DuckDB, where Spark 4's ANSI mode would raise), with the length of a NULL array NULL (as in
#: DuckDB; non-ANSI Spark would say -1).
_SQL_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.sizeOfNull": "false",
}


def check_master(master: str) -> str:
    """``master`` if it reads as a Spark master URL, else :class:`InputError` quoting it."""
    if not _MASTER.match(master):
        raise InputError(
            f"--spark-master {master!r} is not a Spark master URL; use local[N], local[*], "
            "spark://HOST:PORT, yarn or k8s://URL."
        )
    return master


def java_runtime() -> str:
    """The ``java`` Spark will start (``$JAVA_HOME/bin/java``, else on ``PATH``)."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if java.exists():
            return str(java)
        raise SparkError(f"JAVA_HOME={home!r} has no bin/java; Spark needs a Java runtime (17).")
    java_path = shutil.which("java")
    if java_path is None:
        raise SparkError(
            "Spark needs a Java runtime (17) and no 'java' is on PATH; install one "
            "(Debian: apt-get install default-jre-headless) or set JAVA_HOME."
        )
    return java_path


def session(
    master: str | None = None, *, config: Mapping[str, str] | None = None, app_name: str = "bvall"
) -> Any:
    """The Spark session derivations run in: the active one (``spark-submit``) when there is one
    and no ``master`` is given, else one started on ``master`` (default ``local[2]``), in UTC and
    without the web UI."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkError(f"The spark engine needs pyspark ({exc}); install bvall[spark].") from exc
    with _SESSION_LOCK:
        active = SparkSession.getActiveSession()
        if active is not None and master is None:
            for key, value in _SQL_SETTINGS.items():
                active.conf.set(key, value)
            return active
        master = check_master(master or DEFAULT_MASTER)
        java_runtime()
        settings = {
            **_SQL_SETTINGS,
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "4",
            "spark.driver.memory": "2g",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            **(config or {}),
        }
        builder = SparkSession.builder.master(master).appName(app_name)
        for key, value in settings.items():
            builder = builder.config(key, value)
        try:
            spark = builder.getOrCreate()
        except Exception as exc:
            raise SparkError(f"Cannot start Spark on master {master!r}: {exc}") from exc
        spark.sparkContext.setLogLevel("ERROR")
        return spark


# --- running a plan ---------------------------------------------------------------------------


def spark_schema(schema: pa.Schema) -> Any:
    """The Spark schema of an Arrow schema (NULL-typed columns become strings)."""
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType(
        [
            StructField(
                f.name, StringType() if pa.types.is_null(f.type) else from_arrow_type(f.type), True
            )
            for f in schema
        ]
    )


def dataframe(spark: Any, table: pa.Table) -> Any:
    """An Arrow table as a Spark DataFrame with the matching Spark types."""
    schema = spark_schema(table.schema)
    if table.num_rows == 0:
        return spark.createDataFrame([], schema)
    return spark.createDataFrame(table, schema=schema)


#: A cohort's tables as Spark sees them: an Arrow :class:`~bvall.cohort.model.Cohort`, or
#: DataFrames by table name (read from Parquet, already in the cohort schema's columns).
CohortInput = Cohort | Mapping[str, Any]


def _cohort_frame(spark: Any, cohort: CohortInput, name: str, schema: pa.Schema) -> Any:
    if isinstance(cohort, Cohort):
        from bvall.criteria.plans import _cohort_table

        return dataframe(spark, _cohort_table(cohort, name, schema))
    frame = cohort.get(name)
    if frame is None:
        return dataframe(spark, schema.empty_table())
    from pyspark.sql import functions as F  # noqa: N812

    types = spark_schema(schema)
    missing = [f.name for f in types if f.name not in frame.columns]
    return frame.select(
        [
            (F.lit(None) if f.name in missing else F.col(f.name)).cast(f.dataType).alias(f.name)
            for f in types
        ]
    )


@contextmanager
def running(plan: Any, cohort: CohortInput, spark: Any | None = None) -> Iterator[Any]:
    """Run a Spark ``plan`` on ``cohort``: yields the result DataFrame; its views and cached
    intermediates are dropped on leaving."""
    from bvall.criteria.plans import PlanError, read_once

    if plan.backend != "spark":
        raise PlanError(f"Cannot run a {plan.backend!r} plan on Spark; build it for 'spark'.")
    spark = spark if spark is not None else session()
    views: list[str] = []
    cached: list[Any] = []
    once = read_once(plan)
    try:
        for name, data in plan.constants.items():
            dataframe(spark, data).createOrReplaceTempView(name)
            views.append(name)
        for name, schema in plan.cohort_tables.items():
            _cohort_frame(spark, cohort, name, schema).createOrReplaceTempView(f"bv_cohort_{name}")
            views.append(f"bv_cohort_{name}")
        result = None
        for step in plan.steps:
            try:
                result = spark.sql(step.sql)
            except Exception as exc:
                raise PlanError(
                    f"Spark cannot run step {step.name or 'result'!r} of derivation "
                    f"{plan.what!r}: {str(exc).splitlines()[0]}"
                ) from exc
            if step.name is not None:
                # A step read by several later steps is kept (in memory, spilling to disk);
                # one read once is left to Spark to fuse into its reader's query, so the graded
                # values of a registry stream through to their summary and are never held.
                if step.name not in once:
                    result = result.persist()
                    cached.append(result)
                result.createOrReplaceTempView(step.name)
                views.append(step.name)
        if result is None:
            raise PlanError(f"plan {plan.what!r} has no steps")
        yield result
    finally:
        for frame in cached:
            frame.unpersist()
        for name in views:
            spark.catalog.dropTempView(name)


def to_arrow(frame: Any, plan: Any) -> pa.Table:
    """A result DataFrame collected as Arrow with the plan's result schema (Spark's own types -
    int32 for int64 literals, strings for large strings - cast as DuckDB's are)."""
    from bvall.criteria.plans import _typed

    step = plan.steps[-1]
    table = frame.toArrow()
    if table.num_rows == 0:
        return step.schema.empty_table()
    return _typed(table.rename_columns(step.schema.names), step)


def run_plan(plan: Any, cohort: CohortInput, spark: Any | None = None) -> pa.Table:
    """Run a Spark ``plan`` on ``cohort`` and collect the result as Arrow."""
    with running(plan, cohort, spark) as frame:
        return to_arrow(frame, plan)


def write_parquet(plan: Any, cohort: CohortInput, path: Path, spark: Any | None = None) -> Path:
    """Run a Spark ``plan`` and write its result as a folder of Parquet files, rows partitioned
    by a hash of ``patient_id`` (each patient's rows in one file), with the plan's column types."""
    from pyspark.sql import functions as F  # noqa: N812

    step = plan.steps[-1]
    types = spark_schema(step.schema)
    with running(plan, cohort, spark) as frame:
        frame = frame.select([F.col(f.name).cast(f.dataType) for f in types])
        if "patient_id" in frame.columns:
            frame = frame.repartition("patient_id")
        frame.write.mode("overwrite").parquet(str(path))
    return path
