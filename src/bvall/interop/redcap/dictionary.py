"""The study's REDCap data dictionary: what a unit uploads to build its REDCap project.

One instrument per cohort table (``patients`` first; its first field, ``patient_id``, is the
record id). Every other instrument holds one row of its table per *repeating instance* (enable
"repeating instruments" for them: :func:`repeating_instruments` is REDCap's upload file for that).
A field is named ``<prefix>_<column>`` (REDCap variable names are unique across the project, and
several tables share column names such as ``date``); its annotation names the bvall column.

Field types follow the cohort schema: a controlled vocabulary is a dropdown (a ``;``-separated
list is a checkbox) with the vocabulary's codes and labels; dates are ``date_ymd``, clock times
``time``, numbers ``number``/``integer`` with the schema's limits; booleans ``yesno``. Choice codes
are bvall's codes where REDCap allows them (letters, digits, underscore), else 1..n in vocabulary
order, the bvall code then being the choice's label.

The 18 column headers are REDCap's, exactly (a data dictionary upload rejects any other).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bvall.cohort import TABLES, Column, Problem, load_lab_tests, vocabulary
from bvall.errors import ValidationFailed

#: REDCap's data dictionary columns, in order.
HEADERS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)

#: Field name prefix of each table's instrument (the patients instrument uses bare names).
PREFIXES: dict[str, str] = {
    "patients": "",
    "genetic_findings": "gen",
    "treatment_courses": "course",
    "dose_administrations": "dose",
    "concomitant_medications": "cm",
    "labs": "lab",
    "vitals": "vs",
    "neuro_assessments": "neuro",
    "marrow_assessments": "bm",
    "adverse_events": "ae",
    "transfusions": "tx",
    "follow_up_events": "fu",
    "reported_summaries": "rs",
    "provenance": "prov",
}

RECORD_ID = "patient_id"
_SAFE_CODE = re.compile(r"^[A-Za-z0-9_]+$")
_ANNOTATION = re.compile(r"bvall:([a-z_]+)\.([a-z0-9_]+)")
_LONG_TEXT = {"notes", "note", "reason", "readings", "printed", "detail", "symptoms"}


@dataclass(frozen=True)
class Field:
    """One row of a data dictionary (the columns bvall reads; the others are written blank)."""

    name: str
    form: str
    field_type: str
    label: str
    choices: tuple[tuple[str, str], ...] = ()  # (raw code, label)
    note: str = ""
    validation: str = ""
    minimum: str = ""
    maximum: str = ""
    required: bool = False
    annotation: str = ""
    section: str = ""

    def bvall_column(self) -> tuple[str, str] | None:
        """(table, column) named in the annotation (``bvall:labs.value``), if any."""
        m = _ANNOTATION.search(self.annotation)
        return (m.group(1), m.group(2)) if m else None

    def row(self) -> list[str]:
        choices = " | ".join(f"{c}, {label}" for c, label in self.choices)
        return [
            self.name,
            self.form,
            self.section,
            self.field_type,
            self.label,
            choices,
            self.note,
            self.validation,
            self.minimum,
            self.maximum,
            "",
            "",
            "y" if self.required else "",
            "",
            "",
            "",
            "",
            self.annotation,
        ]


def field_name(table: str, column: str) -> str:
    """The REDCap variable of a cohort column in bvall's dictionary."""
    if table == "patients" or column == "patient_id":
        return column
    return f"{PREFIXES[table]}_{column}"


def choice_codes(table: str, col: Column) -> tuple[tuple[str, str, str], ...]:
    """(bvall code, REDCap choice code, choice label) of a column's vocabulary (lab tests for
    ``labs.test``); numbered 1..n when a code is not a valid REDCap choice code."""
    if table == "labs" and col.name == "test":
        terms = [(t.code, t.name) for t in load_lab_tests().values()]
    elif col.vocabulary is not None:
        terms = [(t.code, t.label) for t in vocabulary(col.vocabulary).terms]
    else:
        return ()
    terms = [(code, label.replace("|", "/")) for code, label in terms]
    if all(_SAFE_CODE.match(code) for code, _ in terms):
        return tuple((code, code, label) for code, label in terms)
    return tuple(
        (code, str(i), code if label == code else f"{code} ({label})")
        for i, (code, label) in enumerate(terms, start=1)
    )


def choices_for(table: str, col: Column) -> tuple[tuple[str, str], ...]:
    """(REDCap choice code, label) of a column's vocabulary, as the dictionary lists them."""
    return tuple((raw, label) for _, raw, label in choice_codes(table, col))


def _number(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else repr(v)


def _field(table: str, col: Column, first: bool) -> Field:
    note = col.unit or (f"unit in {field_name(table, col.unit_column)}" if col.unit_column else "")
    base = {
        "name": field_name(table, col.name),
        "form": table,
        "label": col.description,
        "note": note,
        "required": col.required,
        "annotation": f"bvall:{table}.{col.name}",
        "section": TABLES[table].description if first else "",
    }
    choices = choices_for(table, col)
    if col.list_of:
        return Field(field_type="checkbox", choices=choices, **base)  # type: ignore[arg-type]
    if choices:
        return Field(field_type="dropdown", choices=choices, **base)  # type: ignore[arg-type]
    kind = {
        "date": ("text", "date_ymd"),
        "time": ("text", "time"),
        "integer": ("text", "integer"),
        "number": ("text", "number"),
        "boolean": ("yesno", ""),
    }.get(col.type)
    if kind is None:
        kind = ("notes", "") if col.name in _LONG_TEXT else ("text", "")
    return Field(
        field_type=kind[0],
        validation=kind[1],
        minimum=_number(col.min) if kind[1] in ("integer", "number") else "",
        maximum=_number(col.max) if kind[1] in ("integer", "number") else "",
        **base,  # type: ignore[arg-type]
    )


def derive_dictionary() -> list[Field]:
    """bvall's data dictionary: the record id, then every table's instrument in cohort order."""
    fields: list[Field] = []
    for table, schema in TABLES.items():
        cols = [c for c in schema.columns if table == "patients" or c.name != "patient_id"]
        for i, col in enumerate(cols):
            fields.append(_field(table, col, first=i == 0))
    return fields


def render_dictionary(fields: Iterable[Field]) -> str:
    """The dictionary as REDCap's CSV."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADERS)
    for f in fields:
        writer.writerow(f.row())
    return out.getvalue()


def repeating_instruments(fields: Iterable[Field]) -> str:
    """REDCap's "repeating instruments" upload (form_name, custom_form_label): every
    instrument but the record's own."""
    forms = list(dict.fromkeys(f.form for f in fields))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["form_name", "custom_form_label"])
    for form in forms[1:]:
        writer.writerow([form, ""])
    return out.getvalue()


def _parse_choices(text: str) -> tuple[tuple[str, str], ...]:
    out = []
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        code, _, label = part.partition(",")
        out.append((code.strip(), label.strip()))
    return tuple(out)


def load_dictionary(path: Path) -> list[Field]:
    """A REDCap data dictionary CSV (any project's); :class:`ValidationFailed` when it is not one."""
    label = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            [
                Problem(
                    "dictionary",
                    None,
                    None,
                    str(path),
                    f"a readable UTF-8 CSV ({exc})",
                    "file",
                    label,
                )
            ],
            label,
        ) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(h.strip() for h in rows[0][: len(HEADERS)]) != HEADERS:
        got = rows[0] if rows else []
        raise ValidationFailed(
            [
                Problem(
                    "dictionary",
                    None,
                    None,
                    ", ".join(got[:4]) + ("..." if len(got) > 4 else ""),
                    "REDCap's data dictionary headers ('Variable / Field Name', 'Form Name', ...)",
                    "column",
                    label,
                )
            ],
            label,
        )
    fields = []
    for r in rows[1:]:
        r = r + [""] * (len(HEADERS) - len(r))
        if not r[0].strip():
            continue
        fields.append(
            Field(
                name=r[0].strip(),
                form=r[1].strip(),
                section=r[2],
                field_type=r[3].strip(),
                label=r[4],
                choices=_parse_choices(r[5])
                if r[3].strip() in ("dropdown", "radio", "checkbox")
                else (),
                note=r[6],
                validation=r[7].strip(),
                minimum=r[8].strip(),
                maximum=r[9].strip(),
                required=r[12].strip().lower() == "y",
                annotation=r[17],
            )
        )
    if not fields:
        raise ValidationFailed(
            [
                Problem(
                    "dictionary",
                    None,
                    None,
                    None,
                    "at least the record id field",
                    "required",
                    label,
                )
            ],
            label,
        )
    return fields
