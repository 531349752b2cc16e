"""Fault: kill -9 the server during a stream of writes; after a restart no record is half
written and the audit trail matches the data exactly."""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.live import POSTGRES_SKIP, load_benchmark, postgres_url

#: test, unit, value for study day d (plausible, distinct per day)
LABS = (
    ("anc", "10^9/L", lambda d: 0.5 + d % 7),
    ("platelets", "10^9/L", lambda d: 20.0 + d % 50),
    ("hemoglobin", "g/L", lambda d: 80.0 + d % 30),
)


def _writer(
    port: int,
    token: str,
    patient: str,
    days: Any,
    acked: list[tuple[str, int, list[int]]],
    failures: list[str],
    stop: threading.Event,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        _write_until_stopped(conn, token, patient, days, acked, failures, stop)
    finally:
        conn.close()


def _write_until_stopped(
    conn: http.client.HTTPConnection,
    token: str,
    patient: str,
    days: Any,
    acked: list[tuple[str, int, list[int]]],
    failures: list[str],
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        day = next(days)
        labs = [{"test": t, "unit": u, "value": v(day)} for t, u, v in LABS]
        body = json.dumps({"study_day": day, "reason": "fault test", "labs": labs})
        try:
            conn.request(
                "POST",
                f"/api/patients/{patient}/labs",
                body,
                {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            r = conn.getresponse()
            text = r.read()
        except OSError:
            return  # the server is gone
        if r.status == 201:
            acked.append((patient, day, json.loads(text)["ids"]))
        else:
            failures.append(f"{r.status}: {text[:300]!r}")
            return


def _run(home: Path, database: str) -> None:
    live = load_benchmark("livestack")
    server = live.LiveServer(home, database).start()
    token = server.token()
    # study days after the example data (D67 at most) and before today for every writer
    days = itertools.count(200)
    acked: list[tuple[str, int, list[int]]] = []
    failures: list[str] = []
    stop = threading.Event()
    writers = [
        threading.Thread(target=_writer, args=(server.port, token, p, days, acked, failures, stop))
        for p in ("P01", "P02", "P03", "P04")
    ]
    for w in writers:
        w.start()
    deadline = time.monotonic() + 30
    while len(acked) < 20 and not failures and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL to master and workers, mid-stream
    stop.set()
    for w in writers:
        w.join(timeout=30)
    assert failures == []
    assert len(acked) >= 20, "the writers did not get going"

    restarted = live.LiveServer(home, database).start()
    try:
        assert restarted.admin_password is None  # not a first start: nothing re-created
        labs = live.query(
            database,
            "SELECT id, patient_id, study_day, test, value FROM labs WHERE study_day >= 200",
        )
        hist = live.query(
            database,
            "SELECT id, history_type, patient_id, study_day, test, value, history_change_reason FROM labs_history WHERE study_day >= 200",
        )
        # no half-written day: each (patient, day) has all three values or none
        per_day = Counter((p, d) for _, p, d, _, _ in labs)
        assert set(per_day.values()) == {3}
        # every acknowledged write is there
        stored = {row[0] for row in labs}
        for _, _, ids in acked:
            assert set(ids) <= stored
        # the audit trail matches the data: one insert row per record, same values, nothing else
        assert sorted((i, p, d, t, v) for i, _, p, d, t, v, _ in hist) == sorted(labs)
        assert {h[1] for h in hist} == {"+"}
        assert {h[6] for h in hist} == {"fault test"}
        # and the restarted server serves and accepts writes
        conn = http.client.HTTPConnection("127.0.0.1", restarted.port, timeout=10)
        try:
            conn.request("GET", "/api/patients", headers={"Authorization": f"Bearer {token}"})
            assert conn.getresponse().status == 200
        finally:
            conn.close()
    finally:
        restarted.stop()


def test_kill_9_during_writes_on_sqlite(tmp_path: Path) -> None:
    _run(tmp_path, f"sqlite:///{tmp_path / 'bvall.db'}")


@pytest.mark.postgres
def test_kill_9_during_writes_on_postgres(tmp_path: Path) -> None:
    url = postgres_url()
    if url is None:
        pytest.skip(POSTGRES_SKIP)
    live = load_benchmark("livestack")
    with live.postgres_database(url) as database:
        _run(tmp_path, database)
