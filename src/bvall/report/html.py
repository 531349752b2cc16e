"""The report as one self-contained HTML file: CSS inline, figures embedded, no external request.

Every value cell carries its provenance twice: in its ``title`` (shown on hover) and in a hidden
block under the value that the "Show sources" toggle reveals (a checkbox and one CSS rule; no
script). The same HTML, with the print style sheet, becomes the PDF.
"""

from __future__ import annotations

import base64
import io
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from django.template import Context, Engine
from django.utils.safestring import SafeString, mark_safe

from bvall.analysis.model import Analysis, Cell, StudyFigure, StudyTable
from bvall.report.content import (
    Stamp,
    build_stamp,
    cell_mark,
    cell_sources,
    table_caption,
    table_marks,
)

#: Tables with more columns than this are printed on a landscape page in the PDF.
WIDE_TABLE_COLUMNS = 6

#: Resolution of the figures embedded in the HTML/PDF (the separate PNG files use 300 dpi).
EMBED_DPI = 200


def _templates_dir() -> Path:
    return Path(str(files("bvall.report").joinpath("templates")))


@cache
def _engine() -> Engine:
    # Standalone engine: no Django settings needed, autoescaping on (every value is data).
    return Engine(dirs=[str(_templates_dir())], autoescape=True)


def _css(name: str) -> SafeString:
    # Our own style sheets, read from package data; safe to inline unescaped.
    return mark_safe((_templates_dir() / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class _CellView:
    text: str
    mark: str
    source: str
    provenance: str
    patients: str
    title: str
    column: str


def _cell_view(cell: Cell, column: str) -> _CellView:
    return _CellView(
        text=cell.text,
        mark=cell_mark(cell),
        source=cell.source,
        provenance=cell.provenance or "no provenance recorded",
        patients=", ".join(cell.patients),
        title=cell_sources(cell),
        column=column,
    )


def _table_view(number: int, table: StudyTable) -> dict[str, Any]:
    label, title = table_caption(number, table)
    value_columns = table.columns[1:]
    rows = []
    for row in table.rows:
        cells = (
            []
            if row.heading
            else [_cell_view(c, col) for c, col in zip(row.cells, value_columns, strict=True)]
        )
        rows.append(
            {"label": row.label, "heading": row.heading, "indent": str(row.indent), "cells": cells}
        )
    return {
        # Numbers go to the template as text: Django would localise them (which needs settings).
        "number": str(number),
        "id": table.id,
        "label": label,
        "title": title,
        "label_column": table.columns[0],
        "value_columns": value_columns,
        "span": str(len(table.columns)),
        "rows": rows,
        "notes": list(table.notes),
        "marks": table_marks(table),
        "wide": len(table.columns) > WIDE_TABLE_COLUMNS,
    }


#: The embedded PNG of each matplotlib figure drawn in this process (figures are not changed
#: once built, and the web app's figure cache hands the same figure to every report of the
#: same inputs: a report after a lab change draws none of them again).
_PNGS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_PNGS_LOCK = threading.Lock()


def _embedded_png(figure: Any) -> str:
    """``figure`` as a base64 PNG at :data:`EMBED_DPI`, drawn once per figure object."""
    with _PNGS_LOCK:
        kept = _PNGS.get(figure)
    if kept is not None:
        return kept
    import matplotlib

    from bvall.figures.style import RC

    buf = io.BytesIO()
    rc: Any = RC  # matplotlib types rc keys as a Literal of every known name
    with matplotlib.rc_context(rc):
        figure.savefig(buf, format="png", dpi=EMBED_DPI)
    text = base64.b64encode(buf.getvalue()).decode("ascii")
    with _PNGS_LOCK:
        _PNGS[figure] = text
    return text


def _figure_view(fig: StudyFigure) -> dict[str, Any]:
    width_in, _ = fig.figure.get_size_inches()
    return {
        "id": fig.id,
        "title": fig.title,
        "caption": fig.caption,
        "src": "data:image/png;base64," + _embedded_png(fig.figure),
        # Print at the size the figure was drawn for, never wider than the text block.
        "width_mm": f"{float(width_in) * 25.4:.1f}",
    }


def render_report_html(
    analysis: Analysis,
    figures: list[StudyFigure] | tuple[StudyFigure, ...],
    omitted: list[str] | tuple[str, ...],
    *,
    generated_at: datetime,
) -> str:
    """The whole report of ``analysis`` as one self-contained HTML document.

    ``figures`` are embedded as PNG (data URIs); ``omitted`` lists, in words, the figures that
    could not be drawn and why. ``generated_at`` (timezone-aware) is printed in the stamp.
    """
    stamp: Stamp = build_stamp(analysis, generated_at)
    tables = [_table_view(i, t) for i, t in enumerate(analysis.tables, start=1)]
    context = {
        "title": f"bvall report: {analysis.cohort_name}",
        "stamp": stamp,
        "stamp_lines": stamp.lines(),
        "meta": sorted(stamp.metadata().items()),
        "warnings": list(analysis.warnings),
        "tables": tables,
        "figures": [_figure_view(f) for f in figures],
        "omitted": list(omitted),
        "css": _css("report.css"),
    }
    return _engine().get_template("report.html").render(Context(context))
