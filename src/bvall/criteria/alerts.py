"""Lab alerts: which of the engine's CTCAE grades call for a clinician's attention.

CTCAE grades; it defines no alerts. The alert rules here only select among the grades the
engine derived (the grade and its rule stay the engine's), and each alert names its own rule,
version and authority, so a site can see — and change — what raises one.

* ``alert.lab_grade_ge3``: a value of grade 3 or 4. Authority: CTCAE v5.0, whose general grade
  definitions make grade 3 "severe or medically significant" and grade 4 "life-threatening
  consequences; urgent intervention indicated".
* ``alert.lab_grade_rise2``: a grade at least 2 above the previous graded value of the same
  term (e.g. grade 0 → 2). No guideline defines it: it is bvall's default, a named rule a site
  may drop, chosen to flag a fast worsening before it reaches grade 3.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AlertRule:
    """A named alert rule and the authority it rests on."""

    rule_id: str
    rule_version: str
    source: str
    description: str


#: The alert rules, by key.
ALERT_RULES: dict[str, AlertRule] = {
    "grade_3_or_more": AlertRule(
        "alert.lab_grade_ge3",
        "alert@1",
        "CTCAE v5.0 general grade definitions: grade 3 severe, grade 4 life-threatening",
        "a lab value of CTCAE v5.0 grade 3 or 4 (severe or life-threatening)",
    ),
    "rise_of_2_grades": AlertRule(
        "alert.lab_grade_rise2",
        "alert@1",
        "bvall default (no guideline defines it; a site may drop it)",
        "a lab grade at least 2 above the previous graded value of the same CTCAE term",
    ),
}


def _time_order(g: dict[str, Any]) -> tuple[int, str]:
    return (g["day"] if g["day"] is not None else -10_000, g["time"] or "")


def classify_lab_alerts(grades: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts of one patient's graded lab values (rows of ``derive(cohort, "grades")``), in time
    order.

    Each alert is the engine's grade row with ``alert_rule`` (the :class:`AlertRule`) and, for a
    rise, ``previous`` (the previous graded row of the same term). A value that is not gradable
    raises nothing and is not a "previous" value.
    """
    out: list[dict[str, Any]] = []
    previous: dict[str, dict[str, Any]] = {}
    for g in sorted((g for g in grades if g["grade"] is not None), key=_time_order):
        term = g["term_id"]
        if g["grade"] >= 3:
            out.append({**g, "alert_rule": ALERT_RULES["grade_3_or_more"], "previous": None})
        before = previous.get(term)
        if before is not None and g["grade"] - before["grade"] >= 2:
            out.append({**g, "alert_rule": ALERT_RULES["rise_of_2_grades"], "previous": before})
        previous[term] = g
    return out
