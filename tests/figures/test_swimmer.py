"""Swimmer plot: one bar per patient, as long as the patient's follow-up."""

from __future__ import annotations

import pyarrow as pa
from matplotlib.patches import Rectangle

from bvall.analysis.model import StudyFigure
from bvall.cohort.model import Cohort
from bvall.figures import derive_swimmer_lanes
from bvall.figures.style import DAYS_PER_MONTH


def test_one_bar_per_patient_with_its_follow_up(
    example_figures: dict[str, StudyFigure], example_endpoints: pa.Table
) -> None:
    fig = example_figures["figure-swimmer"].figure
    bars = {
        str(p.get_gid()): p
        for p in fig.findobj(Rectangle)
        if (p.get_gid() or "").startswith("bar:")
    }
    rows = example_endpoints.to_pylist()
    assert set(bars) == {f"bar:{r['patient_id']}" for r in rows}
    assert len(bars) == 13
    for r in rows:
        bar = bars[f"bar:{r['patient_id']}"]
        assert isinstance(bar, Rectangle)
        assert bar.get_x() == 0
        assert abs(bar.get_width() - r["os_days"] / DAYS_PER_MONTH) < 1e-12
    # hand check: P02 has the longest follow-up, 437 days (paper: range 87-437)
    assert abs(bars["bar:P02"].get_width() * DAYS_PER_MONTH - 437) < 1e-9


def test_lanes_grouped_by_arm_and_sorted_by_follow_up(
    example: Cohort, example_endpoints: pa.Table
) -> None:
    lanes, missing = derive_swimmer_lanes(example, example_endpoints)
    assert missing == []
    arms = [ln.arm for ln in lanes]
    assert arms == ["concurrent"] * 8 + ["sequential"] * 5
    for arm in ("concurrent", "sequential"):
        days = [ln.followup_days for ln in lanes if ln.arm == arm]
        assert days == sorted(days, reverse=True)
    p11 = next(ln for ln in lanes if ln.patient_id == "P11")
    kinds = dict(p11.events)
    assert kinds["hsct"] == 216
    assert kinds["relapse"] == 302
    assert p11.alive
    p01 = next(ln for ln in lanes if ln.patient_id == "P01")
    assert dict(p01.events)["death"] == 296
    assert not p01.alive


def test_markers_and_legend(example_figures: dict[str, StudyFigure]) -> None:
    fig = example_figures["figure-swimmer"].figure
    gids = {a.get_gid() for a in fig.findobj() if (a.get_gid() or "").startswith("marker:")}
    assert gids == {
        f"marker:{k}" for k in ("cr", "mrd_negative", "hsct", "relapse", "death", "ongoing")
    }
    legend_text = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {"Relapse", "Death", "Alive at last contact", "Allogeneic HSCT"} <= legend_text
