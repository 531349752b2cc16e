"""A FHIR lab feed into the study database: site and role checks, all or nothing, audit reason,
grades current at once; the same through `POST /api/fhir` and `bvall fhir import`."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "fhir"
TODAY = dt.date(2025, 3, 6)


def _bundle(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _token(user: Any) -> dict[str, str]:
    from bvall.store.tokens import create_token

    _, raw = create_token(user, "feed")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _labs(pid: str) -> list[tuple[Any, ...]]:
    from bvall.store.models import COHORT_MODELS

    return list(
        COHORT_MODELS["labs"]
        .objects.filter(patient_id=pid, date__isnull=False)
        .order_by("date", "time", "test")
        .values_list("test", "value", "unit", "date", "time", "ref_low", "ref_high", "qualifier")
    )


def test_commit_writes_every_row_with_the_bundle_id_as_audit_reason(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.interop.fhir.feed import import_bundle
    from bvall.store.models import COHORT_MODELS

    check = import_bundle(
        _bundle("feed_a01.json"), user=users["investigator"], today=TODAY, commit=False
    )
    assert check.ok
    assert not check.committed
    assert _labs("A01") == []
    done = import_bundle(
        _bundle("feed_a01.json"), user=users["investigator"], today=TODAY, commit=True
    )
    assert done.ok
    assert done.committed
    assert done.new_rows == 6
    rows = _labs("A01")
    assert ("anc", 0.3, "10^9/L", dt.date(2025, 3, 5), "07:40", 1.8, 6.3, None) in rows
    assert ("crp", 0.5, "mg/dL", dt.date(2025, 3, 5), None, None, None, "<") in rows
    history = COHORT_MODELS["labs"].history.filter(patient_id="A01", date=dt.date(2025, 3, 5))
    assert history.count() == 6
    assert {h.history_change_reason for h in history} == {"FHIR bundle labs-2025-03-05-A01"}
    assert {h.history_user_id for h in history} == {users["investigator"].pk}
    # the same bundle again: nothing written twice, each result listed as already stored
    again = import_bundle(
        _bundle("feed_a01.json"), user=users["investigator"], today=TODAY, commit=True
    )
    assert again.ok
    assert again.new_rows == 0
    assert sum(s.reason.startswith("already stored") for s in again.result.skipped) == 6
    assert len(_labs("A01")) == 6


def test_a_changed_value_for_a_stored_result_refuses_the_bundle(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.interop.fhir.feed import import_bundle

    import_bundle(_bundle("feed_a01.json"), user=users["admin"], today=TODAY, commit=True)
    changed = _bundle("feed_a01.json")
    changed["id"] = "labs-2025-03-05-A01-v2"
    changed["entry"][1]["resource"]["valueQuantity"]["value"] = 0.35
    out = import_bundle(changed, user=users["admin"], today=TODAY, commit=True)
    assert not out.ok
    assert not out.committed
    p = out.result.problems[0]
    assert p.column.startswith("entry[1] (")
    assert p.code == "duplicate"
    assert [r[:3] for r in _labs("A01") if r[4] == "07:40" and r[0] == "anc"] == [
        ("anc", 0.3, "10^9/L")
    ]


def test_another_sites_investigator_cannot_write_a_patient_they_cannot_see(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    from bvall.interop.fhir.feed import import_bundle
    from bvall.store.database import create_user

    create_user("inv_b", "investigator", sites=("SITEB",), password="correct horse battery")
    inv_b = get_user_model().objects.get(username="inv_b")
    for user in (inv_b, users["entry_b"]):
        out = import_bundle(_bundle("feed_a01.json"), user=user, today=TODAY, commit=True)
        assert not out.committed
        subjects = [p for p in out.result.problems if p.column.endswith(".subject")]
        assert len(subjects) == 6  # every used Observation names A01, a SITEA patient
        # answered as for a patient that does not exist: no hint that A01 is at another site
        assert "a patient you may see" in subjects[0].expected
        assert "SITEA" not in subjects[0].expected
    assert _labs("A01") == []
    # the same bundle from SITEA's investigator is written
    ok = import_bundle(
        _bundle("feed_a01.json"), user=users["investigator"], today=TODAY, commit=True
    )
    assert ok.committed


def test_the_api_checks_role_and_site_and_answers_with_grades(loaded, users) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(_bundle("feed_a01.json"))
    c = Client()
    assert c.post("/api/fhir", body, content_type="application/fhir+json").status_code == 401
    r = c.post("/api/fhir", body, content_type="application/fhir+json", **_token(users["monitor"]))
    assert r.status_code == 403  # a monitor may not import
    r = c.post(
        "/api/fhir?commit=true",
        body,
        content_type="application/fhir+json",
        **_token(users["entry_b"]),
    )
    assert r.status_code == 422
    assert not r.json()["committed"]
    assert "entry[1].resource.subject" in {p["column"] for p in r.json()["problems"]}
    assert _labs("A01") == []
    r = c.post(
        "/api/fhir", body, content_type="application/fhir+json", **_token(users["data_entry"])
    )
    assert r.status_code == 200
    assert r.json()["ok"]
    assert not r.json()["committed"]
    assert len(r.json()["labs"]) == 6
    assert len(r.json()["skipped"]) == 2
    assert _labs("A01") == []
    r = c.post(
        "/api/fhir?commit=true",
        body,
        content_type="application/fhir+json",
        **_token(users["data_entry"]),
    )
    assert r.status_code == 201, r.json()
    assert r.json()["new_rows"] == {"labs": 6}
    # grades current at once: ANC 0.3 x10^9/L on 5 March is grade 4 (CTCAE v5.0: < 0.5)
    rows = r.json()["grades_alerts"]["A01"]
    anc = [g for g in rows if "Neutrophil count decreased" in g["label"] and "D3" in g["label"]]
    assert anc, rows
    assert "grade 4" in anc[0]["value"], rows


def test_api_refuses_a_bundle_that_is_not_fhir(loaded, users) -> None:  # type: ignore[no-untyped-def]
    bad = copy.deepcopy(_bundle("feed_a01.json"))
    bad["entry"][1]["resource"]["valueQuantity"]["value"] = "zero point three"
    r = Client().post(
        "/api/fhir", json.dumps(bad), content_type="application/json", **_token(users["admin"])
    )
    assert r.status_code == 422
    assert r.json()["problems"][0]["column"] == "entry[1].resource.valueQuantity.value"
