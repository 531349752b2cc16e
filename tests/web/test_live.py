"""Pages show derived state of the data as they are: derived in the request, for the data the
page shows beside it, in any worker of a real server, right after a save by someone else."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

#: ANC 0.7 x10^9/L is CTCAE v5.0 "neutrophil count decreased" grade 3 (< 1.0 - 0.5 x10^9/L).
NEW_ANC = {"patient_id": "A01", "test": "anc", "value": 0.7, "unit": "10^9/L", "study_day": 9}


@pytest.mark.django_db
def test_tokens_change_for_the_patient_whose_data_changed_and_for_study_level_rows(
    loaded: Any, users: Any
) -> None:
    from bvall.store import records
    from bvall.web.derivations import patient_tokens

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
    assert all(patient_tokens(None)[p] != after[p] for p in after)


@pytest.mark.django_db
def test_the_data_version_changes_with_every_write_and_only_then(loaded: Any, users: Any) -> None:
    """The token the cohort-wide views are kept by: equal while nothing is written, new after an
    insert, a change or a deletion in any table, and after a study-level change."""
    from bvall.store import records
    from bvall.store.models import Lab, StudyInfo
    from bvall.web.derivations import data_version

    seen = [data_version()]
    assert data_version() == seen[-1]
    saved = records.create_records(users["admin"], "labs", [NEW_ANC], "test")
    seen.append(data_version())
    lab = Lab.objects.get(pk=saved[0].pk)
    lab.value = 0.4
    lab._change_reason = "test"  # type: ignore[attr-defined]
    lab.save()
    seen.append(data_version())
    lab.delete()
    seen.append(data_version())
    info = StudyInfo.objects.first()
    assert info is not None
    info.title = "renamed"
    info.save()
    seen.append(data_version())
    assert len(set(seen)) == len(seen), seen
    assert data_version() == seen[-1]


@pytest.mark.django_db
def test_a_save_while_a_page_reads_makes_it_read_again(loaded: Any, users: Any) -> None:
    """The page's data and its derivations are of the same data (the save landed in between)."""
    from bvall.store import records
    from bvall.store.models import Lab
    from bvall.web.derivations import read_consistent

    calls = []

    def read(current: Any) -> int:
        calls.append(current)
        if len(calls) == 1:  # a colleague saves while this page reads
            records.create_records(users["admin"], "labs", [NEW_ANC], "test")
        return Lab.objects.filter(patient_id="A01", test="anc").count()

    current, n_labs = read_consistent(["A01"], read)
    assert len(calls) == 2
    anc = [g for g in current.derivations.grades if g["test"] == "anc"]
    assert len(anc) == n_labs == 3
    assert [g["grade"] for g in anc if g["day"] == 9] == [3]


def test_a_page_right_after_a_save_through_the_api_shows_the_new_grade_and_alert(
    tmp_path: Path,
) -> None:
    """A real `bvall serve` with 2 workers: a program saves through the API (a token); a
    clinician's browser session opens the patient at once, on new connections (either worker)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from livestack import LiveServer
    from load import Client

    srv = LiveServer(tmp_path, f"sqlite:///{tmp_path / 'bvall.db'}", workers=2).start(timeout=300)
    try:
        assert srv.admin_password
        token = srv.token()
        program = Client(srv.url, "admin", srv.admin_password, token)
        for day, value, grade in ((300, 0.7, 3), (301, 0.2, 4)):  # after every recorded day
            # P03's first view derives its data in both workers before the save
            for _ in range(2):
                viewer = Client(srv.url, "admin", srv.admin_password, token)
                assert viewer.request("GET", "/patients/P03/")[0] == 200
                viewer.close()
            body = {"study_day": day, "reason": "test", "labs": [{"test": "anc", "value": value, "unit": "10^9/L"}]}  # fmt: skip
            status, _ = program.request(
                "POST",
                "/api/patients/P03/labs",
                json.dumps(body),
                {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            assert status == 201
            for _ in range(2):  # new sessions and connections: each may land on either worker
                viewer = Client(srv.url, "admin", srv.admin_password, token)
                status, page = viewer.request("GET", "/patients/P03/")
                viewer.close()
                assert status == 200
                # CTCAE v5.0 neutrophil count decreased: grade 3 < 1.0, grade 4 < 0.5 x10^9/L
                assert re.search(
                    rf"latest Neutrophil count decreased \(D{day}\)(?:(?!</tr>).)*"
                    rf'<td class="value"><b>grade {grade}<',
                    page,
                    re.S,
                ), page[:2000]
                assert (
                    f"Neutrophil count decreased grade {grade} (D{day}: {value:g} 10^9/L)" in page
                )
                assert "derived-stale" not in page
        program.close()
        assert srv.log is not None
        assert "deriver" not in srv.log.read_text()
    finally:
        srv.stop()


def test_the_load_scripts_stale_check_reads_the_patient_page_marks() -> None:
    """load.py's check on a page whose grades panel stops at D12 while the lab table shows D14."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from load import page_is_stale

    table = '<th class="num">D12</th><th class="num">D14</th>'
    assert page_is_stale(table + "<td>latest Neutrophil count decreased (D12 06:00)</td>")
    assert not page_is_stale(table + "<td>latest Neutrophil count decreased (D14)</td>")
    assert page_is_stale("<p>no marks</p>") is None


@pytest.mark.django_db
def test_a_page_of_a_derived_patient_does_not_wait_for_another_derivation(loaded: Any) -> None:
    """While the worker derives one patient (its derivation lock held), a page of a patient
    already derived at its current data takes that derivation at once; a patient whose data
    never derived is derived once the lock is free."""
    import threading
    import time

    from bvall.web import derivations

    derivations.clear_caches()
    first = derivations.current_derivations(["A01"])
    release = threading.Event()
    held = threading.Event()

    def hold() -> None:
        with derivations._DERIVE_LOCK:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        t0 = time.monotonic()
        again = derivations.current_derivations(["A01"])
        waited = time.monotonic() - t0
        assert again.derivations is first.derivations
        assert waited < 5, f"waited {waited:.1f} s for another derivation"
    finally:
        release.set()
        holder.join()
    assert derivations.current_derivations(["A02"]).derivations.patients.keys() == {"A02"}
