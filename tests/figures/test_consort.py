"""CONSORT counts equal hand counts from the cohort tables, and no text leaves its box."""

from __future__ import annotations

import pyarrow as pa
from matplotlib.patches import FancyBboxPatch
from matplotlib.text import Text

from bvall.analysis.model import StudyFigure
from bvall.cohort import load_cohort
from bvall.cohort.model import Cohort
from bvall.criteria import derive
from bvall.figures import compute_consort_counts


def test_example_counts(example: Cohort, example_endpoints: pa.Table) -> None:
    counts = compute_consort_counts(example, example_endpoints)
    patients = example.table("patients").to_pylist()
    assert counts.enrolled == len(patients) == 13
    con, seq = counts.arm("concurrent"), counts.arm("sequential")
    # hand count from patients.arm: 8 concurrent, 5 sequential (seed paper Table 1)
    assert (con.allocated, seq.allocated) == (8, 5)
    assert (con.induction, seq.induction) == (8, 5)
    # P02 (sequential) primary resistant, CR after two salvage courses (paper, Results)
    assert (con.cr_after_induction, seq.cr_after_induction) == (8, 4)
    assert (seq.no_response, seq.salvage, seq.cr_after_salvage) == (1, 1, 1)
    # MRD-negative at D14-21: 11 of 12 assessed (paper, Results); P03 not assessed
    assert con.mrd_negative_d14_21 + seq.mrd_negative_d14_21 == 11
    assert con.mrd_assessed_d14_21 + seq.mrd_assessed_d14_21 == 12
    # follow_up_events: P11 HSCT; P01 and P11 relapsed; P01 died
    assert (con.hsct, seq.hsct) == (0, 1)
    assert (con.relapse, seq.relapse, con.died, seq.died) == (1, 1, 1, 0)
    assert (con.alive, seq.alive, con.lost, seq.lost) == (7, 5, 0, 0)
    assert (con.consolidation, seq.consolidation) == (8, 5)


def test_published_counts_leave_follow_up_unrecorded() -> None:
    published = load_cohort("published")
    counts = compute_consort_counts(published, derive(published, "endpoints"))
    seq = counts.arm("sequential")
    assert (seq.allocated, seq.salvage, seq.followup_recorded) == (5, 1, 0)
    assert seq.consolidation is None
    assert seq.hsct is None
    assert seq.died is None
    assert seq.cr_after_salvage is None  # not reported per patient


def test_text_fits_its_box(example_figures: dict[str, StudyFigure]) -> None:
    fig = example_figures["figure-consort"].figure
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = {
        str(p.get_gid())[4:]: p
        for p in fig.findobj(FancyBboxPatch)
        if (p.get_gid() or "").startswith("box:")
    }
    texts = {
        str(t.get_gid())[9:]: t
        for t in fig.findobj(Text)
        if (t.get_gid() or "").startswith("box-text:")
    }
    assert set(boxes) == set(texts)
    assert len(boxes) == 11
    for key, patch in boxes.items():
        outer = patch.get_window_extent(renderer)
        inner = texts[key].get_window_extent(renderer)
        assert outer.x0 < inner.x0 < inner.x1 < outer.x1, key
        assert outer.y0 < inner.y0 < inner.y1 < outer.y1, key
    assert "n = 13" in texts["enrolled"].get_text()
