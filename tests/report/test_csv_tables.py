"""The CSV tables round-trip: reading each file back gives the printed table."""

from __future__ import annotations

import csv
import io

import pytest

from bvall.analysis.model import Analysis, Cell, Row, StudyTable
from bvall.errors import InputError
from bvall.report import printed_text, render_tables_csv
from tests.report.conftest import make_analysis


def test_one_file_per_table_round_trips() -> None:
    analysis = make_analysis()
    files = render_tables_csv(analysis)
    assert list(files) == ["table-1-baseline.csv", "table-2-ae.csv"]
    for table in analysis.tables:
        rows = list(csv.reader(io.StringIO(files[f"{table.id}.csv"], newline="")))
        assert rows[0] == list(table.columns)
        expected = [
            [r.label, *([""] * (len(table.columns) - 1))]
            if r.heading
            else [r.label, *(printed_text(c) for c in r.cells)]
            for r in table.rows
        ]
        assert rows[1:] == expected
    # quoted commas survive; the reported value keeps its dagger
    assert '"Age, years, median (range)",45 (30–60)\r\n' in files["table-1-baseline.csv"]
    assert ",2/3 (66.7%)\u2020\r\n" in files["table-1-baseline.csv"]


def test_clashing_file_names_are_refused(analysis: Analysis) -> None:
    t = StudyTable("a b", "A", ("x", "y"), (Row("r", (Cell("1"),)),))
    u = StudyTable("a/b", "B", ("x", "y"), (Row("r", (Cell("1"),)),))
    clash = Analysis("c", "h", "0", {}, {}, (t, u))
    with pytest.raises(InputError, match=r"'a-b\.csv'"):
        render_tables_csv(clash)
