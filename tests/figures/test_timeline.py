"""Timeline lanes and days equal the regimen specs (src/bvall/regimen/data/regimens/*.toml)."""

from __future__ import annotations

from matplotlib.patches import Rectangle

from bvall.analysis.model import StudyFigure
from bvall.figures import derive_timeline_lanes
from bvall.regimen import plan_regimen


def _segments(name: str) -> dict[str, list[tuple[int, int, float | None, str]]]:
    plan = plan_regimen(name, start=None, weight_kg=None, height_cm=None)
    return {
        ln.agent: [(s.first, s.last, s.dose, s.unit) for s in ln.segments]
        for ln in derive_timeline_lanes(plan)
    }


def test_concurrent_schedule() -> None:
    # bv-concurrent.toml / seed paper: venetoclax 100, 200, 300 mg D1-D3 then 400 mg D4-D14;
    # blinatumomab 9 µg/day D1-D7 then 28 µg/day D8-D14; dexamethasone 10 mg D-4..D0 (5 days)
    lanes = _segments("bv-concurrent")
    assert list(lanes) == ["dexamethasone", "venetoclax", "blinatumomab"]
    assert lanes["venetoclax"] == [
        (1, 1, 100, "mg"),
        (2, 2, 200, "mg"),
        (3, 3, 300, "mg"),
        (4, 14, 400, "mg"),
    ]
    assert lanes["blinatumomab"] == [(1, 7, 9, "µg/day"), (8, 14, 28, "µg/day")]
    assert lanes["dexamethasone"] == [(-4, 0, 10, "mg")]


def test_sequential_schedule() -> None:
    # bv-sequential.toml: blinatumomab starts on D8 (9 µg/day D8-D14, 28 µg/day D15-D21)
    lanes = _segments("bv-sequential")
    assert lanes["venetoclax"][-1] == (4, 14, 400, "mg")
    assert lanes["blinatumomab"] == [(8, 14, 9, "µg/day"), (15, 21, 28, "µg/day")]


def test_drawn_segments_cover_their_days(example_figures: dict[str, StudyFigure]) -> None:
    fig = example_figures["figure-timeline"].figure
    rects = {
        str(r.get_gid()): r
        for r in fig.findobj(Rectangle)
        if (r.get_gid() or "").startswith(("segment:", "window:"))
    }
    expected = {
        "segment:bv-concurrent:venetoclax:1:1",
        "segment:bv-concurrent:venetoclax:4:14",
        "segment:bv-concurrent:blinatumomab:1:7",
        "segment:bv-concurrent:blinatumomab:8:14",
        "segment:bv-sequential:blinatumomab:8:14",
        "segment:bv-sequential:blinatumomab:15:21",
        "window:bv-concurrent:marrow-d14-21",
        "window:bv-sequential:marrow-d14-21",
    }
    assert expected <= set(rects)
    r = rects["segment:bv-concurrent:blinatumomab:8:14"]
    assert (r.get_x(), r.get_width()) == (7.5, 7)  # days 8..14 drawn as [7.5, 14.5]
    w = rects["window:bv-sequential:marrow-d14-21"]
    assert (w.get_x(), w.get_width()) == (13.5, 8)
