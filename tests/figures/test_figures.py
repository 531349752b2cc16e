"""build_figures ids and captions; save_figure writes every format and PNG at 300 dpi."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
from PIL import Image

from bvall.analysis.model import StudyFigure
from bvall.errors import InputError
from bvall.figures import FIGURE_IDS, save_figure
from bvall.figures.style import MM_PER_INCH


def test_example_has_every_figure(example_figures: dict[str, StudyFigure]) -> None:
    assert list(example_figures) == list(FIGURE_IDS)
    for fig in example_figures.values():
        assert fig.caption
        assert fig.title
        width_mm = fig.figure.get_size_inches()[0] * MM_PER_INCH
        assert width_mm <= 174.0 + 1e-9


def test_published_keeps_timeline_and_consort(published_build) -> None:  # type: ignore[no-untyped-def]
    figures, _ = published_build
    assert [f.id for f in figures] == ["figure-timeline", "figure-consort"]


def test_save_every_format_png_at_300_dpi(
    example_figures: dict[str, StudyFigure], tmp_path: Path
) -> None:
    fig = example_figures["figure-timeline"]
    paths = save_figure(fig, tmp_path / "t")
    assert [p.suffix for p in paths] == [".svg", ".png", ".pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    with Image.open(tmp_path / "t.png") as im:
        dpi = im.info["dpi"]
        assert abs(dpi[0] - 300) < 0.01
        w_in, h_in = fig.figure.get_size_inches()
        assert abs(im.size[0] - round(w_in * 300)) <= 1
        assert abs(im.size[1] - round(h_in * 300)) <= 1
    assert (tmp_path / "t.pdf").read_bytes().startswith(b"%PDF")
    svg = (tmp_path / "t.svg").read_text()
    assert "Venetoclax" in svg  # text kept as text
    assert "DejaVu Sans" in svg


def test_save_rejects_unknown_format_and_dpi(
    example_figures: dict[str, StudyFigure], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="'gif'"):
        save_figure(example_figures["figure-consort"], tmp_path / "c", ("gif",))
    with pytest.raises(InputError, match="dpi = 0"):
        save_figure(example_figures["figure-consort"], tmp_path / "c", ("png",), dpi=0)


def test_no_global_style_leaks(
    example_figures: dict[str, StudyFigure], example, example_endpoints
) -> None:  # type: ignore[no-untyped-def]
    from bvall.figures import compute_consort_counts, render_consort

    before = dict(matplotlib.rcParams)
    fig = render_consort(compute_consort_counts(example, example_endpoints))
    assert dict(matplotlib.rcParams) == before
    assert fig.texts == []
    assert fig.axes
