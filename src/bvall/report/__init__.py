"""Reports of a cohort's analysis: a self-contained HTML file, a PDF, the tables as DOCX and CSV,
and the figures as SVG, PNG and PDF, each stamped with what produced it.

* :func:`render_report_html` — the report as one HTML document (CSS inline, figures embedded,
  every value's provenance on hover and under a "Show sources" toggle).
* :func:`render_report_pdf` — the same HTML as an A4 PDF (WeasyPrint, print style sheet).
* :func:`render_tables_docx` — the study tables for a manuscript (journal style, footnotes,
  an appendix "Sources of the numbers").
* :func:`render_tables_csv` — one CSV text per table.
* :func:`write_report` — all of the above for a cohort, written atomically to a folder.
"""

from bvall.report.content import MARK_NOTES, MARKS, Stamp, build_stamp, printed_text
from bvall.report.csv_tables import render_tables_csv
from bvall.report.docx_tables import render_tables_docx
from bvall.report.html import render_report_html
from bvall.report.pdf import render_report_pdf
from bvall.report.write import (
    FIGURE_FORMATS,
    FORMATS,
    MANIFEST,
    Progress,
    check_formats,
    render_report_files,
    write_report,
)

__all__ = [
    "FIGURE_FORMATS",
    "FORMATS",
    "MANIFEST",
    "MARKS",
    "MARK_NOTES",
    "Progress",
    "Stamp",
    "build_stamp",
    "check_formats",
    "printed_text",
    "render_report_files",
    "render_report_html",
    "render_report_pdf",
    "render_tables_csv",
    "render_tables_docx",
    "write_report",
]
