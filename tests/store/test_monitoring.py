"""Live monitoring: evaluation equals classify_trial; one audit event per crossing."""

from __future__ import annotations

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
    out = {o.patient_id: o for o in derive_outcomes(load_cohort("example"))}
    assert out["P05"].toxicity is True
    assert out["P02"].response is False
    assert sum(o.toxicity is True for o in out.values()) == 1
