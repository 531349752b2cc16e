"""The HTML report: self-contained, every table and every cell's provenance, the stamp."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from bvall.analysis.model import Analysis
from bvall.errors import InputError
from bvall.report import render_report_html
from tests.report.conftest import DATA_HASH, GENERATED_AT, make_analysis


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.titles: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "data", "action", "poster"} and value is not None:
                self.urls.append((tag, name, value))
            if name == "id" and value:
                self.ids.add(value)
            if name == "title" and tag == "td" and value is not None:
                self.titles.append(value)
        if tag in {"script", "link", "iframe", "object", "embed"}:
            self.scripts += 1


def _parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    return p


def test_no_external_request(fixture_html: str) -> None:
    parsed = _parse(fixture_html)
    assert parsed.urls, "the fixture report has links and an image"
    for tag, attr, url in parsed.urls:
        assert url.startswith(("#", "data:")), f"<{tag} {attr}={url[:60]!r}> is not embedded"
    assert parsed.scripts == 0
    # nothing in the inline CSS may fetch either
    style = re.search(r"<style>(.*?)</style>", fixture_html, re.S)
    assert style is not None
    assert "url(" not in style.group(1)
    assert "@import" not in style.group(1)


def test_every_table_and_figure_present(fixture_html: str) -> None:
    ids = _parse(fixture_html).ids
    analysis = make_analysis()
    for t in analysis.tables:
        assert t.id in ids
        assert t.title in fixture_html
    assert "figure-os" in ids
    assert "data:image/png;base64," in fixture_html
    assert "Swimmer plot: no dose records." in fixture_html  # omitted figure with reason


def test_every_cell_carries_its_provenance(fixture_html: str) -> None:
    titles = _parse(fixture_html).titles
    analysis = make_analysis()
    cells = [c for t in analysis.tables for r in t.rows for c in r.cells]
    # 4 cells in table 1 (3 value rows), 14 in table 2: one titled <td> per value cell
    assert len(titles) == len(cells) == 3 + 14
    for cell, title in zip(cells, titles, strict=True):
        assert cell.provenance in title
        for pid in cell.patients:
            assert pid in title
    # the hidden block the "Show sources" toggle reveals, escaped like any other text
    assert "n/N = 2/3 &lt;female &amp; &#x27;quoted&#x27;&gt;" in fixture_html
    assert "<female" not in fixture_html
    assert 'id="show-sources"' in fixture_html
    assert ".sources-toggle:checked ~ main .src" in fixture_html


def test_reported_and_mixed_values_are_marked_with_a_footnote(fixture_html: str) -> None:
    assert '2/3 (66.7%)<span class="mark">\u2020</span>' in fixture_html
    assert '2/3 (67%)<span class="mark">\u2021</span>' in fixture_html
    assert "\u2020 Value reported by the source" in fixture_html
    assert "\u2021 Value counted partly" in fixture_html


def test_stamp_on_first_page(fixture_html: str) -> None:
    front = fixture_html.split('<section class="study-table')[0]
    for text in (
        "0.1.0",
        DATA_HASH,
        "astct_crs 2019.1",
        "ctcae_v5_labs 5.0.1",
        "ci_method=wilson",
        "level=0.95",
        "criteria.episode_gap_hours=24",
        "2025-03-14T09:26:53+00:00",
        "fixture",
        "SYNTHETIC DEMO DATA",
    ):
        assert text in front, text
    assert f'<meta name="BvallDataSHA256" content="{DATA_HASH}">' in fixture_html


def test_heading_rows_span_the_table(fixture_html: str) -> None:
    assert '<th scope="rowgroup" colspan="2" class="indent-0">Sex</th>' in fixture_html


def test_naive_time_is_refused(analysis: Analysis) -> None:
    with pytest.raises(InputError, match="has no time zone"):
        render_report_html(analysis, [], [], generated_at=GENERATED_AT.replace(tzinfo=None))


def test_each_figure_is_drawn_once_for_every_report_of_it() -> None:
    """The embedded PNG of a figure object is drawn once: a second report of the same figures
    (the web app's figure cache hands them out again after a change that no figure reads) draws
    none, and embeds the same bytes. A new figure object is drawn."""
    from matplotlib.figure import Figure

    from bvall.analysis.model import StudyFigure

    drawn: list[str] = []

    class Counted(Figure):
        def savefig(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            drawn.append(kwargs.get("format", "?"))
            return super().savefig(*args, **kwargs)

    def figure() -> StudyFigure:
        fig = Counted(figsize=(3, 2))
        fig.add_subplot().plot([0, 1], [1, 0])
        return StudyFigure("figure-os", "Overall survival", "A caption.", fig)

    analysis, one = make_analysis(), figure()
    first = render_report_html(analysis, [one], [], generated_at=GENERATED_AT)
    assert drawn == ["png"]
    again = render_report_html(analysis, [one], [], generated_at=GENERATED_AT)
    assert drawn == ["png"]
    assert again == first
    other = render_report_html(analysis, [figure()], [], generated_at=GENERATED_AT)
    assert drawn == ["png", "png"]
    assert other == first  # the same drawing, drawn again for the new object
