"""The shapes a study analysis is made of: tables of cells that explain themselves, and figures.

The study tables (:mod:`bvall.analysis.tables`), the figures (:mod:`bvall.figures`), the report
(:mod:`bvall.report`) and the web app's analysis page all speak in these types, so that a number
shown anywhere can say where it came from.

* :class:`Cell` — one printed value with its machine value and its provenance: the fraction
  (n/N), the method, the patients counted and whether it was derived by the criteria engine
  from raw data or taken from a value the source reported.
* :class:`Row` — a label and its cells; a heading row has no cells.
* :class:`StudyTable` — a numbered table with columns, rows and footnotes.
* :class:`StudyFigure` — a matplotlib figure with its caption and the numbers it rests on.
* :class:`Analysis` — all tables of one cohort, stamped with what produced them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Where a value came from: derived by the criteria engine from observed data, taken from a
#: value the source reported, both (some patients each way), or not applicable (a label, a
#: count of rows).
Source = Literal["derived", "reported", "mixed", ""]


@dataclass(frozen=True)
class Cell:
    """One printed value.

    ``text`` is what is printed (``"12/13 (92.3%)"``); ``value`` the machine value (a number,
    a string, or ``None`` when missing); ``provenance`` a sentence saying how it was obtained
    (numerator and denominator, method, missing count); ``patients`` the patient ids counted
    in the numerator (or summarised); ``source`` whether it was derived or reported.
    """

    text: str
    value: float | int | str | None = None
    provenance: str = ""
    patients: tuple[str, ...] = ()
    source: Source = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "value": self.value,
            "provenance": self.provenance,
            "patients": list(self.patients),
            "source": self.source,
        }


@dataclass(frozen=True)
class Row:
    """A row: its label, its cells (one per column after the label column), its indentation
    level, and whether it is a section heading (a heading has no cells)."""

    label: str
    cells: tuple[Cell, ...] = ()
    indent: int = 0
    heading: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "cells": [c.to_dict() for c in self.cells],
            "indent": self.indent,
            "heading": self.heading,
        }


@dataclass(frozen=True)
class StudyTable:
    """A study table. ``columns`` names every column including the label column first."""

    id: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        width = len(self.columns) - 1
        for row in self.rows:
            if not row.heading and len(row.cells) != width:
                raise ValueError(
                    f"table {self.id!r}: row {row.label!r} has {len(row.cells)} cells, "
                    f"expected {width} (one per column after the label)"
                )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "columns": list(self.columns),
            "rows": [r.to_dict() for r in self.rows],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class StudyFigure:
    """A figure with its id (``"figure-os"``), title, caption (what a journal prints under
    it: what is shown, the numbers at risk, censoring marks) and the matplotlib figure."""

    id: str
    title: str
    caption: str
    figure: Figure


@dataclass(frozen=True)
class Analysis:
    """Every table of one cohort with the stamp a report carries."""

    cohort_name: str
    data_hash: str
    bvall_version: str
    criteria_versions: dict[str, str]
    settings: dict[str, Any]
    tables: tuple[StudyTable, ...]
    warnings: tuple[str, ...] = field(default=())

    def table(self, table_id: str) -> StudyTable:
        for t in self.tables:
            if t.id == table_id:
                return t
        known = ", ".join(t.id for t in self.tables)
        raise KeyError(f"no table {table_id!r} in this analysis; tables: {known}")
