"""Pages under `bvall serve` read the deriver's published derivations and say when the data
changed since (bvall.web.deriver); the deriver process lives and dies with the server."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from bvall.web.deriver import alive as real_alive

pytestmark = pytest.mark.django_db

#: ANC 0.7 x10^9/L is CTCAE v5.0 "neutrophil count decreased" grade 3 (< 1.0 - 0.5 x10^9/L).
NEW_ANC = {"patient_id": "A01", "test": "anc", "value": 0.7, "unit": "10^9/L", "study_day": 9}


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's folder, with the deriver switched on for this process's pages."""
    from bvall.web import derived, deriver

    monkeypatch.setenv(derived.SHARED_CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(deriver.DERIVER_ENV, "1")
    # the deriver is this test: publish() is called by hand
    monkeypatch.setattr(deriver, "alive", lambda where: where == tmp_path)
    derived.clear_caches()
    yield tmp_path
    derived.clear_caches()


def _anc_grades(d: Any, day: int) -> list[Any]:
    return [g["grade"] for g in d.grades if g["test"] == "anc" and g["day"] == day]


def _client(user: Any) -> Any:
    from django.test import Client

    c = Client(HTTP_HOST="127.0.0.1")
    c.force_login(user)
    return c


def test_tokens_change_for_the_patient_whose_data_changed_and_for_study_level_rows(
    loaded: Any, users: Any
) -> None:
    from bvall.store import records
    from bvall.web.derived import patient_tokens

    before = patient_tokens(None)
    assert set(before) == {"A01", "A02", "B01"}
    assert patient_tokens(["A01"]) == {"A01": before["A01"]}
    records.create_records(users["admin"], "labs", [NEW_ANC], "test")
    after = patient_tokens(None)
    assert after["A01"] != before["A01"]
    assert after["A02"] == before["A02"]
    assert after["B01"] == before["B01"]
    # a study-level row (provenance of no patient) changes every patient's token
    records.create_record(
        users["admin"],
        "provenance",
        {
            "table_name": "patients",
            "record": "all",
            "column_name": "arm",
            "source": "protocol v2",
            "location": "section 4",
            "status": "certain",
        },
        "test",
    )
    study_level = patient_tokens(None)
    assert all(study_level[p] != after[p] for p in after)


def test_a_page_shows_the_last_published_derivation_marked_until_the_deriver_catches_up(
    loaded: Any, users: Any, published: Path
) -> None:
    from bvall.store import records
    from bvall.web import derived, deriver

    first = deriver.publish(published)
    assert set(first.patients) == {"A01", "A02", "B01"}
    now = derived.latest(["A01"])
    assert now.stale == ()
    assert _anc_grades(now.derivations, 2) == [4]  # small cohort: ANC 0.3 on D2 is grade 4
    page = _client(users["admin"]).get("/patients/A01/").content.decode()
    assert "derived-stale" not in page

    records.create_records(users["admin"], "labs", [NEW_ANC], "test")
    behind = derived.latest(["A01"])
    assert behind.stale == ("A01",)
    assert behind.as_of == first.read_at
    assert _anc_grades(behind.derivations, 9) == []  # not derived yet: not shown as derived
    assert derived.latest(["A02"]).stale == ()  # another patient's derivation is current
    page = _client(users["admin"]).get("/patients/A01/").content.decode()
    assert 'class="derived-stale"' in page
    assert "The data of A01 changed since" in page
    assert "D9" in page  # the value entered is on the page at once (the lab table)
    listing = _client(users["admin"]).get("/").content.decode()
    assert "The data of A01 changed since" in listing

    second = deriver.publish(published)
    assert second.read_at > first.read_at
    caught_up = derived.latest(["A01"])
    assert caught_up.stale == ()
    assert _anc_grades(caught_up.derivations, 9) == [3]
    page = _client(users["admin"]).get("/patients/A01/").content.decode()
    assert "derived-stale" not in page
    assert "ctcae_v5_labs.neutrophil_count_decreased.g3" in page


def test_the_mark_links_to_the_same_page_asking_for_the_current_derivation(
    loaded: Any, users: Any, published: Path
) -> None:
    from bvall.store import records
    from bvall.web import deriver

    deriver.publish(published)
    records.create_records(users["admin"], "labs", [NEW_ANC], "test")
    listing = _client(users["admin"]).get("/?q=A0").content.decode()
    assert "The data of A01 changed since" in listing
    assert 'href="/?q=A0&amp;current=1"' in listing  # the filter is kept
    page = _client(users["admin"]).get("/patients/A01/").content.decode()
    assert 'href="/patients/A01/?current=1"' in page


def test_a_list_that_matches_no_patient_derives_nothing(
    loaded: Any, users: Any, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bvall.web import derived, deriver

    deriver.publish(published)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a page with no patient must not derive the database")

    monkeypatch.setattr(derived, "derivations", refuse)
    monkeypatch.setattr(derived, "database_derivations", refuse)
    r = _client(users["admin"]).get("/?q=nobody")
    assert r.status_code == 200
    assert "derived-stale" not in r.content.decode()
    assert derived.latest([]).derivations.grades == []


def test_asked_for_the_current_derivation_a_page_waits_then_says_what_it_shows(
    loaded: Any, users: Any, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No deriver runs in this test: the wait ends after WAIT_SECONDS with the last
    derivation, marked, rather than hanging or showing nothing."""
    from bvall.store import records
    from bvall.web import derived, deriver

    deriver.publish(published)
    records.create_records(users["admin"], "labs", [NEW_ANC], "test")
    monkeypatch.setattr(derived, "WAIT_SECONDS", 0.3)
    got = derived.latest(["A01"], wait=True)
    assert got.stale == ("A01",)
    assert _anc_grades(got.derivations, 9) == []


def test_a_patient_never_published_is_derived_by_the_page_itself(
    loaded: Any, users: Any, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bvall.store import records
    from bvall.web import derived, deriver

    deriver.publish(published)
    records.create_record(
        users["admin"],
        "patients",
        {"patient_id": "A09", "site_id": "SITEA", "sex": "F", "age_years": 50},
        "test",
    )
    monkeypatch.setattr(derived, "WAIT_SECONDS", 0.3)
    got = derived.latest(["A09"])
    assert got.stale == ()
    assert set(got.derivations.patients) == {"A09"}


def test_without_a_running_deriver_pages_derive_for_themselves(
    loaded: Any, users: Any, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deriver that crashed must not leave pages showing old derivations: they derive the
    current data themselves (slower, never stale)."""
    from bvall.store import records
    from bvall.web import derived, deriver

    deriver.publish(published)
    records.create_records(users["admin"], "labs", [NEW_ANC], "test")
    (published / deriver.PID_NAME).write_text(str(os.getpid()))  # a live process, not a deriver
    monkeypatch.setattr(deriver, "alive", real_alive)
    assert not deriver.alive(published)
    got = derived.latest(["A01"])
    assert got.stale == ()
    assert _anc_grades(got.derivations, 9) == [3]


def test_the_deriver_process_starts_and_stops_with_the_server(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from livestack import LiveServer
    from load import Client

    def derivers_of(pid: int) -> list[int]:
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"bvall.web.deriver" in cmd and str(pid).encode() in cmd:
                found.append(int(proc.name))
        return found

    srv = LiveServer(tmp_path, f"sqlite:///{tmp_path / 'bvall.db'}").start(timeout=120)
    try:
        assert srv.proc is not None
        master = srv.proc.pid
        srv.wait_until_warm()
        assert len(derivers_of(master)) == 1
        assert srv.log is not None
        assert re.search(r"published 13 patient\(s\)", srv.log.read_text())
        # a deriver that dies leaves the server answering, with current derivations
        os.kill(derivers_of(master)[0], signal.SIGKILL)
        token = srv.token()
        client = Client(srv.url, "admin", srv.admin_password, token)
        day = {"study_day": 200, "reason": "test", "labs": [{"test": "anc", "value": 0.7, "unit": "10^9/L"}]}  # fmt: skip
        try:
            status, _ = client.request(
                "POST",
                "/api/patients/P03/labs",
                json.dumps(day),
                {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            assert status == 201
            status, page = client.request("GET", "/patients/P03/")
        finally:
            client.close()
        assert status == 200
        assert 'class="derived-stale"' not in page
        # CTCAE v5.0: ANC 0.7 x10^9/L is neutrophil count decreased grade 3
        assert re.search(r"ALERT</span> D200 Neutrophil count decreased", page)
        assert "not running; this page derives itself" in srv.log.read_text()
    finally:
        srv.stop()
    assert derivers_of(master) == []
