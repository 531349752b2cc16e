"""The derivations on Apache Spark (``bvall.criteria.spark``): the same plans, compiled by Ibis's
PySpark backend, must give what DuckDB gives, row by row after sorting, for every derivation of
the example and published cohorts and for a sample of the benchmark registry. One local Spark
session (Java 17) serves the module.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bvall.cohort import load_cohort
from bvall.criteria import plans
from bvall.criteria.plans import QUERIES, PlanError, derive_planned, load_plan, plan_features
from bvall.errors import InputError
from tests.criteria.test_plans import _assert_same, _registry_sample

pytest.importorskip("pyspark")
pytestmark = [
    pytest.mark.slow,
    # PySpark leaves the sockets of its Arrow collection to the garbage collector.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

if shutil.which("java") is None:  # pragma: no cover - CI installs Debian's headless JRE
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)


@pytest.fixture(scope="module")
def spark() -> Any:
    from bvall.criteria import spark as bv_spark

    session = bv_spark.session("local[2]", config={"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


def _on_spark(cohort: Any, what: str, session: Any) -> pa.Table:
    from bvall.criteria import spark as bv_spark

    return bv_spark.run_plan(
        load_plan(what, plan_features(cohort), backend="spark"), cohort, session
    )


@pytest.mark.parametrize("what", list(QUERIES))
@pytest.mark.parametrize("name", ["example", "published"])
def test_every_derivation_is_identical_on_spark(name: str, what: str, spark: Any) -> None:
    cohort = load_cohort(name)
    _assert_same(_on_spark(cohort, what, spark), derive_planned(cohort, what), f"{name}/{what}")


def test_the_registry_sample_is_identical_on_spark(spark: Any) -> None:
    sample = _registry_sample(4)
    for what in ("grades", "worst_grades"):
        got = _on_spark(sample, what, spark)
        assert got.num_rows > 0
        _assert_same(got, derive_planned(sample, what), f"registry/{what}")


def test_the_python_api_takes_the_engine(spark: Any) -> None:
    import bvall.criteria as criteria

    cohort = load_cohort("example").subset(["P05"])
    got = criteria.derive(cohort, "risk", engine="spark")
    _assert_same(got, criteria.derive(cohort, "risk"), "risk")
    with pytest.raises(PlanError, match="'sparkle'"):
        criteria.derive(cohort, "risk", engine="sparkle")


# --- what Spark writes as text: DuckDB's own output is the reference --------------------------

VALUES = [1e-7, 2.5e-7, 1e-6, 1.25e-5, 1e-4, 0.00055, 0.001, 0.345, 38.6, 111.0, -0.0]
VALUES += [-3.5e-5, 1234567.0, 12345678.0, -12345678.9, 123456789012.5, 1e16, 1e20, 1.5e21]
VALUES += [1e22, 1.5e-300]


def test_numbers_and_json_text_are_duckdbs(spark: Any) -> None:
    """A double cast to text and a struct cast to JSON (the ``inputs`` column) read as DuckDB
    writes them, though Java writes ``1.0E-4``: compared with DuckDB running the same query."""
    import ibis

    from bvall.criteria import spark as bv_spark
    from bvall.criteria.expressions import connect, named_memtable

    data = pa.table(
        {
            "x": VALUES,
            "s": ['a"b\\c\n/é', None] * (len(VALUES) // 2) + ["é"],
            "b": [True, False, None] * (len(VALUES) // 3),
        }
    )
    t = named_memtable(data, "bv_cohort_numbers")
    expr = t.select(
        t.x,
        text=t.x.cast("string"),
        json=ibis.struct({"x": t.x, "s": t.s, "b": t.b, "n": ibis.null("float64")})
        .cast("json")
        .cast("string"),
    )
    expected = connect().to_pyarrow(expr).sort_by("x")
    bv_spark.dataframe(spark, data).createOrReplaceTempView("bv_cohort_numbers")
    try:
        got = spark.sql(bv_spark.compile_step(expr)).toArrow().sort_by("x")
    finally:
        spark.catalog.dropTempView("bv_cohort_numbers")
    assert got["text"].to_pylist() == expected["text"].to_pylist()
    assert got["json"].to_pylist() == expected["json"].to_pylist()
    duckdb_text = dict(zip(expected["x"].to_pylist(), expected["text"].to_pylist(), strict=True))
    assert (duckdb_text[1.25e-5], duckdb_text[1e-4]) == ("1.25e-05", "0.0001")  # not Java's


# --- what cannot run on Spark says so ---------------------------------------------------------


def untranslatable_query(ws: Any, settings: Any) -> Any:
    """A query with an operation Ibis's PySpark compiler refuses (kurtosis)."""
    labs = ws.table("labs")
    return ws.cached(
        "kurtosis_of_values",
        lambda: labs.group_by("patient_id").aggregate(k=labs.value.kurtosis()),
    )


def test_an_untranslatable_rule_names_itself_and_the_operation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(plans.QUERIES, "kurtosis", "tests.criteria.test_spark:untranslatable_query")
    features = {"labs_qualified": False, "complete": []}
    plans.plan_derivation("kurtosis", plans.CriteriaSettings(), features, "duckdb")  # fine
    with pytest.raises(PlanError) as error:
        plans.plan_derivation("kurtosis", plans.CriteriaSettings(), features, "spark")
    message = str(error.value)
    assert "'kurtosis'" in message
    assert "untranslatable_query" in message
    assert "kurtosis_of_values" in message
    assert "operation Kurtosis" in message


def test_a_bad_master_url_is_quoted() -> None:
    from bvall.criteria import spark as bv_spark

    with pytest.raises(InputError, match=r"'spark//host:7077'"):
        bv_spark.check_master("spark//host:7077")
    for good in ("local", "local[2]", "local[*]", "spark://a.b:7077", "yarn"):
        assert bv_spark.check_master(good) == good


def test_no_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from bvall.criteria import spark as bv_spark

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(bv_spark.SparkError, match="Java runtime"):
        bv_spark.java_runtime()
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    with pytest.raises(bv_spark.SparkError, match="'/nonexistent/jdk'"):
        bv_spark.java_runtime()


# --- the command line ------------------------------------------------------------------------


def test_derive_writes_parquet_from_spark(run_cli: Any, tmp_path: Path, spark: Any) -> None:
    result = run_cli(
        "derive", "example", "--what", "risk", "--engine", "spark",
        "--out", str(tmp_path / "spark"), "--format", "parquet",
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    result = run_cli(
        "derive", "example", "--what", "risk", "--out", str(tmp_path / "duckdb"),
        "--format", "parquet",
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    spark_files = sorted((tmp_path / "spark" / "risk").glob("*.parquet"))
    assert spark_files
    got = pa.concat_tables([pq.read_table(f) for f in spark_files])
    expected = pq.read_table(tmp_path / "duckdb" / "risk" / "part-00000.parquet")
    _assert_same(got.cast(expected.schema), expected, "risk")


def test_derive_refuses_a_bad_master(run_cli: Any) -> None:
    result = run_cli(
        "derive", "example", "--what", "risk", "--engine", "spark", "--spark-master", "local[two]"
    )
    assert result.exit_code != 0
    assert "'local[two]'" in result.stdout + result.stderr
