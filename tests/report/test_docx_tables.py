"""The DOCX tables: one Word table per study table with the same cell texts, footnotes, stamp."""

from __future__ import annotations

import io
import zipfile

from docx import Document

from bvall.report import printed_text, render_tables_docx
from tests.report.conftest import DATA_HASH, GENERATED_AT, make_analysis


def test_one_table_per_study_table_with_the_same_texts() -> None:
    analysis = make_analysis()
    doc = Document(io.BytesIO(render_tables_docx(analysis, generated_at=GENERATED_AT)))
    assert len(doc.tables) == len(analysis.tables) == 2
    for word, study in zip(doc.tables, analysis.tables, strict=True):
        assert [c.text for c in word.rows[0].cells] == list(study.columns)
        assert len(word.rows) == 1 + len(study.rows)
        for wrow, srow in zip(word.rows[1:], study.rows, strict=True):
            texts = [c.text for c in wrow.cells]
            if srow.heading:
                # a merged heading cell repeats across the row in python-docx
                assert set(texts) == {srow.label}
            else:
                assert texts == [srow.label, *(printed_text(c) for c in srow.cells)]


def test_footnotes_stamp_and_appendix() -> None:
    doc = Document(io.BytesIO(render_tables_docx(make_analysis(), generated_at=GENERATED_AT)))
    paras = [p.text for p in doc.paragraphs]
    body = "\n".join(paras)
    assert "Table 1. Baseline characteristics" in paras
    assert "Percentages of patients with a recorded value." in paras
    assert any(p.startswith("\u2020 Value reported by the source") for p in paras)
    assert f"Input data SHA-256: {DATA_HASH}" in paras
    assert "Sources of the numbers" in paras
    # a reported value in the appendix with its provenance and patients
    assert (
        "Female, n (%) — All patients (N = 3): 2/3 (66.7%)\u2020. n/N = 2/3 <female & 'quoted'>; "
        "source: reported; patients (2): P01, P03"
    ) in body
    # the footnote follows its table (before the next table's title)
    assert paras.index("Percentages of patients with a recorded value.") < paras.index(
        "Table 2. Adverse events during induction"
    )


def test_document_properties_carry_the_stamp() -> None:
    data = render_tables_docx(make_analysis(), generated_at=GENERATED_AT)
    doc = Document(io.BytesIO(data))
    props = doc.core_properties
    assert DATA_HASH in (props.comments or "")
    assert props.version == "0.1.0"
    assert props.created is not None
    assert props.created.replace(tzinfo=None).isoformat() == "2025-03-14T09:26:53"
    custom = zipfile.ZipFile(io.BytesIO(data)).read("docProps/custom.xml").decode()
    assert "ci_method=wilson; criteria.episode_gap_hours=24; level=0.95" in custom
    assert f"<vt:lpwstr>{DATA_HASH}</vt:lpwstr>" in custom


def test_wide_table_is_in_a_landscape_section() -> None:
    doc = Document(io.BytesIO(render_tables_docx(make_analysis(), generated_at=GENERATED_AT)))
    orientations = [s.page_width > s.page_height for s in doc.sections]
    # portrait front page and table 1, landscape table 2, portrait appendix
    assert orientations == [False, True, False]
