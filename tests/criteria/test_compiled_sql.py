"""The compiled-SQL cache of the criteria engine (``bvall.criteria.expressions.connect``).

A derivation compiled for one cohort is reused for another with the same schemas; the reused SQL
must read the second cohort's data, never the first's, and give exactly what a fresh compile
gives.
"""

from __future__ import annotations

import pytest

import bvall.criteria as criteria
import bvall.criteria.expressions as expressions
from bvall.cohort import load_cohort


def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expressions, "_SQL_CACHE", type(expressions._SQL_CACHE)())
    monkeypatch.setattr(expressions, "_WORKSPACES", type(expressions._WORKSPACES)())
    monkeypatch.setattr(criteria, "_MEMO", type(criteria._MEMO)())


def test_reused_sql_reads_the_new_cohorts_data(monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_cohort("example")
    one, other = example.subset(["P05"]), example.subset(["P10", "P11"])
    _fresh(monkeypatch)
    first = criteria.derive(one, "crs")
    compiled = len(expressions._SQL_CACHE)
    assert compiled > 0
    reused = criteria.derive(other, "crs")
    # Same expressions, so nothing new was compiled ...
    assert len(expressions._SQL_CACHE) == compiled
    # ... and the rows are the other cohort's (P05 has the grade 3 CRS of the example cohort).
    assert set(first.column("patient_id").to_pylist()) == {"P05"}
    assert set(reused.column("patient_id").to_pylist()) <= {"P10", "P11"}
    _fresh(monkeypatch)
    assert criteria.derive(other, "crs").equals(reused)


def test_constant_tables_are_one_object_per_content() -> None:
    a = expressions.constant_table({"code": ["x", "y"], "value": [1, 2]})
    b = expressions.constant_table({"code": ["x", "y"], "value": [1, 2]})
    c = expressions.constant_table({"code": ["x", "y"], "value": [1, 3]})
    assert a is b
    assert a.op().name != c.op().name
