"""Live monitoring: evaluation equals classify_trial; one audit event per crossing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bvall.design import PatientOutcome, classify_trial, design_to_document, make_toxicity_monitor


def _monitor() -> Any:
    # stop if Pr(p_T > 0.05 | data) > 0.7: one toxicity among the first patients crosses
    return make_toxicity_monitor(0.05, 0.7, 10)


def test_evaluation_per_look_equals_classify_trial() -> None:
    from bvall.store.monitoring import evaluate_design

    design = _monitor()
    outcomes = [PatientOutcome(None, t, f"P{i}") for i, t in enumerate([False, False, True, False])]
    ev = evaluate_design(design, outcomes)
    assert ev.decision == classify_trial(design, outcomes)
    for lk in ev.looks:
        assert lk.decision == classify_trial(design, outcomes[: lk.patients])
    assert ev.crossings, "one toxicity in three patients crosses this boundary"
    assert ev.crossings[0].decision.action == "stop_toxicity"


@pytest.mark.django_db
def test_crossing_is_recorded_once(users: Any) -> None:
    from bvall.store.models import MonitoringEvent
    from bvall.store.monitoring import evaluate_design, record_crossings, register_plan

    plan = register_plan(design_to_document(_monitor()), name="tox", user=users["admin"])
    outcomes = [PatientOutcome(None, t, f"P{i}") for i, t in enumerate([False, True, False])]
    ev = evaluate_design(_monitor(), outcomes, plan.name)
    first = record_crossings(plan, ev, users["admin"])
    again = record_crossings(plan, ev, users["investigator"])
    assert len(first) == 1
    assert again == []
    e = MonitoringEvent.objects.get()
    assert (e.look, e.action, e.user) == (ev.crossings[0].look, "stop_toxicity", users["admin"])


@pytest.mark.django_db
def test_events_are_append_only_on_sqlite(users: Any) -> None:
    from django.db import DatabaseError, transaction

    from bvall.store.models import MonitoringEvent
    from bvall.store.monitoring import evaluate_design, record_crossings, register_plan

    plan = register_plan(design_to_document(_monitor()), name="tox")
    ev = evaluate_design(_monitor(), [PatientOutcome(None, True, "P1")])
    record_crossings(plan, ev)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        MonitoringEvent.objects.update(message="changed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        MonitoringEvent.objects.all().delete()
    assert MonitoringEvent.objects.count() == 1


@pytest.mark.django_db
def test_outcomes_from_the_engine_on_the_example_cohort() -> None:
    from bvall.cohort import load_cohort
    from bvall.store.monitoring import derive_outcomes

    # example cohort: P05 grade 3 CRS (bvall derive example --what crs --patient P05), P02 NR
    out = {o.patient_id: o for o in derive_outcomes(load_cohort("example"), today=TODAY)}
    assert out["P05"].toxicity is True
    assert out["P02"].response is False
    assert sum(o.toxicity is True for o in out.values()) == 1


TODAY = dt.date(2026, 12, 6)


def _with_new_patients() -> Any:
    """The issue's database: the example cohort, three patients registered with no treatment and
    no observations, and T01 at D6 of induction (D1 2026-12-01) with calm vital signs."""
    from bvall.cohort import TABLES, Cohort, load_cohort

    ex = load_cohort("example")
    tables = {t: ex[t].to_pylist() for t in TABLES if ex[t].num_rows}
    for i, pid in enumerate(("N01", "N02", "N03", "T01")):
        tables["patients"].append(
            {
                "patient_id": pid,
                "sex": "F",
                "age_years": 50,
                "arm": "concurrent",
                "diagnosis_date": dt.date(2026, 11, 20),
                "enrolment_date": dt.date(2026, 11, 25 + i),
            }
        )
    tables["treatment_courses"].append(
        {
            "patient_id": "T01",
            "course_id": "IND",
            "course_type": "induction",
            "regimen": "bv-concurrent",
            "start_date": dt.date(2026, 12, 1),
        }
    )
    for day in range(1, 7):
        tables.setdefault("vitals", []).append(
            {"patient_id": "T01", "study_day": day, "temperature_c": 36.8}
        )
        tables.setdefault("neuro_assessments", []).append(
            {"patient_id": "T01", "study_day": day, "ice_score": 10}
        )
    return Cohort.from_tables(tables)


def test_patients_without_data_and_mid_induction_are_pending_not_safe() -> None:
    # issue 12, item 5: "Enrolled 17; evaluable 17" counted four patients as toxicity "no"
    from bvall.store.monitoring import derive_outcomes, evaluate_design

    status = {o.patient_id: o for o in derive_outcomes(_with_new_patients(), today=TODAY)}
    for pid in ("N01", "N02", "N03"):
        assert status[pid].toxicity is None
        assert status[pid].toxicity_pending == "not treated yet (no induction course recorded)"
    # T01 at D6: CRS and ICANS grade 0 so far, but its window (D1 to D42) is still open
    assert status["T01"].toxicity is None
    assert status["T01"].toxicity_pending == "assessment window open until D42 (today is D6)"
    assert status["T01"].response_pending == "no response assessment yet (best response missing)"
    # bvall design monitor --limit 0.2 --n 40 (threshold 0.9 as in docs/design.md)
    design = make_toxicity_monitor(0.2, 0.9, 40)
    ev = evaluate_design(design, list(status.values()))
    assert (ev.decision.enrolled, ev.decision.evaluable) == (17, 13)
    assert [p for p, _ in ev.pending] == ["N01", "N02", "N03", "T01"]
    assert ev.pending[3][1] == "toxicity: assessment window open until D42 (today is D6)"
    # the same patient is evaluable once the window is complete (D43) ...
    later = derive_outcomes(_with_new_patients(), today=dt.date(2027, 1, 12))
    t01 = next(o for o in later if o.patient_id == "T01")
    assert (t01.toxicity, t01.toxicity_pending) == (False, "")


def test_a_toxicity_that_occurred_is_evaluable_at_once() -> None:
    from bvall.criteria.outcomes import classify_outcome, outcome_definition

    tox = outcome_definition("crs_icans_grade3plus")
    assert classify_outcome(tox, {"crs_max_grade": 3, "icans_max_grade": None}).value is True
    pending = classify_outcome(tox, {"crs_max_grade": 2, "icans_max_grade": None})
    assert pending.value is None
    assert pending.reason.startswith("icans_max_grade missing")


def test_the_design_file_names_the_monitored_outcomes() -> None:
    from bvall.errors import SpecError
    from bvall.store.monitoring import monitoring_spec

    old = design_to_document(_monitor())
    spec = monitoring_spec(old)
    assert (spec.efficacy_endpoint, spec.toxicity_endpoint, spec.toxicity_window_day) == (
        "cr_cri_mrd_negative",
        "crs_icans_grade3plus",
        None,
    )
    assert "names no efficacy_endpoint, toxicity_endpoint" in spec.mapping()["defaults"]
    new = {**old, "monitoring": {"efficacy_endpoint": "cr_mrd_negative", "toxicity_window_day": 28}}
    spec = monitoring_spec(new)
    assert (spec.efficacy_endpoint, spec.toxicity_window_day) == ("cr_mrd_negative", 28)
    assert "Seed paper" in spec.mapping()["efficacy"]
    with pytest.raises(SpecError, match="'cr_mrd_negativ' is not an efficacy outcome"):
        monitoring_spec({**old, "monitoring": {"efficacy_endpoint": "cr_mrd_negativ"}})
    with pytest.raises(SpecError, match="toxicity_window_day = 0"):
        monitoring_spec({**old, "monitoring": {"toxicity_window_day": 0}})


def test_monitoring_and_the_response_table_count_cr_mrd_alike() -> None:
    # one definition per meaning: cr_mrd_negative counts CR only (a CRi is "no")
    from bvall.criteria.outcomes import classify_outcome, outcome_definition

    cr_only = outcome_definition("cr_mrd_negative")
    composite = outcome_definition("cr_cri_mrd_negative")
    cri = {"best_response": "CRi", "mrd_negative": True}
    assert classify_outcome(cr_only, cri).value is False
    assert classify_outcome(composite, cri).value is True
    assert classify_outcome(cr_only, {"best_response": "CR", "mrd_negative": None}).value is None
