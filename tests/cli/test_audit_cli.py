"""`bvall audit` as a user meets it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bvall.cohort import write_cohort

KEYS = {"id", "location", "quote", "published", "recomputed", "status", "explanation"}


def test_json_lists_every_claim(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("audit", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert len(out) >= 100
    assert all(set(o) == KEYS for o in out)
    by_id = {o["id"]: o for o in out}
    assert by_id["table1-age"]["status"] == "inconsistent"
    assert by_id["table1-age"]["recomputed"]["median"] == 52  # Table 2 ages
    assert by_id["results-crs-fisher"]["published"] == {"p": "0.226"}


def test_status_filter_and_table(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("audit", "--status", "inconsistent", "--format", "json")
    statuses = {o["status"] for o in json.loads(result.stdout)}
    assert statuses == {"inconsistent"}
    table = run_cli("audit", "--status", "needs-review")
    assert table.exit_code == 0
    assert "needs-review" in table.stdout
    assert "of 106 claims." in table.stdout


def test_own_catalogue_and_cohort_path(run_cli, tmp_path: Path, published: Any) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "cohort"
    write_cohort(published, folder, "csv")
    claims = tmp_path / "claims.toml"
    claims.write_text(
        """
[catalogue]
title = "My check"

[[claim]]
id = "women"
location = "Results"
quote = "five women"
published = { n = 5, N = 13, percent = "38.5" }
[claim.recompute]
stat = "count"
match = { table = "patients", where = { sex = "F" } }
""",
        encoding="utf-8",
    )
    result = run_cli("audit", "--claims", str(claims), "--cohort", str(folder), "--format", "json")
    assert result.exit_code == 0, result.stderr
    (only,) = json.loads(result.stdout)
    assert only["status"] == "consistent"
    assert only["recomputed"] == {"n": 5, "N": 13, "percent": 38.46}


def test_errors(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("audit", "--status", "wrong")
    assert result.exit_code == 1
    assert "--status 'wrong' is not known" in result.stderr
    result = run_cli("audit", "--claims", str(tmp_path / "none.toml"))
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[[claim]]\nid = "x"\n', encoding="utf-8")
    result = run_cli("audit", "--claims", str(bad))
    assert result.exit_code == 1
    assert "needs 'location' (text)" in result.stderr
    result = run_cli("audit", "--cohort", "publshed")
    assert result.exit_code == 1
    assert "did you mean 'published'" in result.stderr
