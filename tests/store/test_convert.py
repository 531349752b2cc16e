"""The database <-> cohort conversion: exact round trips, validation on the way in, audit rows."""

from __future__ import annotations

import pandas as pd
import pytest

from bvall.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def test_published_cohort_round_trips_exactly(published) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.convert import load_cohort_into_database, read_database

    report = load_cohort_into_database(published, reason="load", create_sites=True)
    assert report.committed
    assert report.new_rows["patients"] == 13
    back = read_database()
    for name in published.table_names:
        assert back[name].equals(published[name]), name
    assert back.metadata.title == published.metadata.title
    assert back.metadata.synthetic is False


def test_every_loaded_row_has_an_insert_audit_row_with_the_reason(published) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.convert import load_cohort_into_database
    from bvall.store.models import COHORT_MODELS

    load_cohort_into_database(
        published, reason="initial load of the paper's cohort", create_sites=True
    )
    for table, model in COHORT_MODELS.items():
        hist = model.history.model.objects
        assert hist.count() == model.objects.count() == published[table].num_rows, table
        assert set(hist.values_list("history_change_reason", flat=True)) <= {
            "initial load of the paper's cohort"
        }
        assert set(hist.values_list("history_type", flat=True)) <= {"+"}


def test_loading_the_same_cohort_twice_lists_every_duplicate_and_writes_nothing(loaded) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.convert import load_cohort_into_database
    from bvall.store.models import Lab, Patient

    before = (Patient.objects.count(), Lab.objects.count())
    with pytest.raises(ValidationFailed) as info:
        load_cohort_into_database(loaded, reason="again")
    dupes = [p for p in info.value.problems if p.code == "duplicate"]
    # every row of every keyed table is a duplicate of a stored one
    assert len(dupes) == sum(loaded.counts().values())
    assert all("already in the database" in p.expected for p in dupes)
    assert (Patient.objects.count(), Lab.objects.count()) == before


def test_import_reports_rows_as_in_the_file_and_is_all_or_nothing(loaded) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.access import COMMAND_LINE
    from bvall.store.gate import import_rows
    from bvall.store.models import Lab

    labs = pd.DataFrame(
        [
            {
                "patient_id": "A01",
                "test": "anc",
                "value": "1.2",
                "unit": "10^9/L",
                "study_day": "8",
            },
            {
                "patient_id": "A01",
                "test": "anc",
                "value": "abc",
                "unit": "10^9/L",
                "study_day": "9",
            },
            {
                "patient_id": "Z99",
                "test": "platelets",
                "value": "50",
                "unit": "10^9/L",
                "study_day": "9",
            },
            {"patient_id": "A01", "test": "alt", "value": "40", "unit": "IU/mL", "study_day": "9"},
        ]
    )
    before = Lab.objects.count()
    report = import_rows(
        COMMAND_LINE, {"labs": labs}, files={"labs": "labs.csv"}, reason="t", commit=True
    )
    assert not report.committed
    # a patient that does not exist is refused by the write gate; the file's other problems are
    # listed beside it (row 3 once: its access problem, not also as an unknown patient)
    found = {(p.row, p.column, p.code) for p in report.problems}
    assert found == {(2, "value", "type"), (3, "patient_id", "access"), (4, "unit", "unit")}
    report = import_rows(
        COMMAND_LINE,
        {"labs": labs.drop(index=2)},
        files={"labs": "labs.csv"},
        reason="t",
        commit=True,
    )
    found = {(p.row, p.column, p.code) for p in report.problems}
    assert found == {(2, "value", "type"), (3, "unit", "unit")}
    assert {p.file for p in report.problems} == {"labs.csv"}
    assert Lab.objects.count() == before


def test_import_of_valid_rows_writes_them_with_user_and_reason(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.gate import import_rows
    from bvall.store.models import Lab

    labs = pd.DataFrame(
        [
            {
                "patient_id": "A02",
                "test": "potassium",
                "value": "4.1",
                "unit": "mmol/L",
                "date": "2025-05-02",
            }
        ]
    )
    report = import_rows(
        users["admin"],
        {"labs": labs},
        files={"labs": "labs.csv"},
        reason="transfer",
        commit=True,
    )
    assert report.committed
    assert report.new_rows == {"labs": 1}
    lab = Lab.objects.get(patient_id="A02", test="potassium")
    assert (lab.value, lab.unit) == (4.1, "mmol/L")
    h = lab.history.get()
    assert (h.history_user, h.history_change_reason) == (users["admin"], "transfer")


def test_values_are_stored_as_entered_with_their_unit(loaded) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.models import Lab

    hb = Lab.objects.get(patient_id="B01", test="hemoglobin")
    assert (hb.value, hb.unit) == (8.7, "g/dL")  # not converted to g/L
    anc = Lab.objects.get(patient_id="A01", test="anc", study_day=2)
    assert anc.ref_low is None
    assert anc.ref_high is None


def test_import_refuses_future_dates_and_days_that_contradict_d1(loaded) -> None:  # type: ignore[no-untyped-def]
    # issue 12, item 4; A01's induction D1 is 2025-03-03 (tests/store/conftest.py)
    import datetime as dt

    from bvall.store.access import COMMAND_LINE
    from bvall.store.gate import import_rows
    from bvall.store.models import Lab

    tomorrow_plus_one = dt.date.today() + dt.timedelta(days=2)
    labs = pd.DataFrame(
        [
            {"patient_id": "A01", "test": "anc", "value": "1.2", "unit": "10^9/L",
             "date": tomorrow_plus_one.isoformat()},
            {"patient_id": "A01", "test": "anc", "value": "1.3", "unit": "10^9/L",
             "date": "2025-03-08", "study_day": "2"},
            {"patient_id": "A01", "test": "anc", "value": "1.4", "unit": "10^9/L",
             "date": "2025-03-09", "study_day": "7"},
        ]
    )  # fmt: skip
    before = Lab.objects.count()
    report = import_rows(
        COMMAND_LINE, {"labs": labs}, files={"labs": "labs.csv"}, reason="t", commit=True
    )
    assert not report.committed
    found = {(p.row, p.column, p.code) for p in report.problems}
    assert found == {(1, "date", "range"), (2, "study_day", "consistency")}
    assert Lab.objects.count() == before


def test_an_equal_read_gives_the_validated_cohort_again(published) -> None:  # type: ignore[no-untyped-def]
    """A read equal to one validated before gives that same cohort object (the engines then
    reuse its derivations); any change in the data gives a new, validated one."""
    from bvall.store.convert import load_cohort_into_database, read_database
    from bvall.store.models import Patient

    load_cohort_into_database(published, reason="load", create_sites=True)
    pid = published.patient_ids[0]
    first = read_database([pid])
    assert read_database([pid]) is first
    before = first["patients"]["age_years"][0].as_py()
    Patient.objects.filter(patient_id=pid).update(age_years=before + 1)
    changed = read_database([pid])
    assert changed is not first
    assert changed["patients"]["age_years"][0].as_py() == before + 1
    # data the validation rejects (written around the write gate) is rejected on every read
    Patient.objects.filter(patient_id=pid).update(age_years=130)
    for _ in range(2):
        with pytest.raises(ValidationFailed, match="130"):
            read_database([pid])


def test_compiled_reads_give_the_rows_the_orm_reads(published) -> None:  # type: ignore[no-untyped-def]
    """Every table read through the compiled statement equals the ORM's own read (values,
    types after the ORM's converters, order): all rows, some patients, one, none."""
    from django.db import models

    from bvall.store.convert import _read_rows, load_cohort_into_database, table_rows
    from bvall.store.models import COHORT_MODELS

    load_cohort_into_database(published, reason="load", create_sites=True)
    ids = published.patient_ids
    for wanted in (None, ids[:3], ids[-1:], [], ["no-such-patient"]):
        for table, model in COHORT_MODELS.items():
            qs = model.objects.all()
            if wanted is not None:
                mine = models.Q(patient_id__in=wanted)
                qs = qs.filter(
                    mine | models.Q(patient_id__isnull=True) if table == "provenance" else mine
                )
            expected = table_rows(table, qs)
            got = _read_rows(table, None if wanted is None else list(wanted))
            assert got == expected, (table, wanted)
            assert [{k: type(v) for k, v in r.items()} for r in got] == [
                {k: type(v) for k, v in r.items()} for r in expected
            ], (table, wanted)
            if wanted is None:  # the comparison is not of empty reads
                assert len(got) == published[table].num_rows, table


def test_compiled_patient_rows_are_the_orms(published) -> None:  # type: ignore[no-untyped-def]
    """The rows a record save validates against (one patient's, or the study-level
    provenance), read through compiled statements, are the ORM's own, with their keys."""
    from bvall.store.convert import attnames, load_cohort_into_database
    from bvall.store.models import COHORT_MODELS
    from bvall.store.records import _patient_rows

    load_cohort_into_database(published, reason="load", create_sites=True)
    every = frozenset(COHORT_MODELS)
    for pid in (published.patient_ids[0], published.patient_ids[-1], None, "no-such-patient"):
        got = _patient_rows(pid, every)
        for table, model in COHORT_MODELS.items():
            qs = model.objects.filter(patient_id=pid) if pid is not None else None
            if pid is None:
                qs = (
                    model.objects.filter(patient_id__isnull=True) if table == "provenance" else None
                )
            cols = attnames(table)
            expected = (
                [
                    (r[0], dict(zip(cols, r[1:], strict=True)))
                    for r in qs.order_by("pk").values_list("pk", *cols)
                ]
                if qs is not None
                else []
            )
            assert got[table] == expected, (pid, table)
    assert sum(len(v) for v in _patient_rows(published.patient_ids[0], every).values()) > 50


def test_patient_records_carry_the_models_values() -> None:
    """The records a patient page shows, read without model instances, hold the key and every
    cohort column of each model instance, in the same order."""
    from bvall.cohort import load_cohort
    from bvall.store.convert import attnames, load_cohort_into_database, patient_records
    from bvall.store.models import COHORT_MODELS

    example = load_cohort("example")  # full detail: labs, vitals, doses
    load_cohort_into_database(example, reason="load", create_sites=True)
    pid = example.patient_ids[0]
    seen = 0
    for table, model in COHORT_MODELS.items():
        if table == "provenance":
            continue
        objs = list(model.objects.filter(patient_id=pid).order_by("pk"))
        got = patient_records(table, pid)
        assert [r.pk for r in got] == [o.pk for o in objs], table
        for r, o in zip(got, objs, strict=True):
            assert {c: getattr(r, c) for c in attnames(table)} == {
                c: getattr(o, c) for c in attnames(table)
            }, table
        seen += len(got)
    assert seen > 50
