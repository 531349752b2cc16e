"""`bvall derive` as a user meets it."""

from __future__ import annotations

import json


def test_explains_the_grade_3_crs_in_words(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("derive", "example", "--what", "crs", "--patient", "P05", "--explain")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "SYNTHETIC" in text
    assert "grade 3 CRS (ASTCT 2019)" in text
    assert (
        "hypotension (lowest SBP 78 mmHg) requiring one vasopressor (norepinephrine) = grade 3"
        in text
    )
    assert "managed with dexamethasone 10 mg D1-D2" in text
    assert "astct_crs.hypotension.g3" in text


def test_endpoints_json(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("derive", "example", "--what", "endpoints", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["patient_id"] for r in rows] == [f"P{i:02d}" for i in range(1, 14)]
    p10 = rows[9]
    assert {
        k: p10[k]
        for k in (
            "days_anc_below_0_5",
            "days_plt_below_20",
            "crs_max_grade",
            "icans_max_grade",
            "best_response",
            "mrd_negative",
        )
    } == {
        "days_anc_below_0_5": 15,
        "days_plt_below_20": 14,
        "crs_max_grade": 2,
        "icans_max_grade": 2,
        "best_response": "CR",
        "mrd_negative": True,
    }
    assert isinstance(p10["inputs"], dict)


def test_published_endpoints_table(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("derive", "published", "--what", "endpoints")
    assert result.exit_code == 0, result.stderr
    assert "P13" in result.stdout
    assert "SYNTHETIC" not in result.stdout


def test_grades_table_hides_grade_0(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("derive", "published", "--what", "grades", "--patient", "P01")
    assert result.exit_code == 0, result.stderr
    assert "grade-0 values hidden" in result.stdout


def test_settings_on_the_command_line(run_cli) -> None:  # type: ignore[no-untyped-def]
    ok = run_cli(
        "derive",
        "published",
        "--what",
        "tls",
        "--set",
        "tls_criteria=howard_2011",
        "--format",
        "json",
    )
    assert ok.exit_code == 0, ok.stderr
    assert {r["criteria"] for r in json.loads(ok.stdout)} == {"howard_2011"}
    bad = run_cli("derive", "published", "--what", "tls", "--set", "tls_criteria=cairo")
    assert bad.exit_code == 1
    assert "tls_criteria='cairo' is not an option" in bad.stderr
    worse = run_cli("derive", "published", "--what", "tls", "--set", "tls")
    assert worse.exit_code == 1
    assert "must read NAME=VALUE" in worse.stderr


def test_unknown_what_and_patient_are_clear_errors(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("derive", "published", "--what", "grade")
    assert result.exit_code == 1
    assert "Cannot derive 'grade'; did you mean 'grades'" in result.stderr
    result = run_cli("derive", "published", "--what", "risk", "--patient", "P99")
    assert result.exit_code == 1
    assert "Patient 'P99' is not in cohort" in result.stderr
