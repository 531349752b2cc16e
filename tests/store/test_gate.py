"""The write gate: site and role checks of every write in one place, sites created on purpose,
access changes recorded, refusals that reveal nothing of other sites (issue 12 items 1, 7, 8)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from django.core.exceptions import PermissionDenied

from bvall.errors import InputError, ValidationFailed

pytestmark = pytest.mark.django_db

LAB_B01 = {"patient_id": "B01", "test": "anc", "value": "0.2", "unit": "10^9/L", "study_day": "9"}
LAB_NOWHERE = {**LAB_B01, "patient_id": "Q77"}


def _counts() -> tuple[int, int, int]:
    from bvall.store.models import Lab, Patient, Site

    return Patient.objects.count(), Lab.objects.count(), Site.objects.count()


@pytest.mark.parametrize("commit", [False, True])
def test_an_import_for_another_sites_patient_is_refused_like_one_that_does_not_exist(
    loaded: Any, users: Any, commit: bool
) -> None:
    from bvall.store.gate import NOT_YOURS, import_rows

    before = _counts()
    other = import_rows(
        users["data_entry"], {"labs": [LAB_B01]}, reason="t", commit=commit, files={"labs": "l.csv"}
    )
    missing = import_rows(
        users["data_entry"],
        {"labs": [LAB_NOWHERE]},
        reason="t",
        commit=commit,
        files={"labs": "l.csv"},
    )
    assert not other.committed
    assert [(p.row, p.column, p.code, p.expected) for p in other.problems] == [
        (1, "patient_id", "access", NOT_YOURS)
    ]
    # the same words for a patient of site B and a patient that exists nowhere
    assert [p.expected for p in missing.problems] == [p.expected for p in other.problems]
    assert _counts() == before


def test_an_imported_patient_at_another_site_or_an_unknown_site_is_refused(
    loaded: Any, users: Any
) -> None:
    from bvall.store.gate import import_rows

    before = _counts()
    rows = [
        {"patient_id": "Z03", "site_id": "SITEB", "sex": "F", "age_years": "50"},
        {"patient_id": "Z04", "site_id": "NOSUCH", "sex": "F", "age_years": "50"},
        {"patient_id": "Z05", "site_id": "SITEA", "sex": "F", "age_years": "50"},
    ]
    report = import_rows(users["data_entry"], {"patients": rows}, reason="t", commit=True)
    assert not report.committed
    by_row = {p.row: p for p in report.problems}
    assert set(by_row) == {1, 2}
    assert by_row[1].expected == "one of your sites: SITEA"
    # the unknown site lists only the sites this user may use, never SITEB
    assert by_row[2].value == "NOSUCH"
    assert "your sites: SITEA" in by_row[2].expected
    assert "SITEB" not in by_row[2].expected
    assert _counts() == before


def test_a_taken_identifier_at_another_site_is_refused_without_saying_where(
    loaded: Any, users: Any
) -> None:
    from bvall.store import records
    from bvall.store.gate import ID_TAKEN, import_rows

    row = {"patient_id": "B01", "site_id": "SITEA", "sex": "F", "age_years": "50"}
    report = import_rows(users["data_entry"], {"patients": [row]}, reason="t", commit=False)
    assert [(p.code, p.expected) for p in report.problems] == [("access", ID_TAKEN)]
    text = " ".join(p.message for p in report.problems)
    assert "SITEB" not in text
    assert "already in the database" not in text
    with pytest.raises(records.RecordProblems) as info:
        records.create_record(users["data_entry"], "patients", row)
    assert [p.expected for p in info.value.problems] == [ID_TAKEN]
    # a patient the user sees is a plain duplicate
    with pytest.raises(records.RecordProblems) as info:
        records.create_record(users["data_entry"], "patients", {**row, "patient_id": "A01"})
    assert info.value.problems[0].code == "duplicate"


def test_a_new_patient_and_its_rows_in_one_import_pass_the_gate(loaded: Any, users: Any) -> None:
    from bvall.store.gate import import_rows
    from bvall.store.models import Lab

    report = import_rows(
        users["data_entry"],
        {
            "patients": [{"patient_id": "A09", "site_id": "SITEA", "sex": "M", "age_years": "33"}],
            "labs": [{**LAB_B01, "patient_id": "A09"}],
        },
        reason="transfer",
        commit=True,
    )
    assert report.committed, report.problems
    h = Lab.objects.get(patient_id="A09").history.get()
    assert (h.history_user, h.history_change_reason) == (users["data_entry"], "transfer")


@pytest.mark.parametrize("commit", [False, True])
def test_a_monitor_may_not_import_or_preview(loaded: Any, users: Any, commit: bool) -> None:
    from bvall.store.gate import import_rows

    with pytest.raises(PermissionDenied, match="monitor"):
        import_rows(users["monitor"], {"labs": [LAB_B01]}, reason="t", commit=commit)


def test_study_level_rows_need_every_site(loaded: Any, users: Any) -> None:
    from bvall.store.gate import import_rows

    row = {"table_name": "labs", "source": "x", "source_type": "other"}
    report = import_rows(users["investigator"], {"provenance": [row]}, reason="t", commit=False)
    # refused for access; the row's other problems (its missing columns) are listed beside it
    assert [p.code for p in report.problems].count("access") == 1
    assert not report.ok


def test_a_form_patient_at_an_unknown_site_lists_the_users_sites_and_creates_none(
    loaded: Any, users: Any
) -> None:
    from bvall.store import records

    before = _counts()
    values = {"patient_id": "A07", "site_id": "NOSUCH", "sex": "F", "age_years": "40"}
    with pytest.raises(InputError) as info:
        records.create_record(users["data_entry"], "patients", values)
    assert "'NOSUCH' is not a site of the study; your sites: SITEA." in str(info.value)
    assert "SITEB" not in str(info.value)
    with pytest.raises(PermissionDenied, match="your sites: SITEA"):
        records.create_record(users["data_entry"], "patients", {**values, "site_id": "SITEB"})
    assert _counts() == before


def test_moving_a_patient_to_an_unknown_site_is_refused(loaded: Any, users: Any) -> None:
    from bvall.store import records
    from bvall.store.models import Patient

    p = Patient.objects.get(patient_id="A02")
    with pytest.raises(InputError, match="'NOSUCH' is not a site"):
        records.update_record(
            users["admin"],
            "patients",
            p.pk,
            {"site_id": "NOSUCH"},
            version=p.version,
            reason="moved",
        )
    assert Patient.objects.get(patient_id="A02").site_id == "SITEA"


def test_the_command_line_loads_only_into_known_sites_unless_told(db: Any, published: Any) -> None:
    from bvall.store.convert import load_cohort_into_database
    from bvall.store.models import AccessChange, Patient, Site

    with pytest.raises(ValidationFailed) as info:
        load_cohort_into_database(published, reason="load")
    sites = {p.value for p in info.value.problems if p.column == "site_id"}
    assert sites == {"JSPH"}
    assert "bvall site add" in info.value.problems[0].expected
    assert not Patient.objects.exists()
    assert not Site.objects.exists()
    report = load_cohort_into_database(published, reason="load", create_sites=True)
    assert report.sites_created == ["JSPH"]
    change = AccessChange.objects.get(table="sites")
    assert (change.user, change.subject, change.action, change.reason) == (
        None,
        "JSPH",
        "created",
        "load",
    )
    h = Patient.objects.first().history.get()  # type: ignore[union-attr]
    assert h.history_user is None  # the command line


def test_sites_are_added_on_purpose_by_administrators_only(db: Any, users: Any) -> None:
    from bvall.store.access import COMMAND_LINE
    from bvall.store.sites import add_site

    with pytest.raises(PermissionDenied):
        add_site(users["investigator"], "NEW")
    with pytest.raises(InputError, match="already exists"):
        add_site(COMMAND_LINE, "SITEA")
    with pytest.raises(InputError, match="Site code 'a b'"):
        add_site(users["admin"], "a b")
    assert add_site(users["admin"], "NEW", "New hospital").name == "New hospital"


def test_access_changes_are_recorded_with_their_author(db: Any, users: Any) -> None:
    from bvall.store.access import COMMAND_LINE
    from bvall.store.accounts import create_user, update_user
    from bvall.store.models import AccessChange
    from bvall.store.tokens import create_token, revoke_token

    with pytest.raises(InputError, match="'NOSUCH' is not a site"):
        create_user("x", "monitor", sites=["NOSUCH"])
    create_user("monA", "monitor", sites=["SITEA"], actor=COMMAND_LINE, reason="bvall user add")
    created = AccessChange.objects.get(subject="monA", action="created")
    assert (created.user, created.table, created.reason) == (None, "profiles", "bvall user add")
    assert {"field": "sites", "before": "", "after": "SITEA"} in created.changes
    from django.contrib.auth import get_user_model

    mon = get_user_model().objects.get(username="monA")
    update_user(
        users["admin"], mon, role="monitor", sites=["SITEA", "SITEB"], all_sites=True, active=True
    )
    changed = AccessChange.objects.get(subject="monA", action="changed")
    assert changed.user == users["admin"]
    assert {c["field"]: (c["before"], c["after"]) for c in changed.changes} == {
        "all_sites": ("no", "yes"),
        "sites": ("SITEA", "SITEA, SITEB"),
    }
    token, _ = create_token(mon, "feed")
    revoke_token(mon, token.pk)
    actions = list(
        AccessChange.objects.filter(table="api_tokens").values_list("action", "user__username")
    )
    assert actions == [("created", "monA"), ("revoked", "monA")]


def test_access_changes_cannot_be_altered(db: Any, users: Any) -> None:
    from django.db import DatabaseError, transaction

    from bvall.store.models import AccessChange

    assert AccessChange.objects.exists()  # the users fixture's accounts
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessChange.objects.update(reason="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AccessChange.objects.all().delete()


def test_import_problems_are_capped_and_counted(loaded: Any, users: Any) -> None:
    from bvall.store.gate import import_rows

    bad = pd.DataFrame(
        [
            {**LAB_B01, "patient_id": "A01", "value": "x", "study_day": str(10 + i)}
            for i in range(500)
        ]
    )
    report = import_rows(
        users["data_entry"], {"labs": bad}, reason="t", commit=True, max_problems=200
    )
    assert not report.committed
    assert len(report.problems) == 200
    assert report.problem_count == 500
    assert report.problem_summary == [
        {"code": "type", "table": "labs", "column": "value", "count": 500}
    ]
    assert report.to_dict()["problems_shown"] == 200
