"""The database stores exactly the cohort's tables; migrations are complete; settings resolve."""

from __future__ import annotations

import io

import pytest

from bvall.cohort import TABLES


def test_every_cohort_table_has_a_model_with_exactly_its_columns() -> None:
    from bvall.store.models import COHORT_MODELS

    assert list(COHORT_MODELS) == list(TABLES)
    for name, model in COHORT_MODELS.items():
        columns = {f.column for f in model._meta.concrete_fields} - {"id", "version"}
        assert columns == set(TABLES[name].column_names), name
        assert model._meta.db_table == name
        assert model.history.model._meta.db_table == f"{name}_history"


def test_required_columns_are_not_null_and_others_nullable() -> None:
    from bvall.store.models import COHORT_MODELS

    for name, model in COHORT_MODELS.items():
        by_column = {f.column: f for f in model._meta.concrete_fields}
        for col in TABLES[name].columns:
            assert by_column[col.name].null is (not col.required or col.type == "boolean"), (
                name,
                col.name,
            )


@pytest.mark.django_db
def test_migrations_match_the_models() -> None:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("makemigrations", "store", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_database_url_option_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from bvall.settings import load_settings

    monkeypatch.setenv("BVALL_DATABASE_URL", "sqlite:////tmp/env.db")
    assert load_settings().database_url == "sqlite:////tmp/env.db"
    assert load_settings("postgres://u@h/db").database_url == "postgres://u@h/db"


@pytest.mark.parametrize(
    ("url", "message"),
    [("mysql://u@h/db", "unsupported database"), ("nonsense", "not understood")],
)
def test_unusable_database_urls_are_clear_errors(url: str, message: str) -> None:
    from bvall.errors import ConfigurationError
    from bvall.web.settings import _database

    with pytest.raises(ConfigurationError, match=message):
        _database(url)


def test_sqlite_runs_in_wal_mode_with_foreign_keys() -> None:
    from bvall.web.settings import _database

    db = _database("sqlite:////tmp/x.db")
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert "foreign_keys=ON" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_session_hours_must_be_a_sensible_number(monkeypatch: pytest.MonkeyPatch) -> None:
    from bvall.errors import ConfigurationError
    from bvall.settings import load_settings

    monkeypatch.setenv("BVALL_SESSION_HOURS", "0")
    with pytest.raises(ConfigurationError, match="BVALL_SESSION_HOURS='0'"):
        load_settings()
    monkeypatch.setenv("BVALL_SESSION_HOURS", "8")
    assert load_settings().session_hours == 8
