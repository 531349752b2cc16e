"""Alerts stay until seen: raised by every value meeting a rule, whenever entered; closed only by
an acknowledgement, which is append-only."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_late_entered_grade_4_anc_raises_an_alert_that_stays_until_acknowledged(
    loaded: Any, users: Any
) -> None:
    from bvall.errors import InputError
    from bvall.store.alerts import acknowledge_alert, visible_alerts
    from bvall.store.records import create_records, update_record

    inv = users["investigator"]
    # the small cohort: A01 ANC 0.4 (D1) and 0.3 (D2) are CTCAE v5.0 grade 4 (< 0.5 x10^9/L)
    keys = {(a.day, a.rule_id) for a in visible_alerts(inv, patient="A01")}
    assert {(1, "alert.lab_grade_ge3"), (2, "alert.lab_grade_ge3")} <= keys
    # a later day first, then an ANC of 0.2 entered late for D9: it raises its own alert
    create_records(
        inv,
        "labs",
        [{"patient_id": "A01", "test": "anc", "value": "2.5", "unit": "10^9/L", "study_day": "12"}],
    )
    saved = create_records(
        inv,
        "labs",
        [{"patient_id": "A01", "test": "anc", "value": "0.2", "unit": "10^9/L", "study_day": "9"}],
    )
    late = visible_alerts(inv, patient="A01").get(day=9, rule_id="alert.lab_grade_ge3")
    assert late.grade == 4
    assert late.source_record == saved[0].pk
    assert "0.2 10^9/L" in late.text
    # saving other data again raises nothing twice (stable identity)
    n = visible_alerts(inv, state="all").count()
    create_records(
        inv,
        "labs",
        [
            {
                "patient_id": "A01",
                "test": "platelets",
                "value": "150",
                "unit": "10^9/L",
                "study_day": "12",
            }
        ],
    )
    assert visible_alerts(inv, state="all").count() == n
    # corrected to 1.6 x10^9/L: no longer grade >= 3 (CTCAE v5.0 grade 3 is < 1.0)
    update_record(inv, "labs", saved[0].pk, {"value": "1.6"}, version=1, reason="typo")
    late.refresh_from_db()
    assert late.met is False
    assert "no longer meets" in late.met_note
    assert visible_alerts(inv, patient="A01", state="open").filter(pk=late.pk).exists()
    # acknowledged: closed, with who and the note; a second acknowledgement is refused
    ack = acknowledge_alert(inv, late.pk, "seen; value was a typo")
    assert ack.user == inv
    assert not visible_alerts(inv, state="open").filter(pk=late.pk).exists()
    assert visible_alerts(inv, state="acknowledged").filter(pk=late.pk).exists()
    with pytest.raises(InputError, match="already acknowledged by investigator"):
        acknowledge_alert(users["admin"], late.pk)


def test_acknowledging_needs_data_entry_rights_and_the_patients_site(
    loaded: Any, users: Any
) -> None:
    from bvall.errors import InputError
    from bvall.store.access import PermissionDenied
    from bvall.store.alerts import acknowledge_alert, visible_alerts

    alert = visible_alerts(users["admin"], patient="A01").first()
    assert alert is not None
    with pytest.raises(PermissionDenied):
        acknowledge_alert(users["monitor"], alert.pk)
    # another site's user: answered as for an alert that does not exist
    with pytest.raises(InputError, match=f"No alert {alert.pk} that you may see"):
        acknowledge_alert(users["entry_b"], alert.pk)
    assert not visible_alerts(users["entry_b"], state="all").filter(pk=alert.pk).exists()
    acknowledge_alert(users["data_entry"], alert.pk)


def test_acknowledgements_refuse_update_and_delete(loaded: Any, users: Any) -> None:
    from django.db import DatabaseError, connection, transaction

    from bvall.store.alerts import acknowledge_alert, visible_alerts

    alert = visible_alerts(users["admin"], patient="A01").first()
    assert alert is not None
    acknowledge_alert(users["admin"], alert.pk, "seen")
    for sql in (
        "UPDATE alert_acknowledgements SET note = 'x'",
        "DELETE FROM alert_acknowledgements",
        "DELETE FROM alerts_history",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql)


def test_loading_the_example_cohort_raises_its_alerts_lab_and_clinical(db: Any) -> None:
    from bvall.cohort import load_cohort
    from bvall.criteria import derive
    from bvall.criteria.alerts import classify_lab_alerts
    from bvall.store.convert import load_cohort_into_database
    from bvall.store.models import Alert

    example = load_cohort("example")
    load_cohort_into_database(example, reason="test load", create_sites=True)
    grades = derive(example, "grades").to_pylist()
    expected = sum(
        len(classify_lab_alerts([g for g in grades if g["patient_id"] == pid]))
        for pid in {g["patient_id"] for g in grades}
    )
    assert Alert.objects.count() == expected
    clinical = Alert.objects.filter(source_table="clinical")
    assert all(a.source_record is None and a.test == "" for a in clinical)
    labs = Alert.objects.filter(source_table="labs")
    assert labs.exists()
    assert all(a.source_record is not None for a in labs)


def test_a_day_of_labs_is_graded_before_the_write_lock(
    loaded: Any, users: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save grades the patient's data with its new values before it takes the write lock;
    inside the transaction the alerts come from the same grading (no SQL step runs there), and
    they are the alerts of the data as stored: a grade 4 ANC raises its alert."""
    from bvall.criteria import plans
    from bvall.store import alerts, records
    from bvall.store.alerts import visible_alerts

    inside: list[str | None] = []
    in_transaction = [False]
    execute, raise_ = plans._execute, alerts.raise_alerts

    def counted(con: Any, step: Any) -> Any:
        if in_transaction[0]:
            inside.append(step.name)
        return execute(con, step)

    def flagged(*args: Any, **kwargs: Any) -> Any:
        in_transaction[0] = True
        try:
            return raise_(*args, **kwargs)
        finally:
            in_transaction[0] = False

    monkeypatch.setattr(plans, "_execute", counted)
    monkeypatch.setattr(records, "raise_alerts", flagged)
    inv = users["investigator"]
    saved = records.create_records(
        inv,
        "labs",
        [
            {"patient_id": "A01", "test": "anc", "value": "0.1", "unit": "10^9/L", "study_day": "7"},
            {"patient_id": "A01", "test": "platelets", "value": "15", "unit": "10^9/L",
             "study_day": "7"},
        ],
    )  # fmt: skip
    assert inside == []
    got = visible_alerts(inv, patient="A01").get(day=7, rule_id="alert.lab_grade_ge3", test="anc")
    assert got.grade == 4
    assert got.source_record == saved[0].pk
    # without the grading before the lock the transaction grades the data itself, alike
    monkeypatch.setattr(records, "_grade_before_the_lock", lambda *a: None)
    records.create_records(
        inv,
        "labs",
        [{"patient_id": "A01", "test": "anc", "value": "0.2", "unit": "10^9/L", "study_day": "8"}],
    )
    assert "bv_step_grades" in inside
    assert visible_alerts(inv, patient="A01").get(day=8, test="anc").grade == 4


@pytest.mark.parametrize(
    ("table", "values"),
    [
        ("vitals", {"study_day": "3", "time": "20:00", "temperature_c": "38.6"}),
        ("adverse_events", {"term": "Lung infection", "grade": "3", "onset_day": "4"}),
        ("concomitant_medications", {"drug": "meropenem", "route": "IV", "start_day": "4"}),
    ],
)
def test_other_graded_records_are_graded_before_the_write_lock(
    loaded: Any, users: Any, monkeypatch: pytest.MonkeyPatch, table: str, values: Any
) -> None:
    """A vital sign, an adverse event or a medication is saved one at a time and feeds the
    clinical grades (febrile neutropenia, lung infection): graded before the lock as well, so
    no SQL step runs inside the transaction, and the record is stored."""
    from bvall.criteria import plans
    from bvall.store import alerts, records
    from bvall.store.models import COHORT_MODELS

    inside: list[str | None] = []
    in_transaction = [False]
    execute, raise_ = plans._execute, alerts.raise_alerts

    def counted(con: Any, step: Any) -> Any:
        if in_transaction[0]:
            inside.append(step.name)
        return execute(con, step)

    def flagged(*args: Any, **kwargs: Any) -> Any:
        in_transaction[0] = True
        try:
            return raise_(*args, **kwargs)
        finally:
            in_transaction[0] = False

    monkeypatch.setattr(plans, "_execute", counted)
    monkeypatch.setattr(records, "raise_alerts", flagged)
    saved = records.create_record(users["investigator"], table, {"patient_id": "A01", **values})
    assert COHORT_MODELS[table].objects.filter(pk=saved.pk).exists()
    assert inside == []
