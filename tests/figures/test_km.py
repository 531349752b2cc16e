"""Kaplan–Meier figures read back from their artists: the curve drawn is the estimator's and the
at-risk numbers printed under each tick are the estimator's ``n_risk`` at that tick."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.text import Text

from bvall.analysis.model import StudyFigure
from bvall.figures.km import compute_competing_causes, compute_tick_months
from bvall.figures.style import DAYS_PER_MONTH
from bvall.stats import compute_cumulative_incidence, compute_kaplan_meier


def _artists(fig: StudyFigure, prefix: str) -> dict[str, Line2D | Text]:
    out: dict[str, Line2D | Text] = {}
    for artist in fig.figure.findobj(lambda a: (a.get_gid() or "").startswith(prefix)):
        out[str(artist.get_gid())] = artist  # type: ignore[assignment]
    return out


def _fit(endpoints: pa.Table, time: str, event: str, arm: str | None = None):  # type: ignore[no-untyped-def]
    rows = [r for r in endpoints.to_pylist() if arm is None or r["arm"] == arm]
    return compute_kaplan_meier([r[time] for r in rows], [bool(r[event]) for r in rows])


@pytest.mark.parametrize(
    ("fid", "time", "event"),
    [("figure-os", "os_days", "os_event"), ("figure-rfs", "rfs_days", "rfs_event")],
)
def test_curve_steps_are_the_kaplan_meier_estimates(
    example_figures: dict[str, StudyFigure],
    example_endpoints: pa.Table,
    fid: str,
    time: str,
    event: str,
) -> None:
    fig = example_figures[fid]
    curves = _artists(fig, "curve:")
    expected = {
        "curve:0:All patients": _fit(example_endpoints, time, event),
        "curve:1:Concurrent BV": _fit(example_endpoints, time, event, "concurrent"),
        "curve:1:Sequential BV": _fit(example_endpoints, time, event, "sequential"),
    }
    assert set(curves) == set(expected)
    for gid, km in expected.items():
        line = curves[gid]
        assert isinstance(line, Line2D)
        assert line.get_drawstyle() == "steps-post"
        np.testing.assert_allclose(
            line.get_xdata(), np.r_[0, km.time] / DAYS_PER_MONTH, rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            line.get_ydata(), 100 * np.r_[1, km.survival], rtol=0, atol=1e-12
        )


def test_os_reproduces_the_papers_one_year_estimate(
    example_figures: dict[str, StudyFigure],
) -> None:
    # Seed paper, Results / Figure 4: 1-year OS 83.3 % (the example cohort is built so that the
    # Kaplan–Meier product is exactly 5/6); the annotation prints it.
    texts = [t.get_text() for t in _artists(example_figures["figure-os"], "landmark:0").values()]  # type: ignore[union-attr]
    assert texts
    assert texts[0].startswith("1-year OS: 83.3%")
    rfs = [t.get_text() for t in _artists(example_figures["figure-rfs"], "landmark:0").values()]  # type: ignore[union-attr]
    assert rfs[0].startswith("1-year RFS: 60.6%")  # paper: 60.6 % (= 20/33)
    # The interval is the study table's (log-log by default), so figure and table agree:
    # R survival::survfit(..., conf.type = "log-log") gives 27.3-97.5 for OS and 7.5-90.8
    # for RFS at 365 days (the values tests/analysis/test_tables.py checks in the table).
    assert "(95% CI 27.3–97.5)" in texts[0], texts[0]
    assert "(95% CI 7.5–90.8)" in rfs[0], rfs[0]


@pytest.mark.parametrize(
    ("fid", "time", "event"),
    [("figure-os", "os_days", "os_event"), ("figure-rfs", "rfs_days", "rfs_event")],
)
def test_at_risk_numbers_under_ticks_equal_n_risk(
    example_figures: dict[str, StudyFigure],
    example_endpoints: pa.Table,
    fid: str,
    time: str,
    event: str,
) -> None:
    fig = example_figures[fid]
    texts = _artists(fig, "at-risk:")
    plot = next(
        a
        for a in fig.figure.axes
        if any((ln.get_gid() or "").startswith("curve:0") for ln in a.lines)
    )
    ticks = [float(t) for t in plot.get_xticks()]
    assert ticks == [0, 3, 6, 9, 12, 15]  # follow-up up to 437 days = 14.4 months
    for panel, label, arm in [
        (0, "All patients", None),
        (1, "Concurrent BV", "concurrent"),
        (1, "Sequential BV", "sequential"),
    ]:
        km = _fit(example_endpoints, time, event, arm)
        expected = [lm.n_risk for lm in km.at([t * DAYS_PER_MONTH for t in ticks])]
        printed = []
        for tick in ticks:
            text = texts[f"at-risk:{panel}:{label}:{tick:g}"]
            assert isinstance(text, Text)
            # the column sits exactly under its tick: same x in the shared data coordinates
            assert text.get_position()[0] == tick
            assert isinstance(text.axes, Axes)
            assert text.axes.get_shared_x_axes().joined(text.axes, fig.figure.axes[2 * panel])
            printed.append(int(text.get_text()))
        assert printed == expected
    # hand count, example cohort OS: all 13 at 0; 12 followed >= 91.3 days (P13 has 87)
    if fid == "figure-os":
        assert int(texts["at-risk:0:All patients:0"].get_text()) == 13  # type: ignore[union-attr]
        assert int(texts["at-risk:0:All patients:3"].get_text()) == 12  # type: ignore[union-attr]


def test_censor_marks_sit_at_censored_times(
    example_figures: dict[str, StudyFigure], example_endpoints: pa.Table
) -> None:
    marks = _artists(example_figures["figure-os"], "censor:0:")["censor:0:All patients"]
    assert isinstance(marks, Line2D)
    km = _fit(example_endpoints, "os_days", "os_event")
    censored = km.n_censor > 0
    np.testing.assert_allclose(marks.get_xdata(), km.time[censored] / DAYS_PER_MONTH)
    # 12 patients alive at last contact (hand count: only P01 died), all at distinct times
    assert len(marks.get_xdata()) == 12


def test_cumulative_incidence_curve_is_the_estimator(
    example_figures: dict[str, StudyFigure], example_endpoints: pa.Table
) -> None:
    rows = [r for r in example_endpoints.to_pylist() if r["rfs_days"] is not None]
    causes = compute_competing_causes(rows)
    assert causes.count(1) == 2
    assert causes.count(2) == 0
    cif = compute_cumulative_incidence([r["rfs_days"] for r in rows], causes)
    line = _artists(example_figures["figure-cir"], "curve:")["curve:0:Relapse"]
    assert isinstance(line, Line2D)
    np.testing.assert_allclose(line.get_ydata(), 100 * np.r_[0, cif.incidence], atol=1e-12)
    at_risk = _artists(example_figures["figure-cir"], "at-risk:")
    assert int(at_risk["at-risk:0:Relapse:0"].get_text()) == 13  # type: ignore[union-attr]
    assert "at-risk:0:Death without relapse:0" not in at_risk  # same risk set: one row


def test_tick_months() -> None:
    assert compute_tick_months(437) == [0, 3, 6, 9, 12, 15]
    assert compute_tick_months(0) == [0, 3]
    assert compute_tick_months(365.25) == [0, 3, 6, 9, 12]
    with pytest.raises(ValueError, match="-1"):
        compute_tick_months(-1)


def test_published_survival_figures_are_omitted_with_reasons(published_build) -> None:  # type: ignore[no-untyped-def]
    figures, reasons = published_build
    ids = {f.id for f in figures}
    assert not ids & {"figure-os", "figure-rfs", "figure-cir", "figure-swimmer"}
    by_id = {r.split(":", 1)[0]: r for r in reasons}
    assert set(by_id) == {"figure-os", "figure-rfs", "figure-cir", "figure-swimmer"}
    assert "13/13" in by_id["figure-os"]
    assert "os_days" in by_id["figure-os"]
    assert "13/13" in by_id["figure-rfs"]


def test_captions_state_source_and_counts(example_figures: dict[str, StudyFigure]) -> None:
    cap = example_figures["figure-os"].caption
    for needed in (
        "N = 13",
        "concurrent bv 8",
        "sequential bv 5",
        "1 event",
        "Vertical ticks",
        "Numbers at risk",
        "SYNTHETIC",
        "30.4375",
    ):
        assert needed in cap
