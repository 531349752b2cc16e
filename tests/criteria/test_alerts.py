"""Lab alerts select among the engine's grades; each names its rule and authority."""

from __future__ import annotations

from typing import Any

from bvall.criteria.alerts import ALERT_RULES, classify_lab_alerts


def _g(term: str, day: int, grade: int | None, time: str | None = None) -> dict[str, Any]:
    return {"term_id": term, "term": term, "day": day, "time": time, "grade": grade}


def test_rise_is_counted_within_one_term_and_in_time_order() -> None:
    # ANC 1 -> 3 is a rise of 2 (and grade 3); platelets 0 on the same days rises nothing; the
    # rows arrive out of order and are put in time order (day, then time).
    rows = [
        _g("anc", 4, 3, "06:00"),
        _g("platelets", 4, 0),
        _g("anc", 2, 1, "18:00"),
        _g("platelets", 2, 1),
    ]
    got = [(a["term_id"], a["day"], a["alert_rule"].rule_id) for a in classify_lab_alerts(rows)]
    assert got == [("anc", 4, "alert.lab_grade_ge3"), ("anc", 4, "alert.lab_grade_rise2")]


def test_not_gradable_values_neither_alert_nor_serve_as_previous() -> None:
    # grade 0, not gradable, grade 1: a rise of 1 from the last graded value, no alert.
    assert classify_lab_alerts([_g("alt", 1, 0), _g("alt", 2, None), _g("alt", 3, 1)]) == []


def test_every_rule_names_its_authority() -> None:
    ge3 = ALERT_RULES["grade_3_or_more"]
    assert ge3.rule_id == "alert.lab_grade_ge3"
    assert "CTCAE v5.0" in ge3.source
    # the rise rule has no guideline behind it, and says so rather than borrowing one
    assert "no guideline" in ALERT_RULES["rise_of_2_grades"].source
