"""The derived panels show exactly what the engines derive (example cohort in the database),
for the data as they are when the page is read."""

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
    from bvall.web import panels
    from bvall.web.derivations import current_derivations

    # reference: `bvall derive example --what crs --patient P05` (one episode, grade 3, D1-D2)
    crs = derive(p05, "crs").to_pylist()
    assert [e["max_grade"] for e in crs] == [3]
    panel = panels.patient_panels("P05", current_derivations(["P05"]).derivations)["episodes"]
    assert panel.available
    row = next(r for r in panel.rows if r["label"].startswith("CRS episode 1"))
    assert row["value"] == "grade 3"
    assert row["explanation"] == crs[0]["explanation"]
    assert row["rule_id"] == crs[0]["rule_id"] == "astct_crs.hypotension.g3"
    assert row["rule_version"] == crs[0]["rule_version"]


def test_stored_alerts_are_the_alert_rules_on_the_engines_grades(p05: Any) -> None:
    from bvall.criteria import derive
    from bvall.criteria.alerts import classify_lab_alerts
    from bvall.web import panels
    from bvall.web.derivations import current_derivations

    grades = derive(p05, "grades").to_pylist()
    alerts = classify_lab_alerts(grades)
    ge3 = [a for a in alerts if a["alert_rule"].rule_id == "alert.lab_grade_ge3"]
    # every graded value of grade >= 3, and nothing else
    assert len(ge3) == sum(1 for g in grades if g["grade"] is not None and g["grade"] >= 3)
    rises = [a for a in alerts if a["alert_rule"].rule_id == "alert.lab_grade_rise2"]
    assert all(a["grade"] - a["previous"]["grade"] >= 2 for a in rises)
    # loading P05 raised one stored alert per alert, every day, none twice
    from bvall.store.alerts import alert_key
    from bvall.store.models import Alert

    stored = Alert.objects.filter(patient_id="P05")
    assert sorted(a.key for a in stored) == sorted(alert_key(a) for a in alerts)
    assert all(a.met for a in stored)
    panel = panels.patient_panels("P05", current_derivations(["P05"]).derivations)["grades_alerts"]
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
    from bvall.web import panels
    from bvall.web.derivations import current_derivations

    response = derive(p05, "response").to_pylist()
    panel = panels.patient_panels("P05", current_derivations(["P05"]).derivations)["response"]
    assert len(panel.rows) == len(response)
    for row, r in zip(panel.rows, response, strict=True):
        assert row["rule_id"] == r["rule_id"]
        assert (r["response_derived"] or "not derivable") in row["value"]


def test_plan_panel_is_the_planners_comparison(p05: Any) -> None:
    from bvall.regimen import derive_deviations
    from bvall.web import panels
    from bvall.web.derivations import current_derivations

    report = derive_deviations(p05)
    panel = panels.patient_panels("P05", current_derivations(["P05"]).derivations)["plan_vs_doses"]
    assert panel.available
    assert len(panel.details) == report.daily.num_rows
    summary = report.summary.to_pylist()
    assert [r["label"] for r in panel.rows[: len(summary)]] == [
        f"{s['agent']} ({s['course_id']})" for s in summary
    ]


def test_plan_panel_names_the_missing_start_date(loaded: Any) -> None:
    from bvall.web import panels
    from bvall.web.derivations import current_derivations

    # small cohort: A02 has no induction course at all
    panel = panels.patient_panels("A02", current_derivations(["A02"]).derivations)["plan_vs_doses"]
    assert not panel.available
    assert "no induction course" in panel.message
    # A01 has no weight or height recorded
    panel = panels.patient_panels("A01", current_derivations(["A01"]).derivations)["plan_vs_doses"]
    assert "the patient's weight (kg)" in panel.message


def test_grade_bands_are_the_engines_ctcae_limits_for_the_patients_reference_range(
    p05: Any,
) -> None:
    from bvall.criteria.bands import compute_grade_bands
    from bvall.web import panels
    from bvall.web.derivations import current_derivations

    d = current_derivations(["P05"]).derivations
    rows = panels.lab_grade_bands(d).rows
    bands = {(r["test"], r["grade"]): (r["low"], r["high"]) for r in rows}
    # CTCAE v5.0 Neutrophil count decreased: G4 < 0.5, G3 < 1.0, G2 < 1.5 (x10^9/L)
    assert bands[("anc", 4)] == (None, 0.5)
    assert bands[("anc", 3)] == (0.5, 1.0)
    assert bands[("anc", 2)] == (1.0, 1.5)
    # Anemia: G3 Hb < 80 g/L, G2 < 100 g/L
    assert bands[("hemoglobin", 3)] == (None, 80.0)
    # the rows are the engine's bands for the latest graded ANC's limits, nothing else
    last = [g for g in d.grades if g["test"] == "anc"][-1]
    ref, _ = compute_grade_bands("anc", last["lln_si"], last["uln_si"], last["baseline_si"])
    assert [(r["grade"], r["low"], r["high"]) for r in rows if r["test"] == "anc"] == [
        (b.grade, b.low, b.high) for b in ref
    ]


def test_panels_of_one_patient_in_a_larger_database_equal_that_patients_own_derivation(
    db: Any, example: Any, users: Any
) -> None:
    """P05's rows must be the rows the engines give on a cohort of P05 alone (reference:
    derive on example.subset); a save re-derives the patient at the next read."""
    from bvall.criteria import derive
    from bvall.regimen import derive_deviations
    from bvall.store.convert import load_cohort_into_database
    from bvall.web.derivations import current_derivations

    load_cohort_into_database(
        example.subset(["P02", "P05", "P07"]), reason="test load", create_sites=True
    )
    alone = example.subset(["P05"])
    d = current_derivations(["P05"]).derivations
    for name in ("grades", "crs", "icans", "tls", "response"):
        assert getattr(d, name) == derive(alone, name).to_pylist(), name
    # the web judges doses as of the day it derives (planned days after today are not missed)
    ref = derive_deviations(alone, today=dt.date.today())
    assert d.deviations.summary.to_pylist() == ref.summary.to_pylist()
    assert d.deviations.daily.to_pylist() == ref.daily.to_pylist()
    assert d.deviations.events.to_pylist() == ref.events.to_pylist()
    # a save changes P05's token: the next read derives the data as saved
    from bvall.store.records import create_records

    create_records(
        users["admin"],
        "labs",
        [{"patient_id": "P05", "test": "anc", "value": "0.2", "unit": "10^9/L", "study_day": "60"}],
    )
    after = current_derivations(["P05"]).derivations
    new = [g for g in after.grades if g["test"] == "anc" and g["day"] == 60]
    assert [g["grade"] for g in new] == [4]  # CTCAE v5.0: ANC < 0.5 x10^9/L


def test_plan_panel_mid_course_counts_only_the_days_due() -> None:
    # issue 12, item 6: T01 at D6 with blinatumomab given D1-D3 (9 µg/day)
    from bvall.cohort import Cohort
    from bvall.web import panels
    from bvall.web.derivations import derive_all

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
    panel = panels._plan_panel(derive_all(cohort), "T01")
    blina = next(r for r in panel.rows if r["label"] == "blinatumomab (IND)")
    assert blina["value"] == "RDI 0.50 over the days due so far (to D6); 3 missed, 8 still planned"
    assert blina["explanation"].startswith(
        "planned 259 µg in total over 14 days (daily doses in µg/day); "
        "given 27 µg in total over 3 days; RDI over the days due so far, D1–D6 (today is D6)"
    )
    days = {(r["day"], r["agent"]): r["category"] for r in panel.details}
    assert days[(7, "blinatumomab")] == "planned"
