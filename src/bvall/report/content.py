"""What every output of a report shares: the stamp, the marks on reported values, file names.

The HTML/PDF report, the DOCX and CSV tables and the figure files all print the same stamp
(bvall version, criteria versions, SHA-256 of the input data, cohort, settings, generation time)
and the same cell texts, so a number copied from any of them can be traced back to the same run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bvall.analysis.model import Analysis, Cell, StudyTable
from bvall.errors import InputError

#: The mark printed after a value the source reported (not derived from patient-level data),
#: and after a value counted partly from reported and partly from derived data.
MARKS: dict[str, str] = {"reported": "\u2020", "mixed": "\u2021"}

#: The footnote each mark carries, under every table where it appears.
MARK_NOTES: dict[str, str] = {
    "reported": "\u2020 Value reported by the source, not derived by bvall from patient-level data.",
    "mixed": "\u2021 Value counted partly from values reported by the source and partly from "
    "values derived by bvall from patient-level data.",
}


def cell_mark(cell: Cell) -> str:
    """The mark printed after ``cell``'s text: † reported, ‡ mixed, nothing when derived."""
    return MARKS.get(cell.source, "")


def printed_text(cell: Cell) -> str:
    """The text of ``cell`` as every output prints it: its text followed by its mark."""
    return cell.text + cell_mark(cell)


def table_marks(table: StudyTable) -> list[str]:
    """The footnotes for the marks used in ``table``, in a fixed order."""
    used = {c.source for r in table.rows for c in r.cells}
    return [MARK_NOTES[s] for s in MARKS if s in used]


def cell_sources(cell: Cell) -> str:
    """One line naming where ``cell`` came from (for tooltips, the appendix and the DOCX)."""
    parts = [cell.provenance or "no provenance recorded"]
    if cell.source:
        parts.append(f"source: {cell.source}")
    if cell.patients:
        parts.append(f"patients ({len(cell.patients)}): {', '.join(cell.patients)}")
    return "; ".join(parts)


_NUMBERED = re.compile(r"^(Table\s+[A-Za-z]?\d+[A-Za-z]?[.:])\s*(.*)$", re.S)


def table_caption(number: int, table: StudyTable) -> tuple[str, str]:
    """(label, title) of ``table``: its own number when its title starts with one ("Table 1.
    Patient ..."), else "Table <number>." by its place in the report."""
    m = _NUMBERED.match(table.title)
    if m:
        return m.group(1), m.group(2)
    return f"Table {number}.", table.title


def csv_file_name(table: StudyTable) -> str:
    """The CSV file name of ``table``: its id, made safe for any file system."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", table.id).strip("-") + ".csv"


def check_generated_at(generated_at: datetime) -> datetime:
    """A generation time must say its time zone: a report is read in other places and times."""
    if not isinstance(generated_at, datetime):
        raise InputError(
            f"generated_at {generated_at!r} is not a datetime; pass a timezone-aware datetime "
            "such as datetime.now(timezone.utc)."
        )
    if generated_at.tzinfo is None or generated_at.utcoffset() is None:
        raise InputError(
            f"generated_at {generated_at.isoformat()!r} has no time zone; pass a timezone-aware "
            "datetime such as datetime.now(timezone.utc)."
        )
    return generated_at


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for k in sorted(value, key=str):
            _flatten(f"{prefix}.{k}" if prefix else str(k), value[k], out)
    elif isinstance(value, list | tuple):
        out.append((prefix, ", ".join(str(v) for v in value)))
    else:
        out.append((prefix, "" if value is None else str(value)))


@dataclass(frozen=True)
class Stamp:
    """What produced a report, printed on its first page and written into every file."""

    cohort_name: str
    bvall_version: str
    data_hash: str
    criteria_versions: tuple[tuple[str, str], ...]
    settings: tuple[tuple[str, str], ...]
    generated_at: str

    @property
    def criteria_text(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.criteria_versions)

    @property
    def settings_text(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.settings)

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) pairs in the order the first page prints them."""
        return [
            ("Cohort", self.cohort_name),
            ("bvall version", self.bvall_version),
            ("Input data SHA-256", self.data_hash),
            ("Criteria versions", self.criteria_text or "none recorded"),
            ("Settings", self.settings_text or "defaults"),
            ("Generated", self.generated_at),
        ]

    def text(self) -> str:
        """The stamp as one paragraph (document comments, PDF subject)."""
        return "; ".join(f"{label}: {value}" for label, value in self.lines())

    def metadata(self) -> dict[str, str]:
        """Flat ``Bvall*`` keys for file metadata (HTML meta, PDF info, PNG text chunks)."""
        # Letters and digits only: PDF writers drop other characters from custom keys.
        return {
            "BvallCohort": self.cohort_name,
            "BvallVersion": self.bvall_version,
            "BvallDataSHA256": self.data_hash,
            "BvallCriteriaVersions": self.criteria_text,
            "BvallSettings": self.settings_text,
            "BvallGeneratedAt": self.generated_at,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "cohort": self.cohort_name,
            "bvall_version": self.bvall_version,
            "data_sha256": self.data_hash,
            "criteria_versions": dict(self.criteria_versions),
            "settings": dict(self.settings),
            "generated_at": self.generated_at,
        }


def build_stamp(analysis: Analysis, generated_at: datetime) -> Stamp:
    """The stamp of ``analysis`` generated at ``generated_at`` (timezone-aware)."""
    when = check_generated_at(generated_at)
    settings: list[tuple[str, str]] = []
    _flatten("", analysis.settings, settings)
    return Stamp(
        cohort_name=analysis.cohort_name,
        bvall_version=analysis.bvall_version,
        data_hash=analysis.data_hash,
        criteria_versions=tuple(
            sorted((str(k), str(v)) for k, v in analysis.criteria_versions.items())
        ),
        settings=tuple(settings),
        generated_at=when.isoformat(timespec="seconds"),
    )
