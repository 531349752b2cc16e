"""The command line as a user meets it."""

from __future__ import annotations

import json
import re

from bvall import __version__


def test_help_lists_every_command(run_cli) -> None:  # type: ignore[no-untyped-def]
    from bvall.cli import COMMANDS

    result = run_cli("--help")
    assert result.exit_code == 0
    listed = set(re.findall(r"^  (\w[\w-]*)\s", result.stdout, flags=re.MULTILINE))
    assert set(COMMANDS) <= listed
    assert "cohort" in listed


def test_version(run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("--version").stdout.strip() == f"bvall {__version__}"


def test_unknown_dataset_is_a_clear_error(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("cohort", "show", "publshed")
    assert result.exit_code == 1
    assert "'publshed' is neither a bundled dataset; did you mean 'published'" in result.stderr


def test_vocab_lists_codes(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("vocab", "sex", "--format", "json")
    assert [r["code"] for r in json.loads(result.stdout)] == ["M", "F", "U"]
    result = run_cli("vocab", "lab_tests", "--format", "json")
    loinc = {r["code"]: r["loinc"] for r in json.loads(result.stdout)}
    assert loinc["anc"] == "751-8"
    assert loinc["platelets"] == "777-3"


def test_cohort_show_one_table_and_one_patient(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(
        "cohort", "show", "published", "--table", "labs", "--patient", "P10", "--format", "json"
    )
    rows = json.loads(result.stdout)["rows"]
    assert {r["test"] for r in rows} == {"wbc", "platelets", "hemoglobin"}
    assert {r["patient_id"] for r in rows} == {"P10"}
