"""The course on one day axis (bvall.web.course_chart) and the lab chart's axis labels."""

from __future__ import annotations

import re

from bvall.web.charts import Point, render_lab_chart
from bvall.web.course_chart import (
    CourseData,
    DoseDay,
    LabLane,
    MarrowMark,
    course_window,
    episodes_from,
    render_course_chart,
)


def _data() -> CourseData:
    anc = LabLane(
        "Neutrophils",
        "10^9/L",
        [Point(d, 0.2 * d, f"D{d}") for d in range(1, 20)],
        [(3, 0.5, 1.0), (4, None, 0.5)],
    )
    doses = [
        DoseDay(1, "venetoclax", "20", "20", "mg", "as_planned"),
        DoseDay(2, "venetoclax", "50", None, "mg", "missed"),
        DoseDay(3, "venetoclax", "100", "50", "mg", "reduced"),
    ]
    episodes = episodes_from(
        [{"onset_day": 2, "end_day": 4, "max_grade": 3, "episode": 1}],
        [{"onset_day": 9, "end_day": None, "max_grade": 1, "episode": 1}],
    )
    return CourseData([anc], doses, episodes, [MarrowMark(28, "d14_21 <b>")], today=10)


def test_one_axis_carries_counts_doses_episodes_and_marrow() -> None:
    svg = render_course_chart(_data())
    assert svg.startswith("<svg")
    assert 'width="100%"' in svg
    assert svg.count('class="cc-given"') == 1
    assert svg.count('class="cc-missed"') == 1
    assert svg.count('class="cc-changed"') == 1
    assert 'class="cc-episode g3"' in svg
    assert ">CRS 3<" in svg
    assert "from D9, ongoing" in svg  # an open ICANS episode runs to the window's end
    assert 'class="chart-band g4"' in svg
    assert "&lt;b&gt;" in svg
    assert "<b>" not in svg
    assert "today, D10" in svg
    # weekly ticks from D1: D1, D8, D15, ...
    ticks = re.findall(r">D(-?\d+)</text>", svg)
    assert {"1", "8", "15", "22", "29"} <= set(ticks)


def test_the_window_spans_the_plan_and_the_response_marrow() -> None:
    # at least D-6..D35 (pre-phase days and the D28 marrow), never beyond D-14..D90
    assert course_window(_data()) == (-6, 35)
    far = CourseData(
        marrow=[MarrowMark(400, "relapse")],
        doses=[DoseDay(-20, "dex", "10", "10", "mg", "as_planned")],
    )
    assert course_window(far) == (-14, 35)


def test_nothing_to_draw_is_no_chart() -> None:
    assert render_course_chart(CourseData()) == ""


def test_the_last_day_label_of_a_lab_chart_ends_inside_the_chart() -> None:
    svg = render_lab_chart([Point(1, 1.0, "a"), Point(30, 2.0, "b")], "ANC", "10^9/L")
    last = re.findall(
        r'<text x="([\d.]+)" y="\d+" class="chart-tick" text-anchor="(\w+)">D30<', svg
    )
    assert last
    assert last[0][1] == "end"
