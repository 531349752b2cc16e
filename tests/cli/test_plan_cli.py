"""`bvall plan`, `bvall plan deviations` and `bvall regimens` as a user meets them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

BASE = (
    "plan",
    "--regimen",
    "bv-concurrent",
    "--start",
    "2026-12-07",
    "--weight",
    "62",
    "--height",
    "168",
)


def test_plan_json_as_the_issue_specifies(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*BASE, "--cyp3a4", "posaconazole", "--dex-days", "5", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    day4 = next(d for d in data["days"] if d["day"] == 4)
    assert day4["date"] == "2026-12-10"
    ven = next(x for x in day4["doses"] if x["agent"] == "venetoclax")
    assert (ven["dose"], ven["unit"]) == (70, "mg")
    assert "posaconazole" in ven["rule"]
    assert data["days"][0]["day"] == -6


def test_plan_table(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*BASE, "--dex-days", "3")
    assert result.exit_code == 0, result.stderr
    assert "Venetoclax 100 mg PO" in result.stdout
    # 3 pre-phase days (D-2..D0); allopurinol from 2 days earlier (D-4); nothing before.
    assert "│ D-4 " in result.stdout
    assert "│ D-5 " not in result.stdout


@pytest.mark.parametrize(
    ("fmt", "check"),
    [("csv", "day,date,cycle"), ("ics", "BEGIN:VCALENDAR"), ("html", "<!DOCTYPE html>")],
)
def test_plan_formats_to_file(run_cli, tmp_path: Path, fmt: str, check: str) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / f"plan.{fmt}"
    result = run_cli(*BASE, "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith(check)


def test_plan_csv_to_stdout(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*BASE, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["item"] for r in rows if r["kind"] == "dose"} >= {
        "venetoclax",
        "blinatumomab",
        "dexamethasone",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--regimen", "bv-concurent"),
            "Unknown regimen 'bv-concurent'; did you mean 'bv-concurrent'? Accepted: blinatumomab-rr, bv-concurrent",
        ),
        (
            ("--weight", "0"),
            "weight 0.0 kg is not accepted; expected a body weight in kilograms from 2 to 400 kg",
        ),
        (
            ("--weight", "900"),
            "weight 900.0 kg is not accepted; expected a body weight in kilograms from 2 to 400 kg",
        ),
        (
            ("--height", "1.68"),
            "height 1.68 cm is not accepted; expected a height in centimetres from 40 to 250 cm",
        ),
        (
            ("--start", "07/12/2026"),
            "start '07/12/2026' is not a date; expected a calendar date as YYYY-MM-DD",
        ),
        (("--start", "2026-02-30"), "start '2026-02-30' is not a date"),
        (
            ("--cyp3a4", "posaconzole"),
            "inhibitor 'posaconzole' is not known; did you mean 'posaconazole'",
        ),
        (
            ("--dex-days", "7"),
            "dex_days = 7 is not accepted; expected a whole number from 3 to 5 days",
        ),
        (("--site-policy", "x"), "site policy 'x' is not known"),
        (("--bsa-formula", "haycock"), "BSA formula 'haycock' is not known"),
        (
            ("--param", "uric_days=30"),
            "uric_days = 30 is not accepted; expected a whole number from 10 to 14",
        ),
    ],
)
def test_bad_input_is_a_clear_error(run_cli, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    values = dict(zip(BASE[1::2], BASE[2::2], strict=True))
    extra: list[str] = []
    for k, v in zip(args[::2], args[1::2], strict=True):
        if k in values:
            values[k] = v
        else:
            extra += [k, v]
    argv = ["plan", *[x for kv in values.items() for x in kv], *extra]
    result = run_cli(*argv)
    assert result.exit_code == 1
    flat = " ".join(result.stderr.split())
    assert message in flat, flat


def test_inhibitor_list_is_in_the_error(run_cli) -> None:  # type: ignore[no-untyped-def]
    flat = " ".join(run_cli(*BASE, "--cyp3a4", "foo").stderr.split())
    assert "Accepted: amiodarone" in flat
    assert "voriconazole" in flat


def test_missing_options_are_named(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("plan", "--regimen", "bv-concurrent")
    assert result.exit_code == 1
    assert "missing --start, --weight, --height" in result.stderr


def test_regimens(run_cli) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(run_cli("regimens", "--format", "json").stdout)
    assert [r["id"] for r in rows] == [
        "blinatumomab-rr",
        "bv-concurrent",
        "bv-sequential",
        "venetoclax-azacitidine-aml",
    ]
    assert all(r["source"] for r in rows)
    one = json.loads(run_cli("regimens", "bv-sequential", "--format", "json").stdout)
    assert any(d["agent"] == "blinatumomab" and d["days"] == "D8..D14" for d in one["doses"])
    assert run_cli("regimens", "bv-sequential").exit_code == 0


def test_deviations_cli(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("plan", "deviations", "published", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["summary"]) == 26
    assert any("not 'missed'" in n for n in data["notes"])
    table = run_cli("plan", "deviations", "published")
    assert "not_recorded" in table.stdout
    events = run_cli("plan", "deviations", "published", "--events", "--format", "csv")
    assert events.stdout.splitlines()[0].startswith('"patient_id","course_id"')
