"""Record saves: validation with field messages, reasons, versions and conflicts, audit rows."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from bvall.errors import EditConflict, InputError

pytestmark = pytest.mark.django_db


def _lab(pk_patient: str = "A01", **kw):  # type: ignore[no-untyped-def]
    row = {
        "patient_id": pk_patient,
        "test": "platelets",
        "value": "23",
        "unit": "10^9/L",
        "study_day": "3",
    }
    row.update(kw)
    return row


def test_create_validates_with_the_cohort_rules_and_maps_problems_to_fields(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store import records

    with pytest.raises(records.RecordProblems) as info:
        records.create_record(users["data_entry"], "labs", _lab(value="12,5", unit="g/l"))
    fields = info.value.field_problems(0)
    assert set(fields) == {"value", "unit"}
    assert "a number" in fields["value"][0].expected
    assert fields["value"][0].value == "12,5"


def test_a_days_labs_are_saved_together_or_not_at_all(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store import records
    from bvall.store.models import Lab

    before = Lab.objects.count()
    rows = [_lab(test="anc", value="0.8"), _lab(test="platelets", value="-3")]
    with pytest.raises(records.RecordProblems) as info:
        records.create_records(users["data_entry"], "labs", rows)
    assert info.value.field_problems(1)["value"][0].code == "range"
    assert info.value.field_problems(0) == {}
    assert Lab.objects.count() == before
    saved = records.create_records(
        users["data_entry"], "labs", [_lab(test="anc", value="0.8"), _lab()], "morning bloods"
    )
    assert len(saved) == 2
    assert Lab.objects.count() == before + 2


def test_duplicate_record_is_refused(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store import records

    records.create_record(users["data_entry"], "labs", _lab())
    with pytest.raises(records.RecordProblems) as info:
        records.create_record(users["data_entry"], "labs", _lab(value="25"))
    assert [p.code for p in info.value.problems] == ["duplicate"]


def test_changing_saved_data_needs_a_reason_and_is_audited_field_by_field(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store import records
    from bvall.store.models import Lab

    lab = Lab.objects.get(patient_id="A01", test="platelets")
    with pytest.raises(InputError, match="reason is required"):
        records.update_record(
            users["data_entry"], "labs", lab.pk, {"value": "14"}, version=1, reason="  "
        )
    saved = records.update_record(
        users["data_entry"], "labs", lab.pk, {"value": "14"}, version=1, reason="typo: 41 for 14"
    )
    assert saved.version == 2
    lab.refresh_from_db()
    assert lab.value == 14.0
    last, first = lab.history.order_by("-history_id")[:2]
    assert (last.history_type, last.history_user, last.history_change_reason) == (
        "~",
        users["data_entry"],
        "typo: 41 for 14",
    )
    delta = last.diff_against(first)
    assert [(c.field, c.old, c.new) for c in delta.changes if c.field == "value"] == [
        ("value", 41.0, 14.0)
    ]


def test_second_editor_of_the_same_version_gets_a_conflict_with_both_versions(
    loaded, users
) -> None:  # type: ignore[no-untyped-def]
    from bvall.store import records
    from bvall.store.models import Lab

    lab = Lab.objects.get(patient_id="A01", test="platelets")
    records.update_record(
        users["data_entry"], "labs", lab.pk, {"value": "40"}, version=1, reason="first"
    )
    with pytest.raises(EditConflict) as info:
        records.update_record(
            users["investigator"], "labs", lab.pk, {"value": "39"}, version=1, reason="second"
        )
    assert info.value.current["value"] == 40.0
    assert info.value.current["version"] == 2
    assert info.value.current["saved_by"] == "data_entry"
    assert info.value.yours == {"value": "39"}
    lab.refresh_from_db()
    assert lab.value == 40.0  # the first save is kept, nothing overwritten


def test_delete_needs_reason_and_keeps_history(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store import records
    from bvall.store.models import AdverseEvent

    ae = AdverseEvent.objects.get(patient_id="A01")
    with pytest.raises(InputError):
        records.delete_record(users["investigator"], "adverse_events", ae.pk, version=1, reason="")
    records.delete_record(
        users["investigator"],
        "adverse_events",
        ae.pk,
        version=1,
        reason="entered for the wrong patient",
    )
    assert not AdverseEvent.objects.filter(pk=ae.pk).exists()
    hist = AdverseEvent.history.filter(id=ae.pk).order_by("history_id")
    assert [h.history_type for h in hist] == ["+", "-"]
    assert hist.last().history_change_reason == "entered for the wrong patient"


def test_deleting_a_course_that_doses_refer_to_is_refused(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store import records
    from bvall.store.models import TreatmentCourse

    course = TreatmentCourse.objects.get(patient_id="A01")
    with pytest.raises(records.RecordProblems) as info:
        records.delete_record(users["admin"], "treatment_courses", course.pk, version=1, reason="x")
    assert {p.code for p in info.value.problems} == {"reference"}


def test_monitor_may_not_write_and_site_b_user_may_not_write_site_a(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store import access, records

    with pytest.raises(access.PermissionDenied):
        records.create_record(users["monitor"], "labs", _lab())
    with pytest.raises(InputError, match="No patient 'A01' that you may see"):
        records.create_record(users["entry_b"], "labs", _lab())
    with pytest.raises(access.PermissionDenied):
        records.create_record(
            users["entry_b"],
            "patients",
            {"patient_id": "X1", "site_id": "SITEA", "sex": "F", "age_years": "50"},
        )


def test_patient_identifier_cannot_be_renamed(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store import records
    from bvall.store.models import Patient

    p = Patient.objects.get(patient_id="A02")
    with pytest.raises(records.RecordProblems):
        records.update_record(
            users["admin"], "patients", p.pk, {"patient_id": "A03"}, version=1, reason="r"
        )


@pytest.mark.parametrize(
    "statement", ["UPDATE labs_history SET value = 1", "DELETE FROM labs_history"]
)
def test_the_database_refuses_to_change_the_audit_trail(loaded, statement: str) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(statement)
