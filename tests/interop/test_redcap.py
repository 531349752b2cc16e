"""REDCap: bvall's data dictionary, records out and in (flat CSV, longitudinal, ODM), mappings.

The unit_* files are written by hand the way REDCap exports a longitudinal project (REDCap's
data dictionary format and flat "raw" CSV export, checkbox columns field___code, date_dmy
fields); bv_odm.xml is a CDISC ODM 1.3 ClinicalData export as REDCap writes it (redcap:
attributes included). None is produced by bvall.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bvall.cohort import TABLES, Cohort, load_cohort
from bvall.errors import ValidationFailed
from bvall.interop.redcap import (
    HEADERS,
    derive_dictionary,
    derive_mapping,
    load_dictionary,
    load_redcap,
    render_dictionary,
    render_mapping,
    render_records,
    repeating_instruments,
)

DATA = Path(__file__).parent / "data" / "redcap"


def _canonical(c: Cohort, table: str) -> pd.DataFrame:
    cols = list(TABLES[table].column_names)
    frame = c[table].to_pandas().astype(object)
    frame = frame.where(frame.notna(), None)
    return frame.sort_values(cols, key=lambda s: s.map(repr)).reset_index(drop=True)


@pytest.fixture(scope="module")
def own_dictionary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("redcap") / "bvall_dictionary.csv"
    path.write_text(render_dictionary(derive_dictionary()), encoding="utf-8")
    return path


def test_dictionary_has_redcaps_18_headers_and_one_instrument_per_table(
    own_dictionary: Path,
) -> None:
    rows = list(csv.reader(io.StringIO(own_dictionary.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == HEADERS
    assert len(HEADERS) == 18
    assert rows[0][0] == "Variable / Field Name"
    assert rows[0][-1] == "Field Annotation"
    assert all(len(r) == 18 for r in rows)
    fields = load_dictionary(own_dictionary)
    assert fields[0].name == "patient_id"
    assert fields[0].form == "patients"
    assert list(dict.fromkeys(f.form for f in fields)) == list(TABLES)
    names = [f.name for f in fields]
    assert len(names) == len(set(names))  # REDCap variable names are unique project-wide
    # REDCap: variable names lower case letters, digits and underscores, starting with a letter;
    # checkbox choice codes become part of a column name (field___code)
    assert [n for n in names if not re.fullmatch(r"[a-z][a-z0-9_]{0,99}", n)] == []
    for f in fields:
        if f.field_type == "checkbox":
            assert all(re.fullmatch(r"[A-Za-z0-9_]+", code) for code, _ in f.choices)
    by = {f.name: f for f in fields}
    assert by["sex"].field_type == "dropdown"
    assert by["sex"].choices == (
        ("M", "Male"),
        ("F", "Female"),
        ("U", "Unknown"),
    )
    assert (by["age_years"].validation, by["age_years"].minimum, by["age_years"].maximum) == (
        "integer",
        "0",
        "120",
    )
    assert by["lab_date"].validation == "date_ymd"
    assert by["lab_time"].validation == "time"
    assert by["lab_value"].validation == "number"
    assert by["lab_value"].required
    assert by["vs_vasopressors"].field_type == "checkbox"
    assert by["cd19_positive"].field_type == "yesno"
    assert ("anc", "Absolute neutrophil count") in by["lab_test"].choices
    # vocabularies whose codes REDCap cannot hold as choice codes are numbered, code in label
    assert by["cns_status"].choices[0] == ("1", "CNS-1 (" + by["cns_status"].choices[0][1][7:])
    repeating = repeating_instruments(fields).splitlines()
    assert repeating[0] == "form_name,custom_form_label"
    assert [r.split(",")[0] for r in repeating[1:]] == list(TABLES)[1:]


@pytest.mark.parametrize("name", ["published", "example"])
def test_round_trip_through_dictionary_export_and_import_is_identical(
    name: str, own_dictionary: Path, tmp_path: Path
) -> None:
    cohort = load_cohort(name)
    records = tmp_path / "records.csv"
    records.write_text(render_records(cohort, derive_dictionary()), encoding="utf-8")
    back = load_redcap(own_dictionary, records=records)
    for table in TABLES:
        assert back[table].num_rows == cohort[table].num_rows, table
        assert back[table].schema.equals(cohort[table].schema), table
        # REDCap keeps rows per record: compared in one canonical row order
        pd.testing.assert_frame_equal(_canonical(back, table), _canonical(cohort, table))


def test_longitudinal_project_with_a_mapping_becomes_a_cohort() -> None:
    c = load_redcap(
        DATA / "unit_dictionary.csv",
        records=DATA / "unit_records.csv",
        mapping=DATA / "unit_mapping.toml",
    )
    patients = {r["patient_id"]: r for r in c["patients"].to_pylist()}
    assert patients["U01"]["sex"] == "F"
    assert patients["U01"]["age_years"] == 54
    # date_dmy: 03/02/2025 is 3 February
    assert patients["U01"]["diagnosis_date"] == dt.date(2025, 2, 3)
    assert patients["U02"]["arm"] == "sequential"
    assert patients["U02"]["site_id"] == "SITEB"
    labs = [
        (r["patient_id"], r["test"], r["value"], r["unit"], r["date"], r["time"])
        for r in c["labs"].to_pylist()
    ]
    # one cbc instance, three lab rows sharing its date and time ('set' in the mapping)
    assert ("U01", "anc", 0.3, "10^9/L", dt.date(2025, 3, 5), "08:00") in labs
    assert ("U01", "platelets", 21.0, "10^9/L", dt.date(2025, 3, 5), "08:00") in labs
    assert ("U01", "hemoglobin", 7.9, "g/dL", dt.date(2025, 3, 5), "08:00") in labs
    assert len(labs) == 8  # U02 day 1 has no haemoglobin: missing, not invented
    vitals = c["vitals"].to_pylist()
    assert [(v["patient_id"], v["temperature_c"], v["vasopressors"]) for v in vitals] == [
        ("U01", 38.6, "norepinephrine"),
        ("U02", 37.2, None),
    ]


def test_mapping_places_what_it_can_and_lists_every_other_field() -> None:
    fields = load_dictionary(DATA / "unit_dictionary.csv")
    m = derive_mapping(fields)
    assert set(m.placed) == {"record_id", "arm"}  # arm: choice labels are bvall's codes
    assert dict(m.placed["arm"].choices) == {"1": "concurrent", "2": "sequential"}
    assert set(m.ignored) == {"cbc_info"}
    assert set(m.unplaced) == {f.name for f in fields} - {"record_id", "arm", "cbc_info"}
    text = render_mapping(m, "unit_dictionary.csv")
    assert "[unplaced]" in text
    assert 'anc = "form cbc: text (number)' in text
    # bvall's own dictionary: every field placed
    own = derive_mapping(derive_dictionary())
    assert not own.unplaced
    assert not own.ignored


def test_another_projects_dictionary_needs_a_mapping() -> None:
    with pytest.raises(ValidationFailed) as exc:
        load_redcap(DATA / "unit_dictionary.csv", records=DATA / "unit_records.csv")
    assert {p.column for p in exc.value.problems} >= {"anc", "gender", "pressors"}


def _bad_records(tmp_path: Path, edits: dict[tuple[int, str], str], extra: str = "") -> Path:
    with (DATA / "unit_records.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for (i, col), v in edits.items():
        rows[i][col] = v
    fieldnames = list(rows[0]) + ([extra] if extra else [])
    path = tmp_path / "records.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fieldnames)
        w.writeheader()
        for r in rows:
            w.writerow({**r, **({extra: "x"} if extra else {})})
    return path


def test_bad_records_are_refused_whole_with_file_row_and_field(tmp_path: Path) -> None:
    path = _bad_records(
        tmp_path,
        {
            (0, "gender"): "3",  # no such choice
            (1, "cbc_date"): "31/02/2025",  # no such day (date_dmy)
            (1, "pressors___3"): "1",  # 'Other': no bvall code in the mapping
            (2, "anc"): "-1",  # below the plausible range (cohort validation)
            (3, "consent"): "yes",  # yesno holds 1/0
        },
        extra="favourite_colour",
    )
    with pytest.raises(ValidationFailed) as exc:
        load_redcap(DATA / "unit_dictionary.csv", records=path, mapping=DATA / "unit_mapping.toml")
    got = {(p.row, p.column): p for p in exc.value.problems}
    assert got[(1, "gender")].code == "vocabulary"
    assert got[(2, "cbc_date")].value == "31/02/2025"
    assert got[(2, "pressors___3")].code == "vocabulary"
    assert got[(1, "favourite_colour")].code == "column"
    assert all(p.file == "records.csv" for p in exc.value.problems)
    # consent is in [ignore]: its value is not read, so 'yes' is no problem
    assert (4, "consent") not in got


def test_cohort_validation_problems_name_the_records_line_and_field(tmp_path: Path) -> None:
    path = _bad_records(tmp_path, {(2, "anc"): "-1", (3, "age"): "130"})
    with pytest.raises(ValidationFailed) as exc:
        load_redcap(DATA / "unit_dictionary.csv", records=path, mapping=DATA / "unit_mapping.toml")
    got = {(p.row, p.column) for p in exc.value.problems}
    assert (3, "anc") in got or (3, "value") in got
    assert (4, "age") in got


def test_odm_export_is_read_with_odmlib(own_dictionary: Path) -> None:
    c = load_redcap(own_dictionary, odm=DATA / "bv_odm.xml")
    assert c.patient_ids == ["R01"]
    assert c["patients"].to_pylist()[0]["cd19_positive"] is True
    assert [(r["test"], r["value"]) for r in c["labs"].to_pylist()] == [
        ("anc", 0.42),
        ("platelets", 31.0),
    ]
    v = c["vitals"].to_pylist()[0]
    assert (v["temperature_c"], v["sbp_mmhg"], v["vasopressors"]) == (38.9, 84.0, "norepinephrine")


def test_cli_round_trip_and_all_or_nothing(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d, r, out = tmp_path / "d.csv", tmp_path / "r.csv", tmp_path / "cohort"
    assert run_cli("redcap", "dictionary", "--out", str(d)).exit_code == 0
    assert (tmp_path / "d.repeating.csv").exists()
    assert run_cli("redcap", "export", "published", "--out", str(r)).exit_code == 0
    res = run_cli("redcap", "import", "--dictionary", str(d), "--records", str(r), "--to", str(out))
    assert res.exit_code == 0, res.stderr
    assert load_cohort(str(out)).counts() == load_cohort("published").counts()
    # a bad file writes nothing
    bad = tmp_path / "bad.csv"
    shutil.copy(r, bad)
    bad.write_text(
        bad.read_text(encoding="utf-8").replace(",concurrent,", ",parallel,", 1), encoding="utf-8"
    )
    res = run_cli(
        "redcap",
        "import",
        "--dictionary",
        str(d),
        "--records",
        str(bad),
        "--to",
        str(tmp_path / "no"),
    )
    assert res.exit_code == 1
    assert "arm" in res.stderr
    assert not (tmp_path / "no").exists()
    m = tmp_path / "m.toml"
    res = run_cli(
        "redcap", "mapping", "--dictionary", str(DATA / "unit_dictionary.csv"), "--out", str(m)
    )
    assert res.exit_code == 0
    assert "13 left for a person" in res.stdout


def test_a_file_that_is_not_odm_is_refused_as_a_file_problem(
    own_dictionary: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "export.xml"
    bad.write_text("<ODM><ClinicalData>", encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        load_redcap(own_dictionary, odm=bad)
    assert [p.code for p in exc.value.problems] == ["file"]
    assert "CDISC ODM" in exc.value.problems[0].expected
