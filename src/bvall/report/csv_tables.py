"""The study tables as CSV, one file per table, for a manuscript or a spreadsheet.

Each file holds the printed table: a header row (the table's columns), then one row per table
row with the label and the printed cell texts (reported values keep their mark). A heading row has
its label and empty cells. The stamp is not written into the CSV (it would break readers); the
report's ``manifest.json`` records it with the SHA-256 of every CSV file.
"""

from __future__ import annotations

import csv
import io

from bvall.analysis.model import Analysis
from bvall.errors import InputError
from bvall.report.content import csv_file_name, printed_text


def render_tables_csv(analysis: Analysis) -> dict[str, str]:
    """File name -> CSV text (RFC 4180, ``\\r\\n`` line ends, UTF-8) for every study table."""
    out: dict[str, str] = {}
    for table in analysis.tables:
        name = csv_file_name(table)
        if name in out:
            raise InputError(
                f"Two tables share the CSV file name {name!r}; table ids must differ after "
                "removing characters other than letters, digits, '.', '_' and '-'."
            )
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(table.columns)
        width = len(table.columns) - 1
        for row in table.rows:
            if row.heading:
                writer.writerow([row.label, *([""] * width)])
            else:
                writer.writerow([row.label, *(printed_text(c) for c in row.cells)])
        out[name] = buf.getvalue()
    return out
