"""`bvall tables`: choices named on bad input, JSON of the analysis, CSV of one table."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bvall.analysis.tables import TABLE_IDS


def test_bad_table_names_the_choices(run_cli: Callable[..., Any]) -> None:
    r = run_cli("tables", "published", "--table", "table-respons")
    assert r.exit_code == 1
    assert "'table-respons'" in r.stderr
    assert "did you mean 'table-response'" in r.stderr
    for table_id in TABLE_IDS:
        assert table_id in r.stderr.replace("\n", "")


def test_bad_ci_method_names_the_choices(run_cli: Callable[..., Any]) -> None:
    r = run_cli("tables", "published", "--ci-method", "exact")
    assert r.exit_code == 1
    assert "'exact'" in r.stderr
    assert "clopper-pearson" in r.stderr


def test_csv_needs_one_table(run_cli: Callable[..., Any]) -> None:
    r = run_cli("tables", "published", "--format", "csv")
    assert r.exit_code == 1
    assert "--table" in r.stderr


def test_json_is_the_analysis(run_cli: Callable[..., Any]) -> None:
    r = run_cli("tables", "published", "--table", "table-response", "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["cohort_name"] == "published"
    assert d["settings"]["ci_method"] == "clopper-pearson"
    (table,) = d["tables"]
    assert table["id"] == "table-response"
    first = table["rows"][0]["cells"][0]
    # 10 known MRD-negative at day 14-21 in the published cohort (P01-P03 missing), and R
    # binom.test(10, 10)$conf.int = 0.6915029-1
    assert first["text"] == "10/10 (100.0%); 95% CI 69.2–100.0; missing 3"
    assert first["source"] == "derived"


def test_csv_and_rich_table(run_cli: Callable[..., Any]) -> None:
    r = run_cli("tables", "published", "--table", "table-transfusion", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "Measure,All (N=13),Concurrent (n=8),Sequential (n=5)"
    r = run_cli("tables", "published", "--table", "table-crs-icans", "--level", "0.9")
    assert r.exit_code == 0, r.stderr
    assert "Cytokine release syndrome" in r.stdout
    assert "ᴿ" in r.stdout  # the published grades are reported, and marked so


def test_wilson_hmisc_gives_the_papers_interval(run_cli: Callable[..., Any]) -> None:
    r = run_cli(
        "tables", "published", "--table", "table-response", "--ci-method", "wilson-hmisc",
        "--format", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["settings"]["ci_method"] == "wilson-hmisc"
    texts = [row["cells"][0]["text"] for row in d["tables"][0]["rows"] if row["cells"]]
    # R Hmisc::binconf(12, 13) = 0.6668605-0.9960544, the paper's "66.7% to 99.6%";
    # binconf(10, 10) = 0.7224672-1
    assert "12/13 (92.3%); 95% CI 66.7–99.6" in texts
    assert "10/10 (100.0%); 95% CI 72.2–100.0; missing 3" in texts
