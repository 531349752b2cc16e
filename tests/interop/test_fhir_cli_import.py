"""`bvall fhir import` on a real database file: check, then commit; audit reason the bundle id."""

from __future__ import annotations

from pathlib import Path

from tests.live import load_benchmark

BUNDLE = Path(__file__).parent / "data" / "fhir" / "feed_p06.json"


def test_fhir_import_checks_then_commits_once(tmp_path: Path) -> None:
    live = load_benchmark("livestack")
    db = f"sqlite:///{tmp_path / 'a.db'}"
    live.run_cli(tmp_path, "db", "init", "--database", db)
    live.run_cli(tmp_path, "db", "load", "published", "--create-sites", "--database", db)
    args = ("fhir", "import", str(BUNDLE), "--database", db, "--today", "2025-01-01")
    out = live.run_cli(tmp_path, *args)
    assert "2 lab row(s) would be written, 1 entr(ies) skipped; nothing written" in out
    out = live.run_cli(tmp_path, *args, "--commit")
    assert "wrote 2 lab row(s)" in out
    rows = live.query(db, "SELECT test, value, unit, date, time FROM labs WHERE date IS NOT NULL")
    assert sorted(rows) == [
        ("anc", 0.3, "10^9/L", "2024-11-02", "07:30"),
        ("platelets", 18.0, "10^3/µL", "2024-11-02", "07:30"),
    ]
    reasons = live.query(
        db, "SELECT DISTINCT history_change_reason FROM labs_history WHERE date IS NOT NULL"
    )
    assert reasons == [("FHIR bundle ehr-labs-P06-2024-11-02",)]
    # sending it again (skipped as already stored) and a future date (refused) are checked
    # in-process in test_fhir_feed.py / test_fhir_bundle.py: each command here starts Django
