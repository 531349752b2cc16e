"""What every output shares: marks, captions, the stamp."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bvall.analysis.model import Cell, Row, StudyTable
from bvall.errors import InputError
from bvall.report import build_stamp, printed_text
from bvall.report.content import csv_file_name, table_caption
from tests.report.conftest import make_analysis


@pytest.mark.parametrize(
    ("source", "expected"),
    [("derived", "5/6"), ("", "5/6"), ("reported", "5/6\u2020"), ("mixed", "5/6\u2021")],
)
def test_marks(source: str, expected: str) -> None:
    assert printed_text(Cell("5/6", source=source)) == expected  # type: ignore[arg-type]


def _table(title: str, table_id: str = "t") -> StudyTable:
    return StudyTable(table_id, title, ("a", "b"), (Row("r", (Cell("1"),)),))


def test_caption_keeps_the_tables_own_number() -> None:
    assert table_caption(3, _table("Table 1. Patient characteristics")) == (
        "Table 1.",
        "Patient characteristics",
    )
    assert table_caption(3, _table("Table S2: Doses")) == ("Table S2:", "Doses")
    assert table_caption(3, _table("Doses")) == ("Table 3.", "Doses")


def test_csv_file_name_is_safe() -> None:
    assert csv_file_name(_table("x", "table 1/baseline")) == "table-1-baseline.csv"


def test_stamp_keeps_the_offset_and_flattens_settings() -> None:
    when = datetime(2025, 1, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    stamp = build_stamp(make_analysis(), when)
    assert stamp.generated_at == "2025-01-02T08:00:00+08:00"
    assert stamp.settings == (
        ("ci_method", "wilson"),
        ("criteria.episode_gap_hours", "24"),
        ("level", "0.95"),
    )
    assert stamp.criteria_text == "astct_crs 2019.1, ctcae_v5_labs 5.0.1"


def test_stamp_refuses_a_date() -> None:
    with pytest.raises(InputError, match="not a datetime"):
        build_stamp(make_analysis(), "2025-01-02")  # type: ignore[arg-type]
