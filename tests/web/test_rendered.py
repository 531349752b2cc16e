"""The patient page's body is kept as rendered under everything it shows (bvall.web.rendered):
served again only while the patient's data, alerts, the viewer's permissions and the day are
those it was rendered from; never older than the data; the viewer's own CSRF token in its forms."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client

from bvall.web.rendered import CSRF_MARK

pytestmark = pytest.mark.django_db

#: ANC 0.2 x10^9/L is CTCAE v5.0 "neutrophil count decreased" grade 4 (< 0.5 x10^9/L).
LOW_ANC = {"patient_id": "A01", "test": "anc", "value": 0.2, "unit": "10^9/L", "study_day": 30}
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


def _client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _page(c: Client, pid: str = "A01") -> str:
    r = c.get(f"/patients/{pid}/")
    assert r.status_code == 200
    return str(r.content.decode())


def _without_tokens(html: str) -> str:
    """The page with its CSRF tokens (forms, htmx headers) blanked: Django masks the token
    afresh at every request."""
    html = TOKEN.sub('name="csrfmiddlewaretoken" value=""', html)
    return re.sub(r'"X-CSRFToken": "[A-Za-z0-9]*"', '"X-CSRFToken": ""', html)


def _fresh(c: Client, pid: str = "A01") -> str:
    """The page rendered from nothing kept (in the worker or the database)."""
    from bvall.store.models import RenderedPage
    from bvall.web import derivations

    derivations.clear_caches()
    RenderedPage.objects.all().delete()
    return _page(c, pid)


def test_a_kept_body_is_the_body_rendered_afresh(loaded: Any, users: Any) -> None:
    from bvall.store.models import RenderedPage
    from bvall.web import rendered

    c = _client(users["data_entry"])
    fresh = _fresh(c)
    assert RenderedPage.objects.filter(patient_id="A01").count() == 1
    from_worker = _page(c)
    rendered.clear()  # another worker: the body comes from the database
    from_database = _page(c)
    assert _without_tokens(from_worker) == _without_tokens(fresh)
    assert _without_tokens(from_database) == _without_tokens(fresh)
    assert RenderedPage.objects.filter(patient_id="A01").count() == 1


def test_the_forms_of_a_kept_body_carry_the_viewers_own_csrf_token(loaded: Any, users: Any) -> None:
    """Two sessions share a body: each page's forms hold a token of its own session, which
    Django accepts (the acknowledgement posts with enforced CSRF checks)."""
    from bvall.store.models import Alert

    first = Client(enforce_csrf_checks=True)
    first.force_login(users["data_entry"])
    second = Client(enforce_csrf_checks=True)
    second.force_login(users["data_entry"])
    _page(first)
    html = _page(second)  # the body kept by the first session's page
    assert CSRF_MARK not in html
    tokens = TOKEN.findall(html)
    assert tokens
    assert all(re.fullmatch(r"[A-Za-z0-9]{64}", t) for t in tokens)
    alert = Alert.objects.filter(patient_id="A01", acknowledgement__isnull=True).first()
    assert alert is not None
    r = second.post(
        f"/alerts/{alert.pk}/acknowledge/", {"csrfmiddlewaretoken": tokens[0], "note": "seen"}
    )
    assert r.status_code in (200, 302), r.status_code
    alert.refresh_from_db()
    assert alert.acknowledgement.user == users["data_entry"]


def test_a_value_entered_as_the_token_mark_is_shown_as_entered(loaded: Any, users: Any) -> None:
    """The mark the body holds for the token cannot be produced by data: entered text is
    escaped, so it is shown as typed and never replaced by a token."""
    from bvall.store import records

    records.create_record(
        users["admin"],
        "adverse_events",
        {"patient_id": "A01", "term": "Fatigue", "grade": 1, "notes": CSRF_MARK},
        "test",
    )
    html = _page(_client(users["data_entry"]))
    assert "&lt;bvall-csrf-token/&gt;" in html
    assert CSRF_MARK not in html


def test_a_save_makes_the_next_page_show_the_new_value_and_its_alert(
    loaded: Any, users: Any
) -> None:
    from bvall.store import records

    c = _client(users["data_entry"])
    before = _page(c)
    assert "Neutrophil count decreased grade 4 (D30" not in before
    records.create_records(users["admin"], "labs", [LOW_ANC], "test")  # another session
    after = _page(c)
    assert "Neutrophil count decreased grade 4 (D30: 0.2 10^9/L)" in after
    assert re.search(r"latest Neutrophil count decreased \(D30\)", after)
    assert _without_tokens(after) == _without_tokens(_fresh(c))


def test_an_acknowledgement_takes_the_alert_off_the_kept_page(loaded: Any, users: Any) -> None:
    """Acknowledging writes no data (the data token stays): the alerts' own token changes."""
    from bvall.store.alerts import acknowledge_alert
    from bvall.store.models import Alert

    c = _client(users["data_entry"])
    alert = Alert.objects.filter(patient_id="A01", acknowledgement__isnull=True).first()
    assert alert is not None
    assert f'data-alert-id="{alert.pk}"' in _page(c)
    acknowledge_alert(users["investigator"], alert.pk, "seen")
    html = _page(c)
    assert f'data-alert-id="{alert.pk}"' not in html
    assert _without_tokens(html) == _without_tokens(_fresh(c))


def test_each_set_of_permissions_has_its_own_body(loaded: Any, users: Any) -> None:
    """A monitor, after an editor's page was kept, sees no acknowledgement form and no edit
    link; the editor's kept body still has them."""
    editor, monitor = _client(users["data_entry"]), _client(users["monitor"])
    assert "/acknowledge/" in _page(editor)
    html = _page(monitor)
    assert 'data-alert-id="' in html
    assert "/acknowledge/" not in html
    assert ">edit</a>" not in html
    again = _page(editor)
    assert "/acknowledge/" in again
    assert ">edit</a>" in again


def test_the_key_changes_with_everything_the_body_shows() -> None:
    from bvall.web.rendered import page_key

    base: dict[str, Any] = {
        "patient_id": "A01",
        "data_token": ("db", ("labs", 3, 17, "2026-12-08 10:00:00")),
        "alert_token": ((0, 2, 5), (1, 0, None)),
        "permissions": {"view": True, "edit": True},
        "today": dt.date(2026, 12, 8),
    }
    key = page_key(**base)
    assert page_key(**base) == key
    changes: dict[str, Any] = {
        "patient_id": "A02",
        "data_token": ("db", ("labs", 4, 18, "2026-12-08 10:01:00")),
        "alert_token": ((0, 2, 5), (1, 1, 9)),
        "permissions": {"view": True, "edit": False},
        "today": dt.date(2026, 12, 9),
    }
    for name, value in changes.items():
        other = page_key(**{**base, name: value})
        assert other[0] != key[0], name
        # the part of the key without the viewer's permissions changes with the rest only
        assert (other[1] == key[1]) == (name == "permissions"), name


def test_a_database_that_refuses_to_keep_the_body_does_not_fail_the_page(
    loaded: Any, users: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from django.db import DatabaseError

    from bvall.store.models import RenderedPage
    from bvall.web import derivations

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("database is locked")

    derivations.clear_caches()
    monkeypatch.setattr(RenderedPage.objects, "bulk_create", refuse)
    with caplog.at_level("WARNING", logger="bvall.web.rendered"):
        html = _page(_client(users["data_entry"]))
    assert "Neutrophil count decreased" in html
    assert "was not kept in the database: database is locked" in caplog.text
    assert not RenderedPage.objects.exists()


def test_only_the_bodies_of_the_patients_current_data_stay_in_the_database(
    loaded: Any, users: Any
) -> None:
    from bvall.store import records
    from bvall.store.models import RenderedPage

    editor, monitor = _client(users["data_entry"]), _client(users["monitor"])
    _page(editor)
    _page(monitor)
    assert RenderedPage.objects.filter(patient_id="A01").count() == 2  # one per permissions
    first = set(RenderedPage.objects.values_list("key", flat=True))
    records.create_records(users["admin"], "labs", [LOW_ANC], "test")
    _page(editor)
    kept = set(RenderedPage.objects.filter(patient_id="A01").values_list("key", flat=True))
    assert len(kept) == 1
    assert not kept & first
