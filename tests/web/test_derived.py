"""The derived panels show exactly what the engines derive (example cohort in the database)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def example() -> Any:
    from bvall.cohort import load_cohort

    return load_cohort("example")


@pytest.fixture
def p05(db: Any, example: Any) -> Any:
    """P05 of the example cohort loaded into the test database."""
    from bvall.store.convert import load_cohort_into_database

    load_cohort_into_database(example.subset(["P05"]), reason="test load", create_sites=True)
    return example.subset(["P05"])


def test_episodes_panel_shows_the_engines_grade_3_crs_of_p05(p05: Any) -> None:
    from bvall.criteria import derive
    from bvall.web import derived

    # reference: `bvall derive example --what crs --patient P05` (one episode, grade 3, D1-D2)
    crs = derive(p05, "crs").to_pylist()
    assert [e["max_grade"] for e in crs] == [3]
    panel = derived.patient_panels("P05")["episodes"]
    assert panel.available
    row = next(r for r in panel.rows if r["label"].startswith("CRS episode 1"))
    assert row["value"] == "grade 3"
    assert row["explanation"] == crs[0]["explanation"]
    assert row["rule_id"] == crs[0]["rule_id"] == "astct_crs.hypotension.g3"
    assert row["rule_version"] == crs[0]["rule_version"]


def test_grade_alerts_are_the_engines_grades_of_3_or_more(p05: Any) -> None:
    from bvall.criteria import derive
    from bvall.criteria.alerts import classify_lab_alerts
    from bvall.web import derived

    grades = derive(p05, "grades").to_pylist()
    alerts = classify_lab_alerts(grades)
    ge3 = [a for a in alerts if a["alert_rule"].rule_id == "alert.lab_grade_ge3"]
    # every graded value of grade >= 3, and nothing else
    assert len(ge3) == sum(1 for g in grades if g["grade"] is not None and g["grade"] >= 3)
    rises = [a for a in alerts if a["alert_rule"].rule_id == "alert.lab_grade_rise2"]
    assert all(a["grade"] - a["previous"]["grade"] >= 2 for a in rises)
    panel = derived.patient_panels("P05")["grades_alerts"]
    for r in panel.rows:
        assert r["rule_id"].startswith("ctcae_v5_labs.")
        assert r["explanation"]


def test_grade_alert_rules_on_a_hand_made_series() -> None:
    from bvall.criteria.alerts import classify_lab_alerts

    def g(day: int, grade: int | None) -> dict[str, Any]:
        return {"term_id": "anc", "term": "ANC", "day": day, "time": None, "grade": grade}

    # grades 0, 2 (rise of 2), missing (no alert), 3 (>= 3, rise of 1 only), 1, 4 (>= 3 and rise 3)
    alerts = classify_lab_alerts([g(1, 0), g(2, 2), g(3, None), g(4, 3), g(5, 1), g(6, 4)])
    got = [(a["day"], a["alert_rule"].rule_id) for a in alerts]
    assert got == [
        (2, "alert.lab_grade_rise2"),
        (4, "alert.lab_grade_ge3"),
        (6, "alert.lab_grade_ge3"),
        (6, "alert.lab_grade_rise2"),
    ]


def test_response_panel_is_the_engines_response_beside_reported(p05: Any) -> None:
    from bvall.criteria import derive
    from bvall.web import derived

    response = derive(p05, "response").to_pylist()
    panel = derived.patient_panels("P05")["response"]
    assert len(panel.rows) == len(response)
    for row, r in zip(panel.rows, response, strict=True):
        assert row["rule_id"] == r["rule_id"]
        assert (r["response_derived"] or "not derivable") in row["value"]


def test_plan_panel_is_the_planners_comparison(p05: Any) -> None:
    from bvall.regimen import derive_deviations
    from bvall.web import derived

    report = derive_deviations(p05)
    panel = derived.patient_panels("P05")["plan_vs_doses"]
    assert panel.available
    assert len(panel.details) == report.daily.num_rows
    summary = report.summary.to_pylist()
    assert [r["label"] for r in panel.rows[: len(summary)]] == [
        f"{s['agent']} ({s['course_id']})" for s in summary
    ]


def test_plan_panel_names_the_missing_start_date(loaded: Any) -> None:
    from bvall.web import derived

    # small cohort: A02 has no induction course at all
    panel = derived.patient_panels("A02")["plan_vs_doses"]
    assert not panel.available
    assert "no induction course" in panel.message
    # A01 has no weight or height recorded
    panel = derived.patient_panels("A01")["plan_vs_doses"]
    assert "the patient's weight (kg)" in panel.message


def test_grade_bands_are_the_ctcae_table_limits(p05: Any) -> None:
    from bvall.web import derived

    bands = {
        (r["test"], r["grade"]): (r["low"], r["high"]) for r in derived.lab_grade_bands("P05").rows
    }
    # CTCAE v5.0 Neutrophil count decreased: G4 < 0.5, G3 < 1.0, G2 < 1.5 (x10^9/L)
    assert bands[("anc", 4)] == (None, 0.5)
    assert bands[("anc", 3)] == (0.5, 1.0)
    assert bands[("anc", 2)] == (1.0, 1.5)
    # Anemia: G3 Hb < 80 g/L, G2 < 100 g/L
    assert bands[("hemoglobin", 3)] == (None, 80.0)


def test_cohort_alerts_flag_the_latest_day_grade_3_labs(loaded: Any) -> None:
    from bvall.web import derived

    # small cohort: A01's latest graded day is D2 with ANC 0.3 (CTCAE grade 4: < 0.5)
    panel = derived.cohort_alerts(["A01", "A02", "B01"])
    by = {r["patient_id"]: r["alerts"] for r in panel.rows}
    assert [a["rule_id"] for a in by["A01"]] == ["ctcae_v5_labs.neutrophil_count_decreased.g4"]
    assert by["A02"] == []


def test_panels_of_one_patient_in_a_larger_database_equal_that_patients_own_derivation(
    db: Any, example: Any
) -> None:
    """The database is derived once for all patients and filtered: P05's rows must be the
    rows the engines give on a cohort of P05 alone (reference: derive on example.subset)."""
    from bvall.criteria import derive
    from bvall.regimen import derive_deviations
    from bvall.store.convert import load_cohort_into_database
    from bvall.web import derived

    load_cohort_into_database(
        example.subset(["P02", "P05", "P07"]), reason="test load", create_sites=True
    )
    alone = example.subset(["P05"])
    d = derived.derivations(["P05"])
    for name in ("grades", "crs", "icans", "tls", "response"):
        assert getattr(d, name) == derive(alone, name).to_pylist(), name
    # the web judges doses as of the day it derives (planned days after today are not missed)
    ref = derive_deviations(alone, today=dt.date.today())
    assert d.deviations.summary.to_pylist() == ref.summary.to_pylist()
    assert d.deviations.daily.to_pylist() == ref.daily.to_pylist()
    assert d.deviations.events.to_pylist() == ref.events.to_pylist()
    # the whole database was derived once: P07's rows come from the same cached derivation
    snap, whole = derived.database_derivations()
    assert set(snap.patient_ids) == {"P02", "P05", "P07"}
    assert {g["patient_id"] for g in whole.grades} == {"P02", "P05", "P07"}


def test_plan_panel_mid_course_counts_only_the_days_due() -> None:
    # issue 12, item 6: T01 at D6 with blinatumomab given D1-D3 (9 µg/day)
    from bvall.cohort import Cohort
    from bvall.web import derived

    start = dt.date.today() - dt.timedelta(days=5)
    cohort = Cohort.from_tables(
        {
            "patients": [
                {"patient_id": "T01", "sex": "M", "age_years": 50, "arm": "concurrent",
                 "weight_kg": 70.0, "height_cm": 175.0}
            ],
            "treatment_courses": [
                {"patient_id": "T01", "course_id": "IND", "course_type": "induction",
                 "regimen": "bv-concurrent", "start_date": start}
            ],
            "dose_administrations": [
                {"patient_id": "T01", "course_id": "IND", "agent": "blinatumomab", "dose": 9,
                 "dose_unit": "µg/day", "route": "CIV", "study_day_start": 1,
                 "study_day_end": 3, "status": "given"}
            ],
        }
    )  # fmt: skip
    panel = derived._plan_panel(derived._derive_all(cohort), "T01")
    blina = next(r for r in panel.rows if r["label"] == "blinatumomab (IND)")
    assert blina["value"] == "RDI 0.50 over the days due so far (to D6); 3 missed, 8 still planned"
    assert blina["explanation"].startswith(
        "planned 259 µg in total over 14 days (daily doses in µg/day); "
        "given 27 µg in total over 3 days; RDI over the days due so far, D1–D6 (today is D6)"
    )
    days = {(r["day"], r["agent"]): r["category"] for r in panel.details}
    assert days[(7, "blinatumomab")] == "planned"
