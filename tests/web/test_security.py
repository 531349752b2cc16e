"""Security: login everywhere, roles, sites, CSRF, injection, cookies, headers, throttling."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from bvall.cohort import TABLES

pytestmark = pytest.mark.django_db

PUBLIC = {"login/", "logout/", "healthz"}  # logging out needs no login


def _client(user: Any, **kw: Any) -> Client:
    c = Client(**kw)
    c.force_login(user)
    return c


def _app_routes() -> list[str]:
    """Every page route of the app (not the admin or API), with sample arguments filled in."""
    out = []
    for p in get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            continue
        assert isinstance(p, URLPattern)
        route = str(p.pattern)
        route = route.replace("<str:pid>", "A01").replace("<str:table>", "labs")
        route = (
            route.replace("<int:pk>", "1").replace("<int:uid>", "1").replace("<str:token>", "abc")
        )
        out.append("/" + route)
    return out


def test_the_route_list_covers_the_app() -> None:
    routes = _app_routes()
    assert len(routes) >= 18
    assert "/patients/A01/labs/day/" in routes


@pytest.mark.parametrize("path", [r for r in _app_routes() if r.lstrip("/") not in PUBLIC])
def test_no_page_without_login(loaded: Any, path: str) -> None:
    for method in ("get", "post"):
        r = getattr(Client(), method)(path)
        assert r.status_code == 302, (method, path)
        assert r["Location"].startswith("/login/"), (method, path)


def test_admin_and_api_need_login(loaded: Any) -> None:
    r = Client().get("/admin/store/lab/")
    assert r.status_code == 302
    assert "login" in r["Location"]
    for path in ("/api/patients", "/api/openapi.json", "/api/alerts"):
        assert Client().get(path).status_code == 401


# (role, method, path) each role must be refused
REFUSED = [
    ("monitor", "get", "/patients/A01/labs/day/"),
    ("monitor", "post", "/patients/A01/labs/day/"),
    ("monitor", "get", "/patients/new/"),
    ("monitor", "get", "/patients/A01/vitals/new/"),
    ("monitor", "get", "/records/labs/{lab}/edit/"),
    ("monitor", "post", "/records/labs/{lab}/delete/"),
    ("monitor", "get", "/import/"),
    ("monitor", "get", "/users/"),
    ("data_entry", "get", "/analysis/"),
    ("data_entry", "get", "/monitoring/"),
    ("data_entry", "get", "/audit/"),
    ("data_entry", "get", "/users/"),
    ("data_entry", "get", "/sites/"),
    ("investigator", "get", "/users/"),
    ("investigator", "get", "/users/new/"),
    ("investigator", "post", "/sites/"),
]


@pytest.mark.parametrize(("role", "method", "path"), REFUSED)
def test_each_role_is_refused_what_it_may_not_do(
    loaded: Any, users: Any, role: str, method: str, path: str
) -> None:
    from bvall.store.models import Lab

    lab = Lab.objects.filter(patient_id="A01").first()
    r = getattr(_client(users[role]), method)(path.format(lab=lab.pk))
    assert r.status_code == 403, (role, path)
    assert "Not allowed" in r.content.decode()


@pytest.mark.parametrize("role", ["investigator", "data_entry", "monitor"])
def test_only_administrators_reach_the_back_office(loaded: Any, users: Any, role: str) -> None:
    r = _client(users[role]).get("/admin/store/lab/")
    assert r.status_code == 302
    assert "login" in r["Location"]
    assert _client(users["admin"]).get("/admin/store/lab/").status_code == 200


def test_api_refuses_by_role(loaded: Any, users: Any) -> None:
    from bvall.store.tokens import create_token

    _, mon = create_token(users["monitor"], "t")
    body = json.dumps(
        {
            "values": {
                "patient_id": "A01",
                "test": "anc",
                "value": 1,
                "unit": "10^9/L",
                "study_day": 9,
            }
        }
    )
    r = Client().post(
        "/api/tables/labs",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {mon}",
    )
    assert r.status_code == 403
    _, de = create_token(users["data_entry"], "t")
    assert Client().get("/api/audit", HTTP_AUTHORIZATION=f"Bearer {de}").status_code == 403


def test_site_a_user_cannot_reach_site_b_patient_by_guessing(loaded: Any, users: Any) -> None:
    from bvall.store.models import Lab
    from bvall.store.tokens import create_token

    lab_b = Lab.objects.get(patient_id="B01")
    c = _client(users["investigator"])
    for path in (
        "/patients/B01/",
        "/patients/B01/labs/day/",
        "/patients/B01/vitals/new/",
        f"/records/labs/{lab_b.pk}/edit/",
        f"/records/labs/{lab_b.pk}/delete/",
    ):
        r = c.get(path)
        assert r.status_code == 404, path
        assert "B01" not in r.content.decode() or "that you may see" in r.content.decode()
    # the same answer as for a patient that does not exist
    assert c.get("/patients/NOPE/").status_code == 404
    assert "B01" not in c.get("/audit/?patient=B01").content.decode().split("<tbody>")[1]
    _, raw = create_token(users["investigator"], "t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert Client().get("/api/patients/B01", **auth).status_code == 404
    assert Client().get("/api/tables/labs?patient=B01", **auth).json() == []
    assert all(r["patient_id"] != "B01" for r in Client().get("/api/tables/labs", **auth).json())
    assert Client().get("/api/patients/B01/derived/response", **auth).status_code == 404
    upd = json.dumps({"values": {"value": 9}, "version": 1, "reason": "x"})
    assert (
        Client()
        .put(f"/api/tables/labs/{lab_b.pk}", upd, content_type="application/json", **auth)
        .status_code
        == 404
    )
    assert all(e["patient"] != "B01" for e in Client().get("/api/audit", **auth).json())


def test_back_office_is_scoped_by_site_too(loaded: Any, users: Any) -> None:
    from bvall.store.models import Lab, Profile, Site

    admin = users["admin"]
    profile = Profile.objects.get(user=admin)
    profile.all_sites = False
    profile.save()
    profile.sites.set([Site.objects.get(code="SITEA")])
    c = _client(admin)
    lab_b = Lab.objects.get(patient_id="B01")
    html = c.get("/admin/store/lab/").content.decode()
    assert "B01" not in html
    assert "A01" in html
    assert c.get(f"/admin/store/lab/{lab_b.pk}/change/").status_code in (302, 404)


def test_csrf_is_required_for_form_posts_and_session_api_writes(loaded: Any, users: Any) -> None:
    from bvall.store.models import Lab

    c = _client(users["data_entry"], enforce_csrf_checks=True)
    r = c.post(
        "/patients/A02/labs/day/", {"study_day": "3", "value_anc": "1.0", "unit_anc": "10^9/L"}
    )
    assert r.status_code == 403
    assert "CSRF" in r.content.decode()
    body = json.dumps(
        {
            "values": {
                "patient_id": "A02",
                "test": "anc",
                "value": 1,
                "unit": "10^9/L",
                "study_day": 3,
            }
        }
    )
    r = c.post("/api/tables/labs", body, content_type="application/json")
    assert r.status_code == 403
    assert not Lab.objects.filter(patient_id="A02").exists()
    # with the token from the form, the same post goes through
    page = c.get("/patients/A02/labs/day/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = c.post(
        "/patients/A02/labs/day/",
        {"csrfmiddlewaretoken": token, "study_day": "3", "value_anc": "1.0", "unit_anc": "10^9/L"},
    )
    assert r.status_code == 302


SQL = "x'); DROP TABLE patients; --"
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _free_text_columns() -> list[tuple[str, str]]:
    return [
        (t, c.name)
        for t, schema in TABLES.items()
        for c in schema.columns
        if c.type == "string" and not c.vocabulary and not c.pattern and t not in ("patients",)
    ]


def test_the_injection_list_covers_every_free_text_column() -> None:
    cols = _free_text_columns()
    assert ("adverse_events", "notes") in cols
    assert ("labs", "test") in cols
    assert ("provenance", "printed") in cols
    assert len(cols) >= 20


_BASE: dict[str, dict[str, Any]] = {
    "genetic_findings": {"lesion": "other"},
    "treatment_courses": {"course_id": "C9", "course_type": "consolidation"},
    "dose_administrations": {
        "course_id": "IND",
        "agent": "venetoclax",
        "dose": "400",
        "dose_unit": "mg",
        "study_day_start": "4",
        "status": "given",
    },
    "concomitant_medications": {"drug": "posaconazole"},
    "labs": {"test": "anc", "value": "1", "unit": "10^9/L", "study_day": "7"},
    "vitals": {"study_day": "7"},
    "neuro_assessments": {"study_day": "7"},
    "marrow_assessments": {"timepoint": "follow_up", "study_day": "40"},
    "adverse_events": {"term": "Fatigue", "onset_day": "7"},
    "transfusions": {"product": "rbc", "amount": "1", "amount_unit": "unit", "study_day": "7"},
    "follow_up_events": {"event": "last_contact", "study_day": "90"},
    "reported_summaries": {"quantity": "days_hospitalised", "value": "10"},
    "provenance": {
        "table_name": "labs",
        "record": "r",
        "column_name": "value",
        "source": "s",
        "location": "l",
        "status": "certain",
    },
}


@pytest.mark.parametrize("payload", [SQL, HTML])
def test_injection_in_every_text_field_is_stored_as_text_and_shown_escaped(
    loaded: Any, users: Any, payload: str
) -> None:
    from bvall.store import records
    from bvall.store.models import COHORT_MODELS, Patient

    c = _client(users["admin"])
    stored = 0
    for i, (table, col) in enumerate(_free_text_columns()):
        values = {**_BASE[table], "patient_id": "A01"}
        # a distinct key for each record, so no two are duplicates of each other
        for day in ("study_day", "onset_day", "study_day_start", "start_day"):
            if day in values or (
                day in TABLES[table].column_names and table != "reported_summaries"
            ):
                values[day] = str(10 + i)
        if table == "treatment_courses":
            values["course_id"] = f"C{i}"
        if table == "provenance":
            values["record"] = f"r{i}"
        values[col] = payload
        refused: list[Any] = []
        try:
            records.create_record(users["admin"], table, values)
        except records.RecordProblems as exc:
            refused = exc.problems
        if refused:
            # a free-text column with its own rules (lab test codes, units): refused, and the
            # refusal quotes the payload as text
            assert any(p.value == payload for p in refused), (table, col)
            continue
        row = COHORT_MODELS[table].objects.filter(**{col: payload}).get()
        assert getattr(row, col) == payload  # exactly as entered
        stored += 1
    assert stored >= 15
    assert Patient.objects.count() == 3  # the SQL text did nothing
    for path in ("/patients/A01/", "/audit/?patient=A01", "/"):
        html = c.get(path).content.decode()
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
    page = c.get("/patients/A01/").content.decode()
    if payload == HTML:
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    else:
        assert "x&#x27;); DROP TABLE patients; --" in page


@pytest.mark.parametrize("payload", [SQL, HTML])
def test_injection_in_coded_fields_is_refused_and_quoted_escaped(
    loaded: Any, users: Any, payload: str
) -> None:
    c = _client(users["admin"])
    r = c.post(
        "/patients/new/",
        {"patient_id": payload, "sex": payload, "age_years": payload, "site_id": payload},
    )
    html = r.content.decode()
    assert "Not saved." in html
    assert "<script>alert" not in html
    for field in ("patient_id", "sex", "age_years", "site_id"):
        assert f'id="id_{field}"' in html


def test_passwords_are_hashed_with_argon2_in_the_served_configuration() -> None:
    from bvall.web import settings as app_settings

    assert app_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    from django.contrib.auth.hashers import Argon2PasswordHasher

    assert (
        Argon2PasswordHasher()
        .encode("secret-123-abc", Argon2PasswordHasher().salt())
        .startswith("argon2$")
    )


def test_session_cookie_flags_and_security_headers(loaded: Any, users: Any) -> None:
    c = Client()
    r = c.post("/login/", {"username": "monitor", "password": "correct horse battery staple"})
    assert r.status_code == 302
    cookie = r.cookies["bvall_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    page = c.get("/patients/A01/")
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert page["Cache-Control"] == "no-store"


def test_login_is_throttled_after_five_failures(loaded: Any, users: Any) -> None:
    c = Client()
    for _ in range(5):
        r = c.post("/login/", {"username": "monitor", "password": "wrong"})
    r = c.post("/login/", {"username": "monitor", "password": "correct horse battery staple"})
    assert r.status_code == 429
    assert "Too many failed logins" in r.content.decode()
    # another account from the same address is not locked by it
    r = c.post("/login/", {"username": "investigator", "password": "correct horse battery staple"})
    assert r.status_code == 302


def test_back_office_shows_records_and_history_read_only(loaded: Any, users: Any) -> None:
    from bvall.store.models import Lab

    lab = Lab.objects.get(patient_id="A01", test="platelets")
    c = _client(users["admin"])
    assert c.get(f"/admin/store/lab/{lab.pk}/change/").status_code == 200
    history = c.get(f"/admin/store/lab/{lab.pk}/history/")
    assert history.status_code == 200
    assert "test load" in history.content.decode()
    r = c.post(f"/admin/store/lab/{lab.pk}/change/", {"value": "1", "unit": "10^9/L"})
    assert r.status_code == 403
    assert c.post(f"/admin/store/lab/{lab.pk}/delete/", {"post": "yes"}).status_code == 403
    lab.refresh_from_db()
    assert lab.value == 41.0
