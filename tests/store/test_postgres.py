"""PostgreSQL: migrations, the append-only audit trail enforced by the database, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live import POSTGRES_SKIP, load_benchmark, postgres_url

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    url = postgres_url()
    if url is None:
        pytest.skip(POSTGRES_SKIP)
    live = load_benchmark("livestack")
    home = tmp_path_factory.mktemp("pg")
    with live.postgres_database(url) as database:
        live.run_cli(home, "db", "init", "--database", database)
        live.run_cli(home, "db", "load", "published", "--create-sites", "--database", database)
        yield live, home, database


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE labs_history SET value = 1",
        "DELETE FROM labs_history",
        "TRUNCATE labs_history",
        "UPDATE patients_history SET history_change_reason = 'x'",
        "DELETE FROM profiles_history",
    ],
)
def test_postgres_refuses_to_change_the_audit_trail(pg, statement: str) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    _, _, database = pg
    with (
        psycopg.connect(database) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute(statement)


def test_postgres_round_trip_equals_the_published_cohort(pg, published, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from bvall.cohort import read_cohort

    live, home, database = pg
    live.run_cli(home, "db", "export", "--to", str(tmp_path / "out"), "--database", database)
    assert read_cohort(tmp_path / "out").equals(published)
    rows = live.query(database, "SELECT COUNT(*) FROM labs_history WHERE history_type = '+'")
    assert rows == [(published["labs"].num_rows,)]


def test_backup_from_postgres_restores_into_sqlite(pg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    live, home, database = pg
    live.run_cli(home, "db", "backup", str(tmp_path / "bk.gz"), "--database", database)
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    live.run_cli(home, "db", "restore", str(tmp_path / "bk.gz"), "--database", target)
    sql = "SELECT id, patient_id, test, value, unit FROM labs ORDER BY id"
    assert live.query(database, sql) == live.query(target, sql)
    sql = "SELECT history_id, id, history_type, history_change_reason FROM marrow_assessments_history ORDER BY history_id"
    assert live.query(database, sql) == live.query(target, sql)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE monitoring_events SET message = 'x'",
        "DELETE FROM monitoring_events",
        "TRUNCATE monitoring_events",
    ],
)
def test_postgres_refuses_to_change_monitoring_events(pg, statement: str) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    _, _, database = pg
    with psycopg.connect(database) as conn:
        if conn.execute("SELECT count(*) FROM monitoring_events").fetchone() == (0,):
            plan = conn.execute(
                "INSERT INTO monitoring_plans (name, design_type, document, active, registered) "
                "VALUES ('t', 'toxicity_monitor', '{}', true, now()) RETURNING id"
            ).fetchone()
            assert plan is not None
            conn.execute(
                "INSERT INTO monitoring_events (plan_id, look, action, message, evaluation, "
                "recorded) VALUES (%s, 1, 'stop_toxicity', 'm', '{}', now())",
                (plan[0],),
            )
            conn.commit()
    with (
        psycopg.connect(database) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute(statement)


def test_postgres_refuses_to_change_alert_acknowledgements(pg) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    live, _, database = pg
    # loading the published cohort raised its alerts (grade >= 3 labs) in the load's transaction
    assert live.query(database, "SELECT COUNT(*) FROM alerts")[0][0] > 0
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO alert_acknowledgements (alert_id, user_id, acknowledged, note) "
            "SELECT MIN(a.id), MIN(u.id), NOW(), 'seen' FROM alerts a, auth_user u"
        )
        for statement in (
            "UPDATE alert_acknowledgements SET note = 'x'",
            "DELETE FROM alert_acknowledgements",
            "TRUNCATE alert_acknowledgements",
            "DELETE FROM alerts_history",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
