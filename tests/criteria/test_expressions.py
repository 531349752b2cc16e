"""The Ibis building blocks on the locked DuckDB/Ibis/sqlglot versions."""

from __future__ import annotations

import ibis
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from bvall.criteria.expressions import is_unknown, signif, signif_py

_decimal = st.builds(
    lambda digits, exponent: digits / 10**exponent,
    st.integers(min_value=1, max_value=999_999),
    st.integers(min_value=0, max_value=3),
)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(_decimal, _decimal), min_size=1, max_size=200))
def test_signif_recovers_exact_decimal_products(pairs: list[tuple[float, float]]) -> None:
    """admiral rounds both sides of a comparison with R's signif(x, 15) (CLINICAL.md 1.1) so that
    a product such as 3 x 33.3 equals the decimal 99.9 it stands for. For every product of two
    lab-style decimals (<= 6 significant digits, >= 0.001, so the exact product has <= 12
    significant digits), the rounded floating-point product must be exactly that decimal."""
    from decimal import Decimal

    con = ibis.duckdb.connect()
    products = [a * b for a, b in pairs]
    t = ibis.memtable(pa.table({"x": products}))
    out = con.to_pyarrow(t.select(r=signif(t.x, 15))).column("r").to_pylist()
    exact = [float(Decimal(repr(a)) * Decimal(repr(b))) for a, b in pairs]
    assert out == exact


@settings(max_examples=10, deadline=None)
@given(
    st.lists(
        st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=200,
    )
)
def test_signif_is_within_one_unit_of_the_15th_digit(values: list[float]) -> None:
    """Against Python's correctly rounded '%.15g' the SQL twin differs at most by one unit in the
    15th significant digit, and only for ties hidden in the 16th-17th digits."""
    con = ibis.duckdb.connect()
    t = ibis.memtable(pa.table({"x": values}))
    got = con.to_pyarrow(t.select(r=signif(t.x, 15))).column("r").to_pylist()
    for x, g in zip(values, got, strict=True):
        want = signif_py(x, 15)
        assert abs(g - want) <= abs(want) * 1.01e-14


def test_signif_fixes_the_floating_point_products_that_move_boundaries() -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable(pa.table({"x": [3 * 33.3, 0.1 * 3, 1.5 * 40.0, 0.0]}))
    assert con.to_pyarrow(t.select(r=signif(t.x, 15))).column("r").to_pylist() == [
        99.9,
        0.3,
        60.0,
        0.0,
    ]


def test_is_unknown_survives_negation() -> None:
    """Ibis 12 compiles (~x).isnull() to 'NOT (x) IS NULL', which SQL reads as
    NOT ((x) IS NULL); is_unknown goes through a cast instead."""
    con = ibis.duckdb.connect()
    t = ibis.memtable(pa.table({"d": ["a", "b", None]}))
    negated = ~t.d.isin(["a"])
    out = con.to_pyarrow(t.select(u=is_unknown(negated))).column("u").to_pylist()
    assert out == [False, False, True]


def test_duckdb_features_the_evaluators_use() -> None:
    """Window functions, argmax, struct-to-JSON casts and string lists on the locked versions
    (ibis-framework 12 with DuckDB 2 and sqlglot 27; no '->' lambdas, which DuckDB 2 refuses)."""
    con = ibis.duckdb.connect()
    t = ibis.memtable(pa.table({"p": ["a", "a", "b"], "c": [10, 20, 5], "v": ["x;y", "z", None]}))
    w = ibis.window(group_by="p", order_by="c")
    e = t.mutate(
        prev=t.c.lag().over(w),
        n=t.v.split(";").length(),
        j=ibis.struct({"c": t.c}).cast("json").cast("string"),
    )
    rows = con.to_pyarrow(e.order_by(["p", "c"])).to_pylist()
    assert [(r["prev"], r["n"], r["j"]) for r in rows] == [
        (None, 2, '{"c":10}'),
        (10, 1, '{"c":20}'),
        (None, None, '{"c":5}'),
    ]
    agg = con.to_pyarrow(t.group_by("p").aggregate(last=t.v.argmax(t.c)).order_by("p"))
    assert agg.column("last").to_pylist() == ["z", None]


def test_arg_max_keeps_the_row_together() -> None:
    """SQL arg_max skips NULL values (DuckDB's arg_max, Spark's max_by) and would return another
    row's value: a baseline's ULN or a fever's clock time must come from the same record."""
    import duckdb

    from bvall.criteria.expressions import arg_max, arg_min

    con = ibis.duckdb.connect()
    t = ibis.memtable(pa.table({"g": ["a", "a"], "k": [1, 2], "v": ["early", None]}))
    out = con.to_pyarrow(
        t.group_by("g").aggregate(last=arg_max(t.v, t.k), first=arg_min(t.v, t.k))
    ).to_pylist()[0]
    assert (out["last"], out["first"]) == (None, "early")
    raw = duckdb.connect().sql("select arg_max(v, k) from (values ('early', 1), (null, 2)) t(v, k)")
    assert raw.fetchall() == [("early",)]  # the pitfall the helper avoids
