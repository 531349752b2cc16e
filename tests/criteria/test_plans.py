"""Derivation plans (``bvall.criteria.plans``): built once from the rules, run on any cohort.

The plan path (SQL replayed on registered Arrow tables) must give exactly what building the Ibis
expressions and executing them directly gives, for every derivation, on the example and published
cohorts, on single patients and on a sample of the benchmark registry.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import bvall.criteria as criteria
from bvall.cohort import Cohort, load_cohort
from bvall.cohort.model import table_digest
from bvall.criteria import CriteriaSettings, plans
from bvall.criteria.expressions import Workspace
from bvall.criteria.plans import (
    QUERIES,
    PlanError,
    derive_planned,
    derive_unplanned,
    load_plan,
    plan_features,
    plan_from_json,
    plan_to_json,
)

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _sorted(table: pa.Table) -> pa.Table:
    keys = [
        (name, "ascending")
        for name, column in zip(table.column_names, table.columns, strict=True)
        if not pa.types.is_nested(column.type)
    ]
    return table.sort_by(keys) if keys and table.num_rows else table


def _assert_same(planned: pa.Table, fresh: pa.Table, what: str) -> None:
    assert planned.schema == fresh.schema, what
    assert planned.num_rows == fresh.num_rows, what
    a, b = _sorted(planned), _sorted(fresh)
    for name in a.column_names:
        assert a[name].equals(b[name]), f"{what}: column {name} differs"


def _registry_sample(n: int = 12) -> Cohort:
    """Patients of ``benchmarks/registry.py`` (its labs, seed 20240301) as a cohort with an
    induction course starting on D1."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from registry import registry_cohort
    finally:
        sys.path.remove(str(BENCHMARKS))
    cohort: Cohort = registry_cohort(n)
    return cohort


def _check_all(cohort: Cohort, settings: CriteriaSettings | None = None) -> None:
    ws = Workspace(cohort)
    for what in criteria.DERIVATIONS:
        fresh = derive_unplanned(cohort, what, settings, ws=ws)
        _assert_same(derive_planned(cohort, what, settings), fresh, f"{cohort.name}/{what}")


def test_derivations_are_the_planned_queries() -> None:
    assert list(criteria.DERIVATIONS) == list(QUERIES)


@pytest.mark.parametrize("name", ["example", "published"])
def test_planned_equals_fresh_on_bundled_cohorts(name: str) -> None:
    _check_all(load_cohort(name))


def test_planned_equals_fresh_on_single_patients() -> None:
    example = load_cohort("example")
    # P05 has the grade 3 CRS, P08 febrile neutropenia.
    for patient in ("P05", "P08"):
        _check_all(example.subset([patient]))


def test_planned_equals_fresh_on_a_registry_sample() -> None:
    sample = _registry_sample()
    assert sample["labs"].num_rows == 12 * 60 * 10
    _check_all(sample)


def test_planned_equals_fresh_under_other_settings() -> None:
    """Intermediates of one cohort are shared between derivations only when they are the same
    computation: after the default settings, other settings must not reuse their labs."""
    example = load_cohort("example").subset(["P02", "P09"])
    for what in QUERIES:
        derive_planned(example, what)
    other = CriteriaSettings(baseline_last_day=3, missing_baseline="admiral")
    _check_all(example, other)


def test_a_qualified_lab_value_gets_its_own_plan() -> None:
    """Whether a cohort has censored lab values (``<0.1``) changes the grading SQL: the plan
    records the fact and another cohort gets another plan, which still equals a fresh build."""
    example = load_cohort("example").subset(["P04"])
    labs = example["labs"]
    qualifier = pa.array(["<"] + [None] * (labs.num_rows - 1), pa.string())
    tables = {n: example[n] for n in example.table_names}
    tables["labs"] = labs.set_column(
        labs.schema.get_field_index("qualifier"), "qualifier", qualifier
    )
    censored = Cohort(tables, example.metadata)
    assert plan_features(censored)["labs_qualified"] is True
    assert plan_features(example)["labs_qualified"] is False
    a = load_plan("grades", plan_features(censored))
    b = load_plan("grades", plan_features(example))
    assert a.key != b.key
    assert a.features["labs_qualified"] is True
    fresh = derive_unplanned(censored, "grades")
    _assert_same(derive_planned(censored, "grades"), fresh, "grades with a qualifier")


def _fresh_copy(cohort: Cohort) -> Cohort:
    """The same tables in a new cohort object (no intermediate of ``cohort`` is reused)."""
    return Cohort({n: cohort[n] for n in cohort.table_names}, cohort.metadata)


@pytest.fixture
def no_reuse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step runs (none is taken from an earlier run on the same content)."""
    monkeypatch.setattr(plans, "REUSE_BELOW_ROWS", -1)


@pytest.mark.parametrize("name", ["example", "published", "registry"])
def test_the_optimiser_changes_no_result(name: str, no_reuse: None) -> None:
    """Small cohorts run with DuckDB's optimiser off: every derivation is the same with it on
    (the bundled cohorts, one patient alone, a registry sample)."""
    cohort = _registry_sample() if name == "registry" else load_cohort(name)
    cohorts = [cohort, cohort.subset([cohort.patient_ids[-1]])]
    for c in cohorts:
        features = plan_features(c)
        for what in QUERIES:
            plan = load_plan(what, features)
            on = plans.run_plan(plan, _fresh_copy(c), optimise=True)
            off = plans.run_plan(plan, _fresh_copy(c), optimise=False)
            _assert_same(off, on, f"{name}/{len(c.patient_ids)} patients/{what}")


@pytest.mark.parametrize("name", ["example", "registry"])
def test_a_streamed_run_changes_no_result(name: str, no_reuse: None) -> None:
    """Registry-scale cohorts run streamed (steps read once become DuckDB views, nothing is
    held as Arrow): every derivation is the same as with every step materialised."""
    cohort = _registry_sample() if name == "registry" else load_cohort(name)
    features = plan_features(cohort)
    streamed = 0
    for what in QUERIES:
        plan = load_plan(what, features)
        streamed += len(plans.read_once(plan))
        _assert_same(
            plans.run_plan(plan, _fresh_copy(cohort), stream=True),
            plans.run_plan(plan, _fresh_copy(cohort), stream=False, optimise=True),
            f"{name}/{what} streamed",
        )
    assert streamed > len(QUERIES)  # most plans have steps that become views


def test_a_streamed_run_holds_no_step_as_arrow_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, no_reuse: None
) -> None:
    """Above STREAM_ABOVE_ROWS no step is materialised as Arrow: steps read once are views and
    the others temporary tables, dropped after the run (also when a step fails); nothing is
    kept for the cohort's next derivation, and DuckDB spills to the process's own folder."""
    example = load_cohort("example")
    plan = load_plan("endpoints", plan_features(example))
    named = {s.name for s in plan.steps if s.name is not None}
    assert plans.read_once(plan)  # views
    assert named - plans.read_once(plan)  # and temporary tables
    monkeypatch.setattr(plans, "STREAM_ABOVE_ROWS", 0)
    materialised: list[str | None] = []
    execute = plans._execute

    def counting(conn: Any, step: Any) -> pa.Table:
        materialised.append(step.name)
        return execute(conn, step)

    monkeypatch.setattr(plans, "_execute", counting)
    cohort = _fresh_copy(example)
    plans.run_plan(plan, cohort)
    assert plans._LOCAL.optimised is True
    assert materialised == [None]  # the result alone comes back as Arrow
    con = plans._connection(True).con
    left = (
        "SELECT (SELECT count(*) FROM duckdb_views() WHERE view_name LIKE 'bv_step_%') + "
        "(SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'bv_step_%')"
    )
    assert con.execute(left).fetchall() == [(0,)]
    assert plans._steps_of(cohort)[0] == {}
    spill = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert spill == plans._spill_folder()
    assert Path(spill).is_dir()
    broken = dataclasses.replace(
        plan,
        steps=(*plan.steps[:-1], dataclasses.replace(plan.steps[-1], sql="SELECT nothing")),
    )
    with pytest.raises(duckdb.Error):
        plans.run_plan(broken, _fresh_copy(example))
    assert con.execute(left).fetchall() == [(0,)]


def test_large_cohorts_grade_in_the_compiled_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above COMPILED_FORM_ABOVE_ROWS lab values DuckDB plans grade in the compiled form; every
    derivation is the same in both forms (the bundled example and a registry sample)."""
    example = load_cohort("example")
    assert plan_features(example)["lab_form"] == "rows"
    monkeypatch.setattr(plans, "COMPILED_FORM_ABOVE_ROWS", example["labs"].num_rows - 1)
    assert plan_features(example)["lab_form"] == "compiled"
    for cohort in (example, _registry_sample()):
        features = {**plan_features(cohort), "lab_form": "rows"}
        compiled = {**features, "lab_form": "compiled"}
        for what in QUERIES:
            rows_plan, compiled_plan = load_plan(what, features), load_plan(what, compiled)
            if what == "grades":
                assert {s.sql for s in rows_plan.steps} != {s.sql for s in compiled_plan.steps}
            _assert_same(
                plans.run_plan(compiled_plan, _fresh_copy(cohort)),
                plans.run_plan(rows_plan, _fresh_copy(cohort)),
                f"{cohort.metadata.name}/{what} compiled form",
            )
    # Spark plans are compiled whatever the size: one plan for both.
    spark = {"labs_qualified": False, "complete": []}
    assert plans._backend_features({**spark, "lab_form": "rows"}, "spark") == {
        **spark,
        "lab_form": "compiled",
    }


@pytest.mark.parametrize("optimise", [False, True])
def test_no_derivation_depends_on_the_order_of_rows(optimise: bool, no_reuse: None) -> None:
    """Every table's rows read in reverse give the same derivations: lists in a text (the
    anti-infectives of an infection, the vasopressors of a CRS episode) are sorted, and ties
    are broken by the data, not by the order DuckDB happens to read the rows in."""
    example = load_cohort("example")
    for c in (example, example.subset(["P08"])):
        reverse = Cohort(
            {
                n: c[n].take(pa.array(range(c[n].num_rows - 1, -1, -1), pa.int64()))
                for n in c.table_names
            },
            c.metadata,
        )
        for what in QUERIES:
            plan = load_plan(what, plan_features(c))
            _assert_same(
                plans.run_plan(plan, reverse, optimise=optimise),
                plans.run_plan(plan, _fresh_copy(c), optimise=optimise),
                f"{len(c.patient_ids)} patients/{what}, rows reversed",
            )


def _count_runs(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    ran: list[str | None] = []
    execute = plans._execute

    def counted(con: Any, step: plans.Step) -> pa.Table:
        ran.append(step.name)
        return execute(con, step)

    monkeypatch.setattr(plans, "_execute", counted)
    return ran


def _with_lab_value(cohort: Cohort, row: int, value: float) -> Cohort:
    labs = cohort["labs"]
    values = labs["value"].to_pylist()
    values[row] = value
    tables = {n: cohort[n] for n in cohort.table_names}
    tables["labs"] = labs.set_column(
        labs.schema.get_field_index("value"), "value", pa.array(values, pa.float64())
    )
    return Cohort(tables, cohort.metadata)


def test_steps_are_reused_by_content_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new cohort object with a changed lab value runs again only the steps that read the
    labs (directly or through earlier steps); the others are taken from the earlier run, and
    every result equals a run with nothing reused."""
    patient = load_cohort("example").subset(["P05"])
    first = {w: plans.run_plan(load_plan(w, plan_features(patient)), patient) for w in QUERIES}
    ran = _count_runs(monkeypatch)
    again = {
        w: plans.run_plan(load_plan(w, plan_features(patient)), _fresh_copy(patient))
        for w in QUERIES
    }
    assert ran == []  # the same content: nothing runs
    for what in QUERIES:
        assert again[what] is first[what]
    anc = patient["labs"]["test"].to_pylist().index("anc")
    changed = _with_lab_value(patient, anc, 0.05)  # grade 4 neutrophil count decreased
    got = {w: plans.run_plan(load_plan(w, plan_features(changed)), changed) for w in QUERIES}
    plan = load_plan("crs", plan_features(changed))
    assert "labs" not in plan.cohort_tables
    assert got["crs"] is first["crs"]
    assert got["icans"] is first["icans"]
    assert "bv_step_labs" in ran
    assert "bv_step_grades" in ran
    assert "bv_step_crs" not in ran
    assert "bv_step_doses" not in ran
    monkeypatch.setattr(plans, "REUSE_BELOW_ROWS", -1)
    ran.clear()
    for what in QUERIES:
        _assert_same(got[what], derive_unplanned(changed, what), f"changed/{what}")
    fresh_grades = plans.run_plan(load_plan("grades", plan_features(changed)), _fresh_copy(changed))
    assert "bv_step_grades" in ran
    _assert_same(got["grades"], fresh_grades, "grades, nothing reused")
    assert not got["grades"].equals(first["grades"])


def test_table_digest_follows_values_not_buffers() -> None:
    """Equal tables whose buffers differ under a null have one digest; any change of a value,
    a null or a type gives another."""

    def floats(under_null: float) -> pa.Array:
        data = pa.py_buffer(np.array([1.5, under_null, 3.0]).tobytes())
        validity = pa.py_buffer(bytes([0b101]))
        return pa.Array.from_buffers(pa.float64(), 3, [validity, data], null_count=1)

    a, b = pa.table({"x": floats(0.0)}), pa.table({"x": floats(99.0)})
    assert a.equals(b)
    assert table_digest(a) == table_digest(b)
    others = [
        pa.table({"x": [1.5, None, 3.5]}),
        pa.table({"x": [1.5, 0.0, 3.0]}),
        pa.table({"x": pa.array([1.5, None, 3.0], pa.float32())}),
        pa.table({"y": [1.5, None, 3.0]}),
    ]
    digests = {table_digest(t) for t in others}
    assert len(digests) == len(others)
    assert table_digest(a) not in digests


def test_ties_are_broken_by_the_data() -> None:
    """Two albumin values of one day without a clock time: the calcium correction takes the lower, whichever row
    comes first (Payne: 1.6 + 0.02 x (40 - 30) = 1.8 mmol/L, grade 2; with 35 g/L it would be
    1.7, grade 3; CTCAE v5.0 hypocalcaemia G2 < 2.0-1.75, G3 < 1.75-1.5 mmol/L). Grades are
    listed in one total order."""

    def lab(test: str, value: float, unit: str, point: str | None) -> dict[str, Any]:
        return {
            "patient_id": "T1",
            "test": test,
            "value": value,
            "unit": unit,
            "study_day": 1,
            "timepoint": point,  # two draws of D1, no clock time recorded
        }

    rows = [
        lab("calcium", 1.6, "mmol/L", None),
        lab("albumin", 35.0, "g/L", "baseline_d1"),
        lab("albumin", 30.0, "g/L", None),
    ]
    grades = []
    for order in (rows, rows[::-1]):
        cohort = Cohort.from_tables(
            {
                "patients": pa.table({"patient_id": ["T1"], "sex": ["F"], "age_years": [50]}),
                "labs": pa.Table.from_pylist(
                    [
                        {**r, "ref_low": 2.2, "ref_high": 2.6} if r["test"] == "calcium" else r
                        for r in order
                    ]
                ),
            },
            {"name": "tie"},
        )
        got = derive_planned(cohort, "grades")
        hypo = [r for r in got.to_pylist() if r["term_id"] == "hypocalcemia"]
        assert len(hypo) == 1
        grades.append((hypo[0]["grade"], hypo[0]["explanation"]))
        keys = ["patient_id", "term_id", "day", "time", "explanation", "inputs"]
        listed = got.select(keys).to_pylist()
        assert listed == sorted(listed, key=lambda r: [(v is not None, v) for v in r.values()])
    assert grades[0] == grades[1]
    assert grades[0][0] == 2, grades[0][1]


def test_small_cohorts_reuse_their_prepared_statements(no_reuse: None) -> None:
    """Without the optimiser the tables are holders registered once: deriving another patient
    registers nothing new (so DuckDB binds no statement again), and gives what a run with the
    optimiser (tables registered anew, statements bound again) gives."""
    example = load_cohort("example")
    first, second = example.subset(["P05"]), example.subset(["P08"])
    for what in QUERIES:
        plans.run_plan(load_plan(what, plan_features(first)), first, optimise=False)
    conn = plans._connection(False)
    holders = {n: id(h) for n, h in conn.holders.items()}
    prepared = dict(conn.prepared)
    for what in QUERIES:
        plan = load_plan(what, plan_features(second))
        got = plans.run_plan(plan, _fresh_copy(second), optimise=False)
        _assert_same(got, plans.run_plan(plan, _fresh_copy(second), optimise=True), what)
    assert {n: id(h) for n, h in conn.holders.items()} == holders
    assert dict(conn.prepared) == prepared


def test_a_holder_given_another_schema_is_registered_anew() -> None:
    conn = plans._connection(False)
    conn.put("bv_test_holder", pa.table({"x": [1, 2]}))
    conn.con.execute("PREPARE bv_test_sum AS SELECT sum(x) AS s FROM bv_test_holder")
    conn.put("bv_test_holder", pa.table({"x": [5, 6, 7]}))
    assert conn.con.sql("EXECUTE bv_test_sum").fetchall() == [(18,)]
    conn.put("bv_test_holder", pa.table({"x": [0.5, 0.25]}))  # another type: bound again
    assert conn.con.sql("EXECUTE bv_test_sum").fetchall() == [(0.75,)]
    conn.con.execute("DEALLOCATE bv_test_sum")


def test_the_optimiser_is_off_for_small_cohorts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_cohort("example")
    plan = load_plan("tls", plan_features(example))
    rows = sum(example[t].num_rows for t in plan.cohort_tables)
    states = []
    for limit in (rows, rows - 1):
        monkeypatch.setattr(plans, "OPTIMISE_ABOVE_ROWS", limit)
        plans.run_plan(plan, _fresh_copy(example))
        states.append(plans._LOCAL.optimised)
    assert states == [False, True]


def test_plan_records_its_inputs_and_steps() -> None:
    plan = load_plan("endpoints", plan_features(load_cohort("example")))
    names = [s.name for s in plan.steps]
    assert names[-1] is None
    assert "bv_step_grades" in names
    made: set[str] = set()
    for step in plan.steps:
        for table in step.inputs:
            assert (
                table in made
                or table in plan.constants
                or table.removeprefix("bv_cohort_") in plan.cohort_tables
            ), table
        if step.name is not None:
            made.add(step.name)
    assert "labs" in plan.cohort_tables
    assert plan.constants
    assert "bv_step_grades <- " in plan.describe()


def test_plan_survives_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    features = plan_features(load_cohort("example"))
    # built here (Ibis's SQL text may differ from a build in another process: the default
    # cache folder may hold such a plan, equal in results but not in text)
    monkeypatch.setattr(plans, "_PLANS", {})
    plan = load_plan("crs", features, cache_dir=tmp_path)
    again = plan_from_json(plan_to_json(plan))
    assert again == plan
    # Saved in the cache folder and loaded from it by a process that never built it.
    monkeypatch.setattr(plans, "_PLANS", {})
    saved = load_plan("crs", features, cache_dir=tmp_path)
    assert saved == plan
    assert len(list(tmp_path.glob("crs-duckdb-*.plan"))) == 1
    monkeypatch.setattr(plans, "_PLANS", {})

    def no_build(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the plan was built again")

    monkeypatch.setattr(plans, "plan_derivation", no_build)
    assert load_plan("crs", features, cache_dir=tmp_path) == plan
    # A damaged file is rebuilt rather than trusted.
    path = next(tmp_path.glob("crs-duckdb-*.plan"))
    path.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(plans, "_PLANS", {})
    with pytest.raises(AssertionError, match="built again"):
        load_plan("crs", features, cache_dir=tmp_path)


def test_unused_plans_are_pruned_when_a_plan_is_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plans of older builds or settings are never read again; a plan unused for
    PLAN_UNUSED_DAYS goes when another is saved, a plan read recently stays."""
    import time

    features = plan_features(load_cohort("example"))
    monkeypatch.setattr(plans, "_PLANS", {})
    load_plan("risk", features, cache_dir=tmp_path)
    kept = next(tmp_path.glob("risk-duckdb-*.plan"))
    stale = tmp_path / "grades-duckdb-0123456789abcdef.plan"
    stale.write_text("{}", encoding="utf-8")
    old = time.time() - (plans.PLAN_UNUSED_DAYS + 1) * 86400
    os.utime(stale, (old, old))
    os.utime(kept, (old, old))
    # reading the kept plan marks it as used
    monkeypatch.setattr(plans, "_PLANS", {})
    load_plan("risk", features, cache_dir=tmp_path)
    assert kept.stat().st_mtime > old + 86400
    # saving another plan prunes the stale one only
    load_plan("eligibility", features, cache_dir=tmp_path)
    assert not stale.exists()
    assert kept.exists()
    assert len(list(tmp_path.glob("eligibility-duckdb-*.plan"))) == 1


def test_plan_key_follows_settings_and_features() -> None:
    features = {"labs_qualified": False, "complete": []}
    default = plans.plan_key("grades", CriteriaSettings(), features, "duckdb")
    assert default == plans.plan_key("grades", CriteriaSettings(), dict(features), "duckdb")
    assert default != plans.plan_key(
        "grades", CriteriaSettings(baseline_last_day=2), features, "duckdb"
    )
    assert default != plans.plan_key(
        "grades", CriteriaSettings(), {**features, "complete": ["ICANS"]}, "duckdb"
    )
    assert default != plans.plan_key("worst_grades", CriteriaSettings(), features, "duckdb")


def test_a_query_that_cannot_be_planned_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    import bvall.criteria.grades as grades

    def unsupported(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("no such operation on this backend")

    # The lab grading fails inside the worst-grades query: the error names the derivation, the
    # query, the step being built and the function that failed.
    monkeypatch.setattr(grades, "grade_lab_values", unsupported)
    features = {"labs_qualified": False, "complete": []}
    with pytest.raises(
        PlanError,
        match=r"'worst_grades'.*'duckdb'.*worst_grades_query failed at step 'grades' "
        r"in _grades \(grades.py:\d+\): no such operation",
    ):
        plans.plan_derivation("worst_grades", CriteriaSettings(), features)
    with pytest.raises(PlanError, match=r"'oracle'.*duckdb, spark"):
        plans.plan_derivation("risk", CriteriaSettings(), {}, backend="oracle")


def test_threads_derive_their_own_cohorts() -> None:
    example = load_cohort("example")
    cohorts = [example.subset([p]) for p in ("P01", "P05", "P10")]
    expected = [derive_planned(c, "tls") for c in cohorts]
    again = [example.subset([p]) for p in ("P01", "P05", "P10")]
    got: dict[int, pa.Table] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            got[i] = derive_planned(again[i], "tls")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(3):
        assert got[i].equals(expected[i])


def test_a_process_with_saved_plans_never_imports_ibis(tmp_path: Path) -> None:
    """The run path registers Arrow tables and executes SQL; Ibis is only for building plans."""
    env = {**os.environ, "BVALL_PLAN_CACHE": str(tmp_path)}
    code = (
        "import sys\n"
        "from bvall.cohort import load_cohort\n"
        "from bvall.criteria import derive, load_plans\n"
        "c = load_cohort('example').subset(['P05'])\n"
        "{warm}"
        "t = derive(c, 'endpoints')\n"
        "print(t.num_rows, 'ibis' in sys.modules)\n"
    )
    warm = subprocess.run(
        [sys.executable, "-c", code.format(warm="load_plans(c)\n")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert warm.stdout.split() == ["1", "True"]
    cold = subprocess.run(
        [sys.executable, "-c", code.format(warm="")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert cold.stdout.split() == ["1", "False"]


def test_plans_loaded_ahead_are_those_a_small_cohort_runs() -> None:
    """``load_plans()`` without a cohort (a server's start) loads the very plans a cohort of a
    few patients declaring nothing complete runs, so its first page builds none."""
    loaded = {p.key for p in plans.load_plans(what=["grades", "tls"])}
    sample = _registry_sample()
    assert plan_features(sample)["complete"] == []
    for what in ("grades", "tls"):
        assert load_plan(what, plan_features(sample)).key in loaded


def test_a_plan_is_the_same_text_in_every_process() -> None:
    """Two processes with other string hashes write the same SQL for every step (Ibis lists the
    columns a projection drops from a set). Otherwise plans from the cache, built by different
    processes, share no step: lab grading ran twice for one patient's derivations."""
    code = (
        "import hashlib\n"
        "from bvall.cohort import load_cohort\n"
        "from bvall.criteria import plans\n"
        "from bvall.criteria.settings import CriteriaSettings\n"
        "f = plans.plan_features(load_cohort('example').subset(['P01']))\n"
        "h = hashlib.sha256()\n"
        "for what in ('grades', 'response', 'endpoints'):\n"
        "    for step in plans.plan_derivation(what, CriteriaSettings(), f).steps:\n"
        "        h.update(step.sql.encode())\n"
        "print(h.hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1, digests


def _child_spill_folder(queue: Any) -> None:
    queue.put(plans._spill_folder())


def test_a_forked_worker_spills_to_its_own_folder_and_leaves_its_parents() -> None:
    """A web worker forked from a process that made its spill folder makes its own, and its
    exit leaves the parent's in place."""
    import multiprocessing

    mine = plans._spill_folder()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_spill_folder, args=(queue,))
    child.start()
    theirs = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert theirs != mine
    assert Path(mine).is_dir()


def _without_arrow_sorts(plan: Any) -> Any:
    steps = tuple(dataclasses.replace(s, sort_keys=()) for s in plan.steps)
    return dataclasses.replace(plan, steps=steps)


@pytest.mark.parametrize("name", ["example", "published", "registry"])
def test_steps_sorted_with_arrow_give_duckdbs_order(name: str, no_reuse: None) -> None:
    """A step that only sorts its input is sorted by Arrow: every derivation's result, in
    order, is the one DuckDB's ORDER BY gives."""
    cohort = _registry_sample() if name == "registry" else load_cohort(name)
    sorted_by_arrow = 0
    for what in criteria.DERIVATIONS:
        plan = load_plan(what, plan_features(cohort))
        sorted_by_arrow += sum(1 for s in plan.steps if s.sort_keys)
        by_arrow = plans.run_plan(plan, _fresh_copy(cohort))
        by_sql = plans.run_plan(_without_arrow_sorts(plan), _fresh_copy(cohort))
        assert by_arrow.equals(by_sql), what
    assert sorted_by_arrow >= 5


def test_arrow_sorts_as_duckdb_orders_nulls_nan_and_text() -> None:
    """Nulls last in both directions, NaN after every number ascending, text by its bytes; a
    descending float column (NaN first in DuckDB, last in Arrow) and a nulls-first key stay
    SQL."""
    import datetime as dt

    import ibis

    from bvall.criteria.expressions import arrow_sort_keys, named_memtable

    data = pa.table(
        {
            "x": [1.5, None, float("nan"), -2.0, 1.5, 0.0],
            "s": ["b", "B", None, "é", "a", "b"],
            "d": [dt.date(2026, 1, 2), None, dt.date(2025, 12, 31), None, dt.date(2026, 1, 2),
                  dt.date(2026, 1, 1)],
            "n": [3, 1, None, 2, 5, 4],
        }
    )  # fmt: skip
    t = named_memtable(data, "bv_step_sorted")
    con = duckdb.connect()
    con.register("bv_step_sorted", data)
    cases = [
        [t.x, t.n],
        [t.s, ibis.desc(t.n)],
        [ibis.desc(t.d), t.s, t.n],
        [ibis.desc(t.s), t.x],
        [t.n],
    ]
    for keys in cases:
        expr = t.order_by(keys)
        found = arrow_sort_keys(expr.op())
        assert found, keys
        step = plans.Step(None, "", ("bv_step_sorted",), data.schema, sort_keys=found)
        sql = ibis.to_sql(expr, dialect="duckdb")
        got, expected = plans._sorted(data, step), con.sql(sql).to_arrow_table()
        assert got.schema == expected.schema
        assert repr(got.to_pylist()) == repr(expected.to_pylist()), sql  # NaN != NaN in equals
    assert arrow_sort_keys(t.order_by(ibis.desc(t.x)).op()) == ()
    assert arrow_sort_keys(t.order_by(t.n.asc(nulls_first=True)).op()) == ()
    assert arrow_sort_keys(t.order_by(t.n + 1).op()) == ()
    assert arrow_sort_keys(t.filter(t.n > 1).op()) == ()
