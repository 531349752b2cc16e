"""Reading FHIR R4 lab bundles (hand-written from the FHIR R4 Observation/Bundle pages and
LOINC long common names; none is produced by bvall) into lab rows, offline.

FHIR R4: http://hl7.org/fhir/R4/observation.html (status, value[x], effective[x],
referenceRange, dataAbsentReason), bundle.html (type, entry.fullUrl, search.mode).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bvall.cohort import load_lab_tests
from bvall.criteria.lab_criteria import load_lab_criteria
from bvall.errors import ValidationFailed
from bvall.interop.fhir import PatientMatching, derive_lab_rows, load_code_map, parse_bundle

DATA = Path(__file__).parent / "data" / "fhir"
TODAY = dt.date(2025, 3, 6)


def _bundle(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _by_field(problems: list[Any]) -> dict[str, Any]:
    return {p.column: p for p in problems}


def test_code_map_covers_every_graded_lab_test_with_a_long_name() -> None:
    graded = {t.test for t in load_lab_criteria().terms.values()}
    codes = load_code_map()
    mapped = {c.test for c in codes.loinc.values()}
    assert graded, "no graded tests found in the criteria data"
    assert graded <= mapped, f"graded tests without a LOINC code: {graded - mapped}"
    assert set(load_lab_tests()) <= mapped  # every test bvall stores, graded or not
    # lab_tests.toml's own LOINC code of each test is in the map, for that test
    for t in load_lab_tests().values():
        assert codes.loinc[t.loinc].test == t.code
        assert codes.loinc[t.loinc].long_name == t.loinc_name
    # several codes where labs differ: automated and manual counts
    assert codes.loinc["751-8"].test == codes.loinc["753-4"].test == "anc"
    assert codes.loinc["6690-2"].test == codes.loinc["804-5"].test == "wbc"
    assert all(c.long_name.strip() for c in codes.loinc.values())


def test_ucum_codes_map_to_units_bvall_accepts() -> None:
    ucum = load_code_map().ucum
    assert ucum["10*3/uL"] == "10^3/µL"
    assert ucum["10*9/L"] == "10^9/L"
    assert ucum["umol/L"] == "µmol/L"
    assert ucum["meq/L"] == "mEq/L"
    for code in ("g/dL", "mg/dL", "U/L", "mmol/L"):
        assert ucum[code] == code
    accepted = {u for t in load_lab_tests().values() for u in t.factors}
    assert set(ucum.values()) <= accepted


def test_good_searchset_becomes_rows_with_source_and_skips_what_bvall_does_not_use() -> None:
    result = derive_lab_rows(_bundle("feed_a01.json"), today=TODAY)
    assert result.ok, result.problems
    rows = {r.source["observation"]: r for r in result.labs}
    assert list(rows) == ["anc-1", "plt-1", "hgb-1", "k-1", "anc-2", "crp-1"]
    anc = rows["anc-1"]
    assert (anc.patient_id, anc.test, anc.value, anc.unit) == ("A01", "anc", 0.3, "10^9/L")
    # local date and time as sent (+08:00 not converted to UTC, which would be 23:40 the day before)
    assert (anc.date, anc.time) == (dt.date(2025, 3, 5), "07:40")
    assert (anc.ref_low, anc.ref_high) == (1.8, 6.3)
    assert anc.source == {
        "bundle": "labs-2025-03-05-A01",
        "entry": 1,
        "observation": "anc-1",
        "loinc": "751-8",
    }
    # values kept as sent with their unit (bvall spelling of the UCUM code), never converted
    assert (rows["plt-1"].value, rows["plt-1"].unit) == (18.0, "10^3/µL")
    assert (rows["anc-2"].value, rows["anc-2"].unit, rows["anc-2"].time) == (250.0, "/µL", "15:10")
    # the 'normal' range is used, not the transfusion threshold
    assert (rows["plt-1"].ref_low, rows["plt-1"].ref_high) == (125.0, 350.0)
    # a range without a unit is in the value's unit
    assert (rows["k-1"].ref_low, rows["k-1"].ref_high) == (3.5, 5.1)
    # a date without a time, and a censored value
    assert (rows["crp-1"].date, rows["crp-1"].time, rows["crp-1"].qualifier) == (
        dt.date(2025, 3, 5),
        None,
        "<",
    )
    assert [(s.entry, s.code) for s in result.skipped] == [
        (5, "http://loinc.org|2345-7"),
        (8, "OperationOutcome"),
    ]


def test_every_problem_of_a_refused_bundle_is_named_by_entry_and_field() -> None:
    result = derive_lab_rows(_bundle("refused.json"), today=TODAY)
    assert not result.ok
    got = _by_field(result.problems)
    assert got["entry[1].resource.status"].value == "preliminary"
    assert got["entry[2].resource.valueQuantity.value"].code == "required"
    assert "specimen clotted" in got["entry[2].resource.valueQuantity.value"].expected
    assert got["entry[3].resource.valueQuantity.value"].value == -0.2
    assert got["entry[4].resource.valueQuantity.code"].value == "10*6/L"
    assert "Platelets" in got["entry[5].resource.valueQuantity.code"].expected
    assert got["entry[7].resource.effectiveDateTime"].code == "range"
    assert got["entry[8].resource.effectiveDateTime"].value == "2025-03"
    assert got["entry[9].resource.referenceRange[0].low"].code == "unit"
    assert "entry[10]" in got["entry[11].resource"].expected  # mass and molar creatinine, same time
    # offline, Patient/Z99 cannot be checked: it is resolved by the resource id only
    assert "entry[6].resource.subject" not in got
    # an unused code is skipped even when its status would be refused
    assert [s.entry for s in result.skipped] == [12]
    assert len(result.problems) == 9
    with pytest.raises(ValidationFailed):
        result.raise_problems()


def test_unknown_patient_is_refused_when_checked_against_the_known_ones() -> None:
    result = derive_lab_rows(
        _bundle("refused.json"), today=TODAY, patients={"A01": "SITEA", "A02": "SITEA"}
    )
    p = _by_field(result.problems)["entry[6].resource.subject"]
    assert p.value == "Patient/Z99"
    assert p.code == "reference"


def test_site_identifier_system_matches_the_study_id_of_that_site_only() -> None:
    bundle = _bundle("site_identifier.json")
    known = {"A02": "SITEA", "B01": "SITEB"}
    # default: the Patient's resource id (hosp-88231) is no bvall patient
    default = derive_lab_rows(bundle, today=TODAY, patients=known)
    assert {p.column for p in default.problems} == {
        "entry[1].resource.subject",
        "entry[2].resource.subject",
    }
    system = "http://sitea.example/fhir/sid/bvall-study"
    per_site = PatientMatching(site_systems={"SITEA": system})
    ok = derive_lab_rows(bundle, today=TODAY, patients=known, matching=per_site)
    assert ok.ok, ok.problems
    assert [(r.patient_id, r.test, r.value, r.unit) for r in ok.labs] == [
        ("A02", "alt", 212.0, "U/L"),
        ("A02", "bilirubin", 1.4, "mg/dL"),
    ]
    assert ok.bundle_id == "tx-20250306-0042"  # Bundle.identifier when there is no id
    assert ok.labs[0].time == "06:30"  # -05:00 kept as sent
    # the same system configured for the other site does not match a SITEA patient
    other = PatientMatching(site_systems={"SITEB": system})
    assert not derive_lab_rows(bundle, today=TODAY, patients=known, matching=other).ok


def test_schema_errors_come_from_the_fhir_models_with_entry_and_field() -> None:
    bundle = _bundle("feed_a01.json")
    bad = copy.deepcopy(bundle)
    bad["entry"][1]["resource"]["valueQuantity"]["value"] = "0,3"
    bad["entry"][3]["resource"]["effectiveDateTime"] = "2025-03-05T07:40:00"  # no zone: invalid
    with pytest.raises(ValidationFailed) as exc:
        parse_bundle(bad)
    fields = {p.column for p in exc.value.problems}
    assert fields == {
        "entry[1].resource.valueQuantity.value",
        "entry[3].resource.effectiveDateTime",
    }
    with pytest.raises(ValidationFailed, match="Bundle"):
        parse_bundle({"resourceType": "Observation"})
    with pytest.raises(ValidationFailed):
        parse_bundle(b"{not json")


def test_a_bundle_needs_an_id_and_a_feed_type() -> None:
    bundle = _bundle("feed_a01.json")
    del bundle["id"]
    bundle["type"] = "document"
    got = _by_field(derive_lab_rows(bundle, today=TODAY).problems)
    assert got["id"].code == "required"
    assert got["type"].value == "document"
