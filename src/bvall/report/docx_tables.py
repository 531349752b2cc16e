"""The study tables as a Word document for a manuscript (python-docx).

Journal style: one table per study table with its number and title above, three horizontal rules
(top, under the header, bottom) and no vertical lines, footnotes under each table, the header row
repeated on every page and rows never split across pages. Wide tables get a landscape section.
An appendix "Sources of the numbers" lists every cell's provenance as paragraphs, so the document
holds exactly one Word table per study table.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table, _Cell

from bvall.analysis.model import Analysis, StudyTable
from bvall.report.content import (
    build_stamp,
    cell_mark,
    cell_sources,
    table_caption,
    table_marks,
)
from bvall.report.html import WIDE_TABLE_COLUMNS

_FONT = "Times New Roman"
_TABLE_PT = 9
_NOTE_PT = 8


def _border(cell: _Cell, edge: str, size: int) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    el = OxmlElement(f"w:{edge}")
    el.set(qn("w:val"), "single")
    el.set(qn("w:sz"), str(size))  # eighths of a point
    el.set(qn("w:space"), "0")
    el.set(qn("w:color"), "000000")
    borders.append(el)


def _row_flags(table: Table, header_rows: int) -> None:
    for i, row in enumerate(table.rows):
        tr_pr = row._tr.get_or_add_trPr()
        cant = OxmlElement("w:cantSplit")
        tr_pr.append(cant)
        if i < header_rows:
            hdr = OxmlElement("w:tblHeader")
            tr_pr.append(hdr)


def _set_cell(
    cell: _Cell, text: str, *, mark: str = "", bold: bool = False, indent: int = 0
) -> None:
    para = cell.paragraphs[0]
    para.paragraph_format.space_before = Pt(1)
    para.paragraph_format.space_after = Pt(1)
    if indent:
        para.paragraph_format.left_indent = Mm(3 * indent)
    run = para.add_run(text)
    run.font.size = Pt(_TABLE_PT)
    run.bold = bold
    if mark:
        sup = para.add_run(mark)
        sup.font.size = Pt(_TABLE_PT)
        sup.font.superscript = True


def _landscape(doc: DocxDocument, landscape: bool) -> None:
    from docx.enum.section import WD_SECTION

    current = doc.sections[-1]
    is_landscape = current.orientation == WD_ORIENT.LANDSCAPE
    if is_landscape == landscape:
        return
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    width, height = section.page_width, section.page_height
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = height, width


def _add_table(doc: DocxDocument, number: int, table: StudyTable) -> None:
    title = doc.add_paragraph()
    title.paragraph_format.keep_with_next = True
    title.paragraph_format.space_before = Pt(12)
    label, text = table_caption(number, table)
    run = title.add_run(f"{label} ")
    run.bold = True
    title.add_run(text)

    ncols = len(table.columns)
    t = doc.add_table(rows=1 + len(table.rows), cols=ncols)
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    header = t.rows[0].cells
    for j, name in enumerate(table.columns):
        _set_cell(header[j], name, bold=True)
        _border(header[j], "top", 12)
        _border(header[j], "bottom", 6)
    for i, row in enumerate(table.rows, start=1):
        cells = t.rows[i].cells
        if row.heading:
            merged = cells[0].merge(cells[-1]) if ncols > 1 else cells[0]
            _set_cell(merged, row.label, bold=True, indent=row.indent)
        else:
            _set_cell(cells[0], row.label, indent=row.indent)
            for j, cell in enumerate(row.cells, start=1):
                _set_cell(cells[j], cell.text, mark=cell_mark(cell))
        for para_row in cells:
            for p in para_row.paragraphs:
                p.paragraph_format.keep_with_next = i < len(table.rows)
    for cell in t.rows[-1].cells:
        _border(cell, "bottom", 12)
    _row_flags(t, 1)

    for note in (*table.notes, *table_marks(table)):
        p = doc.add_paragraph()
        p.paragraph_format.space_after = Pt(0)
        r = p.add_run(note)
        r.font.size = Pt(_NOTE_PT)


def _add_custom_properties(doc: DocxDocument, values: dict[str, str]) -> None:
    """Write ``values`` as the document's custom properties (File > Properties > Custom)."""
    from xml.sax.saxutils import escape

    from docx.opc.constants import CONTENT_TYPE as CT
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    fmtid = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"  # the one FMTID custom properties use
    props = "".join(
        f'<property fmtid="{fmtid}" pid="{pid}" name="{escape(name, {chr(34): "&quot;"})}">'
        f"<vt:lpwstr>{escape(value)}</vt:lpwstr></property>"
        for pid, (name, value) in enumerate(values.items(), start=2)
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        f"{props}</Properties>"
    )
    package = doc.part.package
    part = Part(PackURI("/docProps/custom.xml"), CT.OFC_CUSTOM_PROPERTIES, xml.encode(), package)
    package.relate_to(part, RT.CUSTOM_PROPERTIES)


def render_tables_docx(analysis: Analysis, *, generated_at: datetime) -> bytes:
    """Every study table of ``analysis`` in one DOCX, stamped on its first page and in its
    document properties, with an appendix of each cell's provenance."""
    stamp = build_stamp(analysis, generated_at)
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = _FONT
    normal.font.size = Pt(10)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), _FONT)
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(20))

    props = doc.core_properties
    props.title = f"bvall tables: {analysis.cohort_name}"
    props.subject = f"Study tables of cohort {analysis.cohort_name}"
    props.author = f"bvall {analysis.bvall_version}"
    # Core properties hold at most 255 characters each: the short stamp goes there, the whole
    # stamp (settings can be long) into the custom properties.
    props.comments = (
        f"bvall {analysis.bvall_version}; cohort {analysis.cohort_name}; "
        f"data sha256:{analysis.data_hash}; generated {stamp.generated_at}"
    )[:255]
    props.keywords = f"bvall; {analysis.cohort_name}; {stamp.criteria_text}"[:255]
    props.identifier = f"sha256:{analysis.data_hash}"
    props.version = analysis.bvall_version
    props.category = "study tables"
    # python-docx writes the time as UTC with a Z; give it the same instant without a zone.
    props.created = generated_at.astimezone(UTC).replace(tzinfo=None)

    _add_custom_properties(doc, stamp.metadata())

    doc.add_heading(f"bvall tables: {analysis.cohort_name}", level=1)
    for label, value in stamp.lines():
        p = doc.add_paragraph()
        p.paragraph_format.space_after = Pt(0)
        r = p.add_run(f"{label}: ")
        r.bold = True
        r.font.size = Pt(_NOTE_PT)
        v = p.add_run(value)
        v.font.size = Pt(_NOTE_PT)
    for w in analysis.warnings:
        doc.add_paragraph().add_run(w).bold = True

    for number, table in enumerate(analysis.tables, start=1):
        _landscape(doc, len(table.columns) > WIDE_TABLE_COLUMNS)
        _add_table(doc, number, table)

    _landscape(doc, False)
    doc.add_page_break()  # type: ignore[no-untyped-call]
    doc.add_heading("Sources of the numbers", level=1)
    for number, table in enumerate(analysis.tables, start=1):
        h = doc.add_heading(" ".join(table_caption(number, table)), level=2)
        h.paragraph_format.keep_with_next = True
        for row in table.rows:
            if row.heading:
                continue
            for column, cell in zip(table.columns[1:], row.cells, strict=True):
                p = doc.add_paragraph()
                p.paragraph_format.space_after = Pt(1)
                head = p.add_run(f"{row.label} — {column}: {cell.text}{cell_mark(cell)}. ")
                head.bold = True
                head.font.size = Pt(_NOTE_PT)
                body = p.add_run(cell_sources(cell))
                body.font.size = Pt(_NOTE_PT)

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
