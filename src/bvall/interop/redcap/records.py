"""REDCap records in and out: a cohort as REDCap's flat record file, and back.

Out (:func:`render_records`): for bvall's dictionary, one row per patient for the ``patients``
instrument, then one row per record of every other table as a repeating instance
(``redcap_repeat_instrument``/``redcap_repeat_instance``); checkbox fields as ``field___code``
columns; ``<form>_complete`` = 2 (complete) on each row that has data of that form.

In (:func:`derive_cohort`): REDCap's flat export or ODM data, classic or longitudinal (a row of
an event is a record of a table's instrument just as a repeating instance is), through a
:class:`~bvall.interop.redcap.mapping.FieldMapping`. Choices are translated, checkboxes joined,
REDCap's date formats read by each field's validation (``date_ymd`` YYYY-MM-DD, ``date_mdy``
MM-DD-YYYY or MM/DD/YYYY, ``date_dmy`` DD-MM-YYYY or DD/MM/YYYY), ``yesno``/``truefalse`` 1/0.
The rows then go through the cohort's own validation: the result is a cohort, or every problem,
named by file, row and REDCap field. A column the dictionary does not know, or a value in a field
left unplaced, is a problem too: nothing in the file is dropped silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from bvall.cohort import TABLES, Cohort, CohortMetadata, Problem
from bvall.errors import InputError, ValidationFailed
from bvall.interop.redcap.dictionary import Field, choice_codes
from bvall.interop.redcap.mapping import FieldMapping, Placement

REPEAT_INSTRUMENT = "redcap_repeat_instrument"
REPEAT_INSTANCE = "redcap_repeat_instance"
EVENT = "redcap_event_name"
_SPECIAL = {
    REPEAT_INSTRUMENT,
    REPEAT_INSTANCE,
    EVENT,
    "redcap_data_access_group",
    "redcap_survey_identifier",
}
_COMPLETE = "_complete"
_TIMESTAMP = "_timestamp"


# --- out ---------------------------------------------------------------------------------------


def _columns(fields: list[Field]) -> list[str]:
    cols = [fields[0].name, REPEAT_INSTRUMENT, REPEAT_INSTANCE]
    form = fields[0].form
    for f in fields[1:]:
        if f.form != form:
            cols.append(form + _COMPLETE)
            form = f.form
        if f.field_type == "checkbox":
            cols += [f"{f.name}___{raw.lower()}" for raw, _ in f.choices]
        else:
            cols.append(f.name)
    cols.append(form + _COMPLETE)
    return cols


def _out(value: Any, f: Field, to_raw: Mapping[str, str]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return to_raw.get(text, text) if f.choices else text


def render_records(cohort: Cohort, fields: list[Field]) -> str:
    """The cohort as REDCap's flat record import file for bvall's dictionary ``fields``."""
    study = [r for r in cohort["provenance"].to_pylist() if r["patient_id"] is None]
    if study:
        raise InputError(
            f"{len(study)} study-level provenance row(s) (no patient) cannot be a REDCap record; "
            "REDCap keeps data per record. Export the cohort as CSV to keep them."
        )
    by_table: dict[str, list[Field]] = {}
    for f in fields:
        by_table.setdefault(f.form, []).append(f)
    to_raw: dict[str, dict[str, str]] = {}
    for f in fields:
        col = f.bvall_column()
        assert col is not None, f"internal: {f.name} is not a field of bvall's dictionary"
        schema_col = TABLES[col[0]].column(col[1])
        to_raw[f.name] = {code: raw for code, raw, _ in choice_codes(col[0], schema_col)}
    cols = _columns(fields)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    rows_of: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for table in TABLES:
        for r in cohort[table].to_pylist():
            rows_of.setdefault(table, {}).setdefault(r["patient_id"], []).append(r)
    for pid in cohort.patient_ids:
        for table in TABLES:
            for instance, r in enumerate(rows_of.get(table, {}).get(pid, []), start=1):
                row: dict[str, str] = {fields[0].name: pid}
                if table != "patients":
                    row[REPEAT_INSTRUMENT] = table
                    row[REPEAT_INSTANCE] = str(instance)
                for f in by_table[table]:
                    col = f.bvall_column()
                    assert col is not None
                    value = r[col[1]]
                    if f.field_type == "checkbox":
                        chosen = set(str(value).split(";")) if value else set()
                        for bvall_code, raw in to_raw[f.name].items():
                            row[f"{f.name}___{raw.lower()}"] = "1" if bvall_code in chosen else "0"
                    elif f.name != fields[0].name:
                        row[f.name] = _out(value, f, to_raw[f.name])
                row[table + _COMPLETE] = "2"
                writer.writerow(row)
    return out.getvalue()


# --- in ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlatRow:
    """One row of REDCap data: a record's instrument instance (or event row)."""

    line: int  # data row in the file (1 = first row under the header); ODM: form ordinal
    record: str
    event: str
    instrument: str
    instance: str
    values: Mapping[str, str]


def read_records_csv(path: Path, record_id: str) -> list[FlatRow]:
    """REDCap's flat CSV export (raw codes) as rows; the first column must be the record id."""
    label = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        bad = Problem(
            "records", None, None, str(path), f"a readable UTF-8 CSV ({exc})", "file", label
        )
        raise ValidationFailed([bad], label) from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or reader.fieldnames[0] != record_id:
        got = reader.fieldnames[0] if reader.fieldnames else None
        bad = Problem(
            "records",
            None,
            None,
            got,
            f"the record id {record_id!r} as first column",
            "column",
            label,
        )
        raise ValidationFailed([bad], label)
    out = []
    for i, r in enumerate(reader, start=1):
        out.append(
            FlatRow(
                line=i,
                record=(r.get(record_id) or "").strip(),
                event=(r.get(EVENT) or "").strip(),
                instrument=(r.get(REPEAT_INSTRUMENT) or "").strip(),
                instance=(r.get(REPEAT_INSTANCE) or "").strip(),
                values={k: (v or "") for k, v in r.items() if k is not None},
            )
        )
    return out


_DATE_FORMATS = {
    "date_ymd": ("%Y-%m-%d", "%Y/%m/%d"),
    "date_mdy": ("%m-%d-%Y", "%m/%d/%Y", "%Y-%m-%d"),
    "date_dmy": ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d"),
}
_DATE_EXPECTED = {
    "date_ymd": "a date YYYY-MM-DD",
    "date_mdy": "a date MM-DD-YYYY or MM/DD/YYYY (date_mdy)",
    "date_dmy": "a date DD-MM-YYYY or DD/MM/YYYY (date_dmy)",
}


def _date(text: str, validation: str) -> str | None:
    for fmt in _DATE_FORMATS[validation]:
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


@dataclass
class _Reader:
    fields: dict[str, Field]
    mapping: FieldMapping
    label: str
    problems: list[Problem] = field(default_factory=list)

    def bad(self, line: int, column: str, value: Any, expected: str, code: str) -> None:
        self.problems.append(Problem("records", line, column, value, expected, code, self.label))

    def value(self, row: FlatRow, p: Placement) -> Any:
        """The bvall value of a placed field in a row (None when empty)."""
        f = self.fields[p.field]
        if f.field_type == "checkbox":
            chosen = []
            for raw, _ in f.choices:
                cell = row.values.get(f"{f.name}___{raw.lower()}", "").strip()
                if cell == "1" and p.choices and raw not in p.choices:
                    self.bad(
                        row.line,
                        f"{f.name}___{raw.lower()}",
                        cell,
                        f"no tick: choice {raw} of {f.name} has no bvall code in the mapping",
                        "vocabulary",
                    )
                elif cell == "1":
                    chosen.append(p.choices.get(raw, raw))
                elif cell not in ("", "0"):
                    self.bad(row.line, f"{f.name}___{raw.lower()}", cell, "1 or 0", "type")
            return ";".join(chosen) or None
        text = row.values.get(f.name, "").strip()
        if not text:
            return None
        if f.choices:
            if text not in p.choices:
                codes = ", ".join(c for c, _ in f.choices)
                self.bad(
                    row.line, f.name, text, f"a choice code of {f.name}: {codes}", "vocabulary"
                )
                return None
            return p.choices[text]
        if f.validation in _DATE_FORMATS:
            iso = _date(text, f.validation)
            if iso is None:
                self.bad(row.line, f.name, text, _DATE_EXPECTED[f.validation], "type")
            return iso
        if f.field_type in ("yesno", "truefalse"):
            if text not in ("1", "0"):
                self.bad(row.line, f.name, text, "1 (yes) or 0 (no)", "type")
                return None
            return text == "1"
        if f.validation.endswith("comma_decimal"):  # number_comma_decimal, number_2dp_comma_decimal
            return text.replace(",", ".")
        return text


def _check_columns(rows: list[FlatRow], r: _Reader) -> None:
    known = set(_SPECIAL)
    for f in r.fields.values():
        if f.field_type == "checkbox":
            known |= {f"{f.name}___{raw.lower()}" for raw, _ in f.choices}
        else:
            known.add(f.name)
        known |= {f.form + _COMPLETE, f.form + _TIMESTAMP}
    reported: set[str] = set()
    for row in rows:
        for k, v in row.values.items():
            if k not in known and k not in reported:
                reported.add(k)
                r.bad(row.line, k, k, "a field of the data dictionary", "column")
            base = k.split("___")[0]
            if base in r.mapping.unplaced and v.strip() not in ("", "0"):
                r.bad(
                    row.line,
                    k,
                    v,
                    f"no value in {base}: the mapping leaves it unplaced (place it, or move it "
                    "to [ignore])",
                    "column",
                )


def derive_cohort(
    rows: Iterable[FlatRow],
    fields: list[Field],
    mapping: FieldMapping,
    *,
    label: str,
    metadata: CohortMetadata,
) -> Cohort:
    """The cohort the records make; :class:`ValidationFailed` lists every problem."""
    rows = list(rows)
    r = _Reader({f.name: f for f in fields}, mapping, label)
    _check_columns(rows, r)
    patients: dict[str, dict[str, Any]] = {}
    patient_line: dict[str, int] = {}
    tables: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES if t != "patients"}
    lines: dict[str, list[int]] = {t: [] for t in TABLES}
    by_table: dict[str, list[Placement]] = {}
    for p in mapping.placed.values():
        if p.field != mapping.record_id and p.field in r.fields:
            by_table.setdefault(p.table, []).append(p)
    for row in rows:
        if not row.record:
            r.bad(row.line, mapping.record_id, None, "a record id (bvall's patient id)", "required")
            continue
        for table, placements in by_table.items():
            plain: dict[str, Any] = {}
            pivots: list[tuple[Placement, Any]] = []
            for p in placements:
                v = r.value(row, p)
                if v is None:
                    continue
                if p.fixed:
                    pivots.append((p, v))
                else:
                    plain[p.column] = v
            if not plain and not pivots:
                continue
            if table == "patients":
                mine = patients.setdefault(row.record, {"patient_id": row.record})
                patient_line.setdefault(row.record, row.line)
                for col, v in plain.items():
                    if col in mine and mine[col] != v:
                        r.bad(
                            row.line,
                            mapping.field_of(table, col) or col,
                            v,
                            f"the same value as before ({mine[col]!r})",
                            "consistency",
                        )
                    mine[col] = v
                continue
            made = [{**plain, **p.fixed, p.column: v} for p, v in pivots] or [plain]
            for m in made:
                tables[table].append({**m, "patient_id": row.record})
                lines[table].append(row.line)
    if r.problems:
        raise ValidationFailed(r.problems, label)
    lines["patients"] = [patient_line[pid] for pid in patients]
    raw: dict[str, Any] = {"patients": list(patients.values()), **tables}
    frames = {
        t: pd.DataFrame(rows_, columns=list(TABLES[t].column_names), dtype=object)
        for t, rows_ in raw.items()
    }
    try:
        return Cohort.from_tables(frames, metadata, source=label)
    except ValidationFailed as exc:
        raise ValidationFailed(
            [_on_line(p, lines, mapping, label) for p in exc.problems], label
        ) from None


def _on_line(
    p: Problem, lines: Mapping[str, list[int]], mapping: FieldMapping, label: str
) -> Problem:
    if p.row is None or p.table not in lines or p.row > len(lines[p.table]):
        return replace(p, file=label)
    cols = [c.strip() for c in (p.column or "").split(",")]
    names = [mapping.field_of(p.table, c) or c for c in cols if c]
    expected = re.sub(
        r"same key as row (\d+)",
        lambda m: (
            f"same key as row {lines[p.table][int(m.group(1)) - 1]}"
            if int(m.group(1)) <= len(lines[p.table])
            else m.group(0)
        ),
        p.expected,
    )
    return replace(
        p,
        row=lines[p.table][p.row - 1],
        column=", ".join(names) or None,
        expected=f"{expected} ({p.table})",
        file=label,
    )
