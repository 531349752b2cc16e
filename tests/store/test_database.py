"""The `bvall db` commands on real database files: init, load, export, backup and restore."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.live import load_benchmark


@pytest.fixture(scope="module")
def live():  # type: ignore[no-untyped-def]
    return load_benchmark("livestack")


def test_init_load_export_round_trip(tmp_path: Path, live, published) -> None:  # type: ignore[no-untyped-def]
    from bvall.cohort import read_cohort

    db = f"sqlite:///{tmp_path / 'a.db'}"
    out = live.run_cli(tmp_path, "db", "init", "--database", db)
    assert re.search(r"Account admin\s+password \S+", out)
    with pytest.raises(RuntimeError, match="already initialised"):
        live.run_cli(tmp_path, "db", "init", "--database", db)
    live.run_cli(tmp_path, "db", "load", "published", "--create-sites", "--database", db)
    rows = sum(published.counts().values())  # every row of the dataset is a duplicate now
    with pytest.raises(RuntimeError, match=rf"{rows} problem\(s\); nothing was written"):
        live.run_cli(tmp_path, "db", "load", "published", "--create-sites", "--database", db)
    live.run_cli(tmp_path, "db", "export", "--to", str(tmp_path / "out"), "--database", db)
    back = read_cohort(tmp_path / "out")
    assert back.equals(published)
    assert back.metadata.title == published.metadata.title


def test_backup_restores_data_history_and_users_into_a_new_database(tmp_path: Path, live) -> None:  # type: ignore[no-untyped-def]
    a = f"sqlite:///{tmp_path / 'a.db'}"
    b = f"sqlite:///{tmp_path / 'b.db'}"
    live.run_cli(tmp_path, "db", "init", "--database", a)
    live.run_cli(tmp_path, "db", "load", "published", "--create-sites", "--database", a)
    live.run_cli(
        tmp_path, "user", "add", "nurse", "--role", "data_entry", "--site", "JSPH", "--database", a
    )
    live.run_cli(tmp_path, "db", "backup", str(tmp_path / "bk.gz"), "--database", a)
    out = live.run_cli(tmp_path, "db", "restore", str(tmp_path / "bk.gz"), "--database", b)
    assert "restored" in out
    for sql in (
        "SELECT COUNT(*) FROM labs_history",
        "SELECT COUNT(*) FROM provenance",
        "SELECT username, password FROM auth_user ORDER BY username",
        "SELECT role, all_sites FROM profiles ORDER BY id",
        "SELECT id, patient_id, test, value, unit FROM labs ORDER BY id",
        "SELECT history_id, history_change_reason, history_type FROM patients_history ORDER BY history_id",
    ):
        assert live.query(a, sql) == live.query(b, sql), sql
    # never over existing data
    with pytest.raises(RuntimeError, match="not empty"):
        live.run_cli(tmp_path, "db", "restore", str(tmp_path / "bk.gz"), "--database", a)
    with pytest.raises(RuntimeError, match="already exists"):
        live.run_cli(tmp_path, "db", "backup", str(tmp_path / "bk.gz"), "--database", a)


def test_serve_refuses_a_database_that_needs_migrations(tmp_path: Path, live) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    db = tmp_path / "a.db"
    live.run_cli(tmp_path, "db", "init", "--database", f"sqlite:///{db}")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM django_migrations WHERE app = 'store' AND name LIKE '0003%'")
    with pytest.raises(
        RuntimeError, match=r"needs 1 migration\(s\) \(store.0003_history_append_only\)"
    ):
        live.run_cli(
            tmp_path, "db", "export", "--to", str(tmp_path / "x"), "--database", f"sqlite:///{db}"
        )


def test_sites_are_added_on_purpose_from_the_command_line(tmp_path: Path, live) -> None:  # type: ignore[no-untyped-def]
    """Finding 8: `bvall user add --site NOSUCH` created the site; `db load` made sites silently."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    live.run_cli(tmp_path, "db", "init", "--database", db)
    with pytest.raises(RuntimeError, match=r"'NOSUCH' is not a site of the study"):
        live.run_cli(
            tmp_path, "user", "add", "n", "--role", "monitor", "--site", "NOSUCH", "--database", db
        )
    with pytest.raises(RuntimeError, match=r"'JSPH'.*bvall site add"):
        live.run_cli(tmp_path, "db", "load", "published", "--database", db)
    out = live.run_cli(
        tmp_path, "site", "add", "JSPH", "--name", "Jiangsu Province Hospital", "--database", db
    )
    assert "added site JSPH – Jiangsu Province Hospital" in out
    with pytest.raises(RuntimeError, match="already exists"):
        live.run_cli(tmp_path, "site", "add", "JSPH", "--database", db)
    live.run_cli(tmp_path, "db", "load", "published", "--database", db)
    live.run_cli(
        tmp_path, "user", "add", "n", "--role", "monitor", "--site", "JSPH", "--database", db
    )
    listing = live.run_cli(tmp_path, "site", "list", "--database", db)
    assert re.search(r"JSPH\s+│\s+Jiangsu Province Hospital\s+│\s+13\s+│\s+n", listing), listing
    rows = live.query(
        db, 'SELECT user_id, "table", subject, action, reason FROM access_changes ORDER BY id'
    )
    assert [tuple(r) for r in rows] == [
        (None, "profiles", "admin", "created", "database initialised"),
        (None, "sites", "JSPH", "created", "bvall site add JSPH"),
        (None, "profiles", "n", "created", "bvall user add n"),
    ]
