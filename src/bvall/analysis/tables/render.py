"""Plain renderings of an analysis: a JSON-ready dict and CSV text of one table.

The report (HTML/PDF/DOCX) and the web app render the same objects with their own templates;
these two are what the CLI prints and what a manuscript's supplementary files take.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from bvall.analysis.model import Analysis, StudyTable


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def render_analysis_dict(analysis: Analysis, table_id: str | None = None) -> dict[str, Any]:
    """The analysis as plain values (JSON-ready: NaN as null, infinity as a string); with
    ``table_id`` only that table is listed."""
    tables = [t for t in analysis.tables if table_id is None or t.id == table_id]
    return _clean(
        {
            "cohort_name": analysis.cohort_name,
            "data_hash": analysis.data_hash,
            "bvall_version": analysis.bvall_version,
            "criteria_versions": dict(analysis.criteria_versions),
            "settings": dict(analysis.settings),
            "warnings": list(analysis.warnings),
            "tables": [t.to_dict() for t in tables],
        }
    )


def render_table_csv(table: StudyTable) -> str:
    """One table as CSV: a header of the column names, one line per row (a heading row has
    empty cells; indentation is kept as leading spaces of the label), then the notes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    width = len(table.columns) - 1
    for row in table.rows:
        label = "  " * row.indent + row.label
        cells = [c.text for c in row.cells] if not row.heading else [""] * width
        writer.writerow([label, *cells])
    for note in table.notes:
        writer.writerow([f"Note: {note}", *([""] * width)])
    return out.getvalue()
