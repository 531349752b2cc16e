"""Default reference ranges (bvall.cohort.reference): the bundled table and a site's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from bvall.cohort.reference import default_range, load_reference_ranges, parse_reference_ranges
from bvall.errors import SpecError


def test_bundled_ranges_have_a_source_and_convert_to_the_entered_unit() -> None:
    ranges = load_reference_ranges(None)
    assert all(r.source for r, _ in ranges.values())
    # Pathology Harmony 2011: potassium 3.5-5.3 mmol/L
    assert default_range(ranges, "potassium", "F", "mmol/L")[:2] == (3.5, 5.3)  # type: ignore[index]
    # haemoglobin by sex (Harmony: F 115-165 g/L); 1 g/dL = 10 g/L (lab_tests.toml)
    low, high, _ = default_range(ranges, "hemoglobin", "F", "g/dL")  # type: ignore[misc]
    assert (low, high) == pytest.approx((11.5, 16.5))
    # a sex-specific range without a recorded sex has no default; nor has an unlisted test
    assert default_range(ranges, "hemoglobin", None, "g/L") is None
    assert default_range(ranges, "il6", "M", "pg/mL") is None


def test_a_site_table_replaces_the_tests_it_lists(tmp_path: Path) -> None:
    (tmp_path / "reference_ranges.toml").write_text(
        '[ranges.potassium]\nlow = 3.6\nhigh = 5.0\nsource = "our lab"\n', encoding="utf-8"
    )
    ranges = load_reference_ranges(tmp_path)
    assert ranges["potassium"][1] == "site"
    assert ranges["sodium"][1] == "bvall"
    assert default_range(ranges, "potassium", "M", "mmol/L") == (3.6, 5.0, "your site's table")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[ranges.potasium]\nlow = 1\nhigh = 2\nsource = "x"\n', "'potasium' is not a lab test"),
        ("[ranges.potassium]\nlow = 1\nhigh = 2\n", "needs its source"),
        ('[ranges.potassium]\nlow = 5\nhigh = 2\nsource = "x"\n', "low <= high"),
        ('[ranges.potassium]\nmale = [3, 5]\nsource = "x"\n', "both male and female"),
    ],
)
def test_a_malformed_table_is_refused_with_the_reason(text: str, expected: str) -> None:
    with pytest.raises(SpecError, match=expected):
        parse_reference_ranges(text, "site.toml")
