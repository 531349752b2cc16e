"""File import and export: round trips lose nothing; bad input is rejected whole."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from bvall.cohort import FORMATS, read_cohort, write_cohort
from bvall.errors import InputError, ValidationFailed


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_loses_nothing(published, tmp_path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    written = write_cohort(published, tmp_path, fmt)
    source = written[0] if fmt == "xlsx" else tmp_path
    again = read_cohort(source)
    assert again.equals(published)
    assert again.metadata.to_dict() == published.metadata.to_dict()
    assert again.fingerprint() == published.fingerprint()


def test_csv_is_plain_and_exact(published, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_cohort(published, tmp_path, "csv")
    text = (tmp_path / "transfusions.csv").read_text(encoding="utf-8")
    assert "P13,rbc,4.5,unit,,,,induction" in text  # 4.5 units stays 4.5; empty cell = missing
    assert json.loads((tmp_path / "cohort.json").read_text())["name"] == "published"


def test_export_refuses_to_overwrite(published, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_cohort(published, tmp_path, "csv")
    before = (tmp_path / "patients.csv").stat().st_mtime_ns
    with pytest.raises(InputError, match="pass --overwrite"):
        write_cohort(published, tmp_path, "csv")
    assert (tmp_path / "patients.csv").stat().st_mtime_ns == before
    write_cohort(published, tmp_path, "csv", overwrite=True)


def _bad_workbook(published, path: Path) -> Path:  # type: ignore[no-untyped-def]
    """The published cohort as a workbook with five independent errors in four sheets."""
    write_cohort(published, path.parent, "xlsx")
    book_path = path.parent / "published.xlsx"
    book = openpyxl.load_workbook(book_path)

    def set_cell(sheet: str, row: int, column: str, value: object) -> None:
        ws = book[sheet]
        header = [c.value for c in ws[1]]
        ws.cell(row=row + 1, column=header.index(column) + 1, value=value)

    set_cell("patients", 2, "sex", "male")  # vocabulary
    set_cell("patients", 5, "age_years", 250)  # range
    set_cell("labs", 3, "unit", "mg/mL")  # unit (platelets)
    set_cell("labs", 4, "patient_id", "P99")  # reference
    set_cell("transfusions", 1, "amount", "ten")  # type
    book.save(book_path)
    return book_path


def test_workbook_with_several_errors_lists_all_and_writes_nothing(
    published, tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    book = _bad_workbook(published, tmp_path / "in" / "x.xlsx")
    with pytest.raises(ValidationFailed) as info:
        read_cohort(book)
    found = {(p.table, p.row, p.column, p.code) for p in info.value.problems}
    assert found == {
        ("patients", 2, "sex", "vocabulary"),
        ("patients", 5, "age_years", "range"),
        ("labs", 3, "unit", "unit"),
        ("labs", 4, "patient_id", "reference"),
        ("transfusions", 1, "amount", "type"),
    }
    assert all("published.xlsx" in (p.file or "") for p in info.value.problems)
    # The CLI: validate exits 1 with every problem; export of the bad file writes nothing.
    result = run_cli("cohort", "validate", str(book), "--format", "json")
    assert result.exit_code == 1
    assert len(json.loads(result.stdout)["problems"]) == 5
    out = tmp_path / "out"
    result = run_cli("cohort", "export", str(book), "--to", str(out), "--format", "csv")
    assert result.exit_code == 1
    assert "5 problem(s)" in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_unreadable_files_are_problems(tmp_path: Path) -> None:
    (tmp_path / "patients.csv").write_text('patient_id,sex,age_years\n"A1,F,50\n', encoding="utf-8")
    (tmp_path / "notes.csv").write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        read_cohort(tmp_path)
    codes = {(p.table, p.code) for p in info.value.problems}
    assert ("notes", "file") in codes


def test_paths_that_are_not_cohorts(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="No file or folder"):
        read_cohort(tmp_path / "missing")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="not an Excel workbook"):
        read_cohort(tmp_path / "a.txt")
    with pytest.raises(InputError, match=r"holds no \.csv or \.parquet"):
        read_cohort(tmp_path)
