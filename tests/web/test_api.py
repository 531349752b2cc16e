"""The JSON API: authentication, schema, the same validation, conflicts and audit as the pages."""

from __future__ import annotations

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _token_client(user) -> tuple[Client, dict[str, str]]:  # type: ignore[no-untyped-def]
    from bvall.store.tokens import create_token

    _, raw = create_token(user, "test")
    return Client(), {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_openapi_schema_lists_the_endpoints_for_token_holders(loaded, users) -> None:  # type: ignore[no-untyped-def]
    assert Client().get("/api/openapi.json").status_code == 401
    c, auth = _token_client(users["monitor"])
    r = c.get("/api/openapi.json", **auth)
    assert r.status_code == 200
    paths = r.json()["paths"]
    for p in (
        "/api/patients",
        "/api/patients/{pid}",
        "/api/tables/{table}/{pk}",
        "/api/import",
        "/api/audit",
        "/api/patients/{pid}/labs",
    ):
        assert p in paths


def test_api_docs_page_is_served_from_the_package(loaded, users) -> None:  # type: ignore[no-untyped-def]
    """/api/docs is Swagger UI from django-ninja's static files: no other origin is named."""
    import re

    assert Client().get("/api/docs").status_code == 401
    c = Client()
    c.force_login(users["monitor"])
    r = c.get("/api/docs")
    assert r.status_code == 200
    html = r.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    assert all(a.startswith("/") for a in assets), assets  # same origin, no CDN
    for a in assets:
        if a.startswith("/static/"):
            asset = c.get(a)
            assert asset.status_code == 200, a
            asset.close()
    # the development-only engines list is gone
    assert c.get("/api/engines").status_code == 404


@pytest.mark.parametrize(
    "path", ["/api/patients", "/api/me", "/api/audit", "/api/tables/labs", "/api/patients/A01"]
)
def test_every_api_call_needs_credentials(loaded, path: str) -> None:
    assert Client().get(path).status_code == 401
    assert Client().get(path, HTTP_AUTHORIZATION="Bearer bvall_not-a-token").status_code == 401


def test_revoked_token_and_inactive_user_are_refused(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.tokens import create_token, revoke_token

    token, raw = create_token(users["monitor"], "t")
    assert Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    revoke_token(users["monitor"], token.pk)
    assert Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    _, raw2 = create_token(users["investigator"], "t")
    users["investigator"].is_active = False
    users["investigator"].save()
    assert Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw2}").status_code == 401


def test_lab_day_update_conflict_and_audit_through_the_api(loaded, users) -> None:  # type: ignore[no-untyped-def]
    c, auth = _token_client(users["data_entry"])
    body = {
        "study_day": 4,
        "labs": [
            {"test": "anc", "value": 0.7, "unit": "10^9/L"},
            {"test": "platelets", "value": "x", "unit": "10^9/L"},
        ],
    }
    r = c.post("/api/patients/A01/labs", json.dumps(body), content_type="application/json", **auth)
    assert r.status_code == 422
    assert [(p["row"], p["column"]) for p in r.json()["problems"]] == [(5, "value")]
    body["labs"][1]["value"] = 35
    r = c.post("/api/patients/A01/labs", json.dumps(body), content_type="application/json", **auth)
    assert r.status_code == 201
    pk = r.json()["ids"][0]
    upd = {"values": {"value": 0.75}, "version": 1, "reason": "re-read"}
    r = c.put(f"/api/tables/labs/{pk}", json.dumps(upd), content_type="application/json", **auth)
    assert r.status_code == 200
    assert r.json()["version"] == 2
    r = c.put(f"/api/tables/labs/{pk}", json.dumps(upd), content_type="application/json", **auth)
    assert r.status_code == 409
    assert r.json()["saved"]["value"] == 0.75
    assert r.json()["yours"] == {"value": 0.75}
    ic, iauth = _token_client(users["investigator"])
    entries = ic.get("/api/audit?patient=A01&table=labs", **iauth).json()
    assert entries[0]["reason"] == "re-read"
    assert entries[0]["changes"] == [{"field": "value", "before": "0.7", "after": "0.75"}]


def test_derived_panels_answer_with_the_engines_rows(loaded, users) -> None:  # type: ignore[no-untyped-def]
    c, auth = _token_client(users["investigator"])
    r = c.get("/api/patients/A01/derived/grades_alerts", **auth)
    assert r.status_code == 200
    assert r.json()["available"] is True
    # small cohort: A01's latest ANC, 0.3 x10^9/L on D2, is CTCAE grade 4 (< 0.5)
    row = next(x for x in r.json()["rows"] if "Neutrophil" in x["label"])
    assert row["rule_id"] == "ctcae_v5_labs.neutrophil_count_decreased.g4"
    assert row["value"] == "grade 4"
    r = c.get("/api/analysis", **auth)
    assert r.status_code == 200
    assert r.json()["patients"] == ["A01", "A02"]  # site A only
    assert {t["id"] for t in r.json()["tables"]}
    pdf = c.get("/api/report.html", **auth)
    assert pdf.status_code == 200
    assert "attachment" in pdf["Content-Disposition"]
    assert b"Input data SHA-256" in pdf.content


def test_api_import_validates_and_commits(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    from bvall.store.models import Lab

    c, auth = _token_client(users["data_entry"])
    f = SimpleUploadedFile(
        "labs.csv", b"patient_id,test,value,unit,study_day\nA02,anc,1.5,10^9/L,6\n"
    )
    r = c.post("/api/import", {"files": [f], "commit": "true", "reason": "api"}, **auth)
    assert r.status_code == 200
    assert r.json()["committed"] is True
    assert Lab.objects.get(patient_id="A02").value == 1.5


def test_lab_dates_are_checked_and_the_missing_one_derived(loaded, users) -> None:  # type: ignore[no-untyped-def]
    # issue 12, item 4; A01's induction D1 is 2025-03-03 (tests/store/conftest.py)
    c, auth = _token_client(users["data_entry"])

    def post(**when):  # type: ignore[no-untyped-def]
        body = {**when, "labs": [{"test": "anc", "value": 0.7, "unit": "10^9/L"}]}
        return c.post(
            "/api/patients/A01/labs", json.dumps(body), content_type="application/json", **auth
        )

    r = post(date="2030-01-01")
    assert r.status_code == 422
    assert "in the future" in r.json()["problems"][0]["expected"]
    r = post(date="2025-03-08", study_day=2)
    assert r.status_code == 422
    assert [(p["column"], p["code"]) for p in r.json()["problems"]] == [
        ("study_day", "consistency")
    ]
    assert "study day 6" in r.json()["problems"][0]["expected"]
    r = post(study_day=9)
    assert r.status_code == 201
    assert r.json()["date"] == "2025-03-11"
    assert r.json()["derived"] == "date 2025-03-11 derived from study_day 9 and D1 2025-03-03"
    r = post(date="2025-03-12")
    assert r.status_code == 201
    assert (r.json()["study_day"], r.json()["derived"]) == (
        10,
        "study_day 10 derived from date 2025-03-12 and D1 2025-03-03",
    )
    # A02 has no induction course: nothing is invented
    body = {"date": "2025-03-12", "labs": [{"test": "anc", "value": 0.7, "unit": "10^9/L"}]}
    r = c.post("/api/patients/A02/labs", json.dumps(body), content_type="application/json", **auth)
    assert r.status_code == 201
    assert (r.json()["study_day"], r.json()["derived"]) == (
        None,
        "study_day cannot be derived: the patient has no induction D1 date",
    )
    # stored as given: the derived value is not written
    saved = c.get("/api/tables/labs?patient=A01", **auth).json()
    assert [(x["date"], x["study_day"]) for x in saved if x["date"] == "2025-03-12"] == [
        ("2025-03-12", None)
    ]


def test_alerts_are_listed_and_acknowledged_through_the_api(loaded, users) -> None:  # type: ignore[no-untyped-def]
    c, auth = _token_client(users["investigator"])
    # small cohort: A01 ANC 0.4 (D1) and 0.3 (D2) x10^9/L, CTCAE v5.0 grade 4 (< 0.5)
    open_ = c.get("/api/alerts?patient=A01", **auth).json()
    d2 = next(a for a in open_ if a["day"] == 2 and a["rule_id"] == "alert.lab_grade_ge3")
    assert d2["state"] == "open"
    assert d2["grade"] == 4
    assert d2["source"]["table"] == "labs"
    assert isinstance(d2["source"]["record"], int)
    # a monitor may not acknowledge; a user of another site is told there is no such alert
    m, mauth = _token_client(users["monitor"])
    assert (
        m.post(f"/api/alerts/{d2['id']}/acknowledge", {}, "application/json", **mauth).status_code
        == 403
    )
    b, bauth = _token_client(users["entry_b"])
    assert b.get("/api/alerts?patient=A01&state=all", **bauth).json() == []
    r = b.post(f"/api/alerts/{d2['id']}/acknowledge", {}, "application/json", **bauth)
    assert r.status_code == 404
    r = c.post(
        f"/api/alerts/{d2['id']}/acknowledge", {"note": "seen, G-CSF"}, "application/json", **auth
    )
    assert r.status_code == 200
    assert r.json()["state"] == "acknowledged"
    assert r.json()["acknowledged_by"] == "investigator"
    assert r.json()["note"] == "seen, G-CSF"
    assert d2["id"] not in [a["id"] for a in c.get("/api/alerts?patient=A01", **auth).json()]
    done = c.get("/api/alerts?patient=A01&state=acknowledged", **auth).json()
    assert [a["id"] for a in done] == [d2["id"]]
    assert c.get("/api/alerts?state=closed", **auth).status_code == 400
    # the acknowledgement is in the audit trail
    entries = c.get("/api/audit?table=alerts", **auth).json()
    assert entries[0]["action"] == "acknowledged"
    assert entries[0]["user"] == "investigator"
    assert entries[0]["reason"] == "seen, G-CSF"
