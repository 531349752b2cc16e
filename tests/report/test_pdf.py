"""The PDF report: opens with pypdf, carries the stamp and every table title, sane page count."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from bvall.errors import InputError
from bvall.report import render_report_pdf
from tests.report.conftest import DATA_HASH, make_analysis


def _text(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_opens_with_stamp_and_titles(fixture_pdf: bytes) -> None:
    reader, text = _text(fixture_pdf)
    first = reader.pages[0].extract_text()
    assert DATA_HASH in first
    assert "0.1.0" in first
    assert "astct_crs 2019.1" in first
    assert "2025-03-14T09:26:53+00:00" in first
    for t in make_analysis().tables:
        assert t.title in text
    assert "Sources of the numbers" in text
    # front page, table 1, table 2 (landscape), the figure, the appendix: 5 pages by layout
    assert 4 <= len(reader.pages) <= 7


def test_pdf_is_a4_with_a_landscape_page_for_the_wide_table(fixture_pdf: bytes) -> None:
    reader, _ = _text(fixture_pdf)
    sizes = {
        (round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages
    }
    # A4 in points: 595 x 842 (210 x 297 mm)
    assert sizes == {(595, 842), (842, 595)}
    wide = [p for p in reader.pages if float(p.mediabox.width) > float(p.mediabox.height)]
    assert "Adverse events during induction" in wide[0].extract_text()


def test_pdf_metadata_has_the_stamp(fixture_pdf: bytes) -> None:
    meta = PdfReader(io.BytesIO(fixture_pdf)).metadata
    assert meta is not None
    assert meta.title == "bvall report: fixture"
    assert meta.get("/bvalldatasha256") == DATA_HASH
    assert meta.get("/bvallcriteriaversions") == "astct_crs 2019.1, ctcae_v5_labs 5.0.1"


def test_external_reference_is_refused() -> None:
    html = '<html><body><img src="http://example.org/x.png"></body></html>'
    with pytest.raises(InputError, match="data: URIs"):
        render_report_pdf(html)


def test_the_second_process_renders_the_same_bytes(fixture_html: str, fixture_pdf: bytes) -> None:
    """``bvall report`` renders the PDF in a second process while it writes the other files;
    the file must be the one rendering in process gives."""
    from bvall.report.pdf import PdfWorker

    worker = PdfWorker()
    try:
        assert worker._pool is not None  # a second process could be started here
        worker.submit(fixture_html)
        assert worker.result() == fixture_pdf
    finally:
        worker.close()


def test_an_error_in_the_second_process_is_raised_as_it_is() -> None:
    from bvall.report.pdf import PdfWorker

    worker = PdfWorker()
    try:
        worker.submit('<html><body><img src="http://example.org/x.png"></body></html>')
        with pytest.raises(InputError, match="data: URIs"):
            worker.result()
    finally:
        worker.close()
