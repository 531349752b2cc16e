"""docs/interop.md lists every LOINC and UCUM code of the map and every command; the `bvall fhir`
commands print what the bundle becomes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from bvall.interop.fhir import load_code_map

DOC = (Path(__file__).parents[2] / "docs" / "interop.md").read_text(encoding="utf-8")
DATA = Path(__file__).parent / "data" / "fhir"


def test_every_code_and_unit_of_the_map_is_documented() -> None:
    m = load_code_map()
    assert [c for c in m.loinc if f"| {c} |" not in DOC] == []
    assert [u for u in m.ucum if f"| `{u}` |" not in DOC] == []


def test_every_command_is_documented() -> None:
    from bvall.cli.fhir import app as fhir_app
    from bvall.cli.redcap import app as redcap_app

    for group, app in (("fhir", fhir_app), ("redcap", redcap_app)):
        for cmd in app.registered_commands:
            assert f"bvall {group} {cmd.name}" in DOC, cmd.name
    assert "POST /api/fhir" in DOC


def test_fhir_labs_prints_json_and_csv_and_refuses_with_every_problem(run_cli) -> None:  # type: ignore[no-untyped-def]
    bundle = str(DATA / "feed_a01.json")
    res = run_cli("fhir", "labs", bundle, "--format", "json", "--today", "2025-03-06")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert set(data) == {"labs", "skipped"}
    assert data["labs"][0]["source"]["observation"] == "anc-1"
    assert len(data["skipped"]) == 2
    res = run_cli("fhir", "labs", bundle, "--format", "csv", "--today", "2025-03-06")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["test"] for r in rows] == [
        "anc",
        "platelets",
        "hemoglobin",
        "potassium",
        "anc",
        "crp",
    ]
    assert rows[0]["bundle"] == "labs-2025-03-05-A01"
    # the day before the results, they are in the future
    res = run_cli("fhir", "labs", bundle, "--today", "2025-03-04")
    assert res.exit_code == 1
    assert "6 problem(s)" in res.stderr
    res = run_cli("fhir", "labs", str(DATA / "refused.json"), "--today", "2025-03-06")
    assert res.exit_code == 1
    assert "9 problem(s)" in res.stderr
