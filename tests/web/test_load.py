"""The load benchmark, shortened: concurrent page reads and lab writes on a live server, then
every acknowledged write is checked in the database with its audit row. (Latency figures are
printed by benchmarks/load.py, never asserted here.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live import POSTGRES_SKIP, load_benchmark, postgres_url


def _run(home: Path, database: str) -> None:
    load = load_benchmark("load")
    server = load.LiveServer(home, database).start()
    try:
        # every other request a save: writes start at once, whatever the speed of the machine
        result = load.run_load(server, clients=4, seconds=3, write_every=2)
    finally:
        server.stop()
    assert result.errors == []
    assert result.latencies["page"]  # pages were served (how many is for the benchmark)
    assert len(result.acks) > 0
    assert load.verify_writes(database, result.acks) == []
    # no page showed derived grades older than the lab values beside it
    assert result.stale == 0
    # the pages' bodies were kept in the database for every worker (bvall.web.rendered), and
    # a body of newer data removed the patient's older ones: one per patient and set of
    # permissions (one user here), or a few where two workers kept bodies at the same moment
    kept = load.query(database, "SELECT patient_id, COUNT(*) FROM rendered_pages GROUP BY 1")
    assert kept
    assert all(n <= 4 for _, n in kept), kept


def test_short_load_on_sqlite(tmp_path: Path) -> None:
    _run(tmp_path, f"sqlite:///{tmp_path / 'bvall.db'}")


@pytest.mark.postgres
def test_short_load_on_postgres(tmp_path: Path) -> None:
    url = postgres_url()
    if url is None:
        pytest.skip(POSTGRES_SKIP)
    live = load_benchmark("livestack")
    with live.postgres_database(url) as database:
        _run(tmp_path, database)
