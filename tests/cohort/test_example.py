"""The synthetic `example` cohort: labelled synthetic, the published patients' fixed facts,
deterministic, and doses that follow the seed paper's schedules."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bvall.cohort import Cohort, dataset_names, load_cohort
from bvall.cohort.example.design import SEED, study_date
from bvall.cohort.example.doses import planned_doses
from bvall.cohort.example.generate import generate_tables
from bvall.cohort.example.patients import DESIGNS


def test_registered_cached_and_labelled_synthetic() -> None:
    assert "example" in dataset_names()
    example = load_cohort("example")
    assert load_cohort("example") is example  # built once per process
    meta = example.metadata
    assert meta.synthetic is True
    assert "SYNTHETIC" in meta.description
    assert meta.extra["seed"] == SEED
    chosen = {tuple(r["patients"]) for r in meta.extra["readings"]}
    assert ("P01", "P03") in chosen  # the garbled day 14-21 cell of the published provenance
    assert ("P08",) in chosen  # febrile neutropenia grade 3 or 4


def _by_patient(c: Cohort, table: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in c[table].to_pylist():
        out[row["patient_id"]].append(row)
    return out


def test_same_fixed_facts_as_published(published: Cohort) -> None:
    example = load_cohort("example")
    assert example.patient_ids == published.patient_ids
    pub = {p["patient_id"]: p for p in published["patients"].to_pylist()}
    for p in example["patients"].to_pylist():
        for col in ("sex", "age_years", "arm", "diagnosis", "cd19_positive"):
            assert p[col] == pub[p["patient_id"]][col], (p["patient_id"], col)
    lesions = {
        pid: sorted(g["lesion"] for g in rows)
        for pid, rows in _by_patient(published, "genetic_findings").items()
    }
    assert {
        pid: sorted(g["lesion"] for g in rows)
        for pid, rows in _by_patient(example, "genetic_findings").items()
    } == lesions
    for table, key in (("labs", ("test", "timepoint")),):
        pub_rows = {
            (r["patient_id"], r["test"], r["timepoint"]): r["value"]
            for r in published[table].to_pylist()
        }
        ex_rows = {
            (r["patient_id"], r["test"], r["timepoint"]): r["value"]
            for r in example[table].to_pylist()
            if r["timepoint"] is not None
        }
        assert ex_rows == pub_rows, key
    blasts = {
        r["patient_id"]: r["blasts_percent"]
        for r in published["marrow_assessments"].to_pylist()
        if r["timepoint"] == "diagnosis"
    }
    assert {
        r["patient_id"]: r["blasts_percent"]
        for r in example["marrow_assessments"].to_pylist()
        if r["timepoint"] == "diagnosis"
    } == blasts


def test_deterministic(published: Cohort) -> None:
    assert generate_tables(published) == generate_tables(published)
    assert generate_tables(published, seed=SEED + 1)["labs"] != generate_tables(published)["labs"]


def test_doses_follow_the_seed_schedules() -> None:
    """Seed paper, Treatment: venetoclax 100/200/300 mg D1-3 then 400 mg to D14; blinatumomab
    9 µg/day D1-7 then 28 µg/day D8-14 (concurrent) or D8-14 / D15-21 (sequential)."""
    example = load_cohort("example")
    doses = _by_patient(example, "dose_administrations")
    arms = {p["patient_id"]: p["arm"] for p in example["patients"].to_pylist()}
    for pid, rows in doses.items():
        ven = {r["study_day_start"]: r["dose"] for r in rows if r["agent"] == "venetoclax"}
        assert ven == {1: 100.0, 2: 200.0, 3: 300.0, **dict.fromkeys(range(4, 15), 400.0)}, pid
        blin = {r["study_day_start"]: r["dose"] for r in rows if r["agent"] == "blinatumomab"}
        start = 1 if arms[pid] == "concurrent" else 8
        assert blin == {d: 9.0 if d < start + 7 else 28.0 for d in range(start, start + 14)}, pid
        assert all(r["status"] == "given" for r in rows)
    d = DESIGNS[0]
    plan = planned_doses("concurrent", weight_kg=d.weight_kg, height_cm=d.height_cm, dex_days=5)
    prephase = [p.day for p in plan if p.agent == "dexamethasone"]
    assert prephase == [-4, -3, -2, -1, 0]


def test_dates_and_days_agree() -> None:
    example = load_cohort("example")
    d1 = {d.pid: d for d in DESIGNS}
    for table in ("labs", "vitals", "marrow_assessments", "follow_up_events", "transfusions"):
        for row in example[table].to_pylist():
            assert row["date"] == study_date(d1[row["patient_id"]], row["study_day"]), table
