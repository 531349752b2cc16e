"""Where each REDCap field goes in the cohort: a mapping, derived or written by a person.

With bvall's own dictionary every field is placed by its name (and its ``bvall:table.column``
annotation). For an existing project, :func:`derive_mapping` places what it can be sure of:

* a field with bvall's name for a column, or a ``bvall:`` annotation;
* a field whose instrument is named like a table and whose name is a column of it;
* a field whose name is a column name that only one table has;

and for a choice field, every choice whose code or label is a bvall code or label of that column's
vocabulary (a field with a choice it cannot translate is left for a person). Everything else is
listed under ``[unplaced]`` with what the field is. A person edits the TOML file::

    record_id = "record_id"                  # the field holding bvall's patient id

    [fields.anc]                             # one REDCap field
    table = "labs"
    column = "value"
    set = { test = "anc", unit = "10^9/L" }  # columns every row from this field gets
    [fields.gender]
    table = "patients"
    column = "sex"
    choices = { "1" = "M", "2" = "F" }       # REDCap code -> bvall code

    [ignore]                                 # decided: not part of the cohort
    consent_form = "scanned consent"
    [unplaced]                               # not yet decided: an import refuses their values
    anc_manual = "labs? form cbc: text (number): 'ANC manual'"

Fields with ``set`` each give their own row (a form with ANC, platelets and haemoglobin on one
instance gives three lab rows sharing the instance's date and time).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bvall.cohort import TABLES, Problem, load_lab_tests, vocabulary
from bvall.errors import ValidationFailed
from bvall.interop.redcap.dictionary import RECORD_ID, Field, field_name


@dataclass(frozen=True)
class Placement:
    """A REDCap field's place: table, column, columns it sets, and its choice translation."""

    field: str
    table: str
    column: str
    fixed: MappingABC[str, Any] = dataclasses.field(default_factory=dict)
    choices: MappingABC[str, str] = dataclasses.field(
        default_factory=dict
    )  # REDCap code -> bvall code


@dataclass
class FieldMapping:
    """Every field of a dictionary: placed, ignored on purpose, or left for a person."""

    record_id: str
    placed: dict[str, Placement] = dataclasses.field(default_factory=dict)
    ignored: dict[str, str] = dataclasses.field(default_factory=dict)
    unplaced: dict[str, str] = dataclasses.field(default_factory=dict)

    def field_of(self, table: str, column: str) -> str | None:
        """The REDCap field placed on a column (the first one), for problem reports."""
        for p in self.placed.values():
            if p.table == table and p.column == column:
                return p.field
        return None


def _own_names() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for table, schema in TABLES.items():
        for col in schema.columns:
            if col.name == "patient_id" and table != "patients":
                continue
            out[field_name(table, col.name)] = (table, col.name)
    return out


def _unique_columns() -> dict[str, tuple[str, str]]:
    seen: dict[str, list[str]] = {}
    for table, schema in TABLES.items():
        for col in schema.columns:
            seen.setdefault(col.name, []).append(table)
    return {c: (ts[0], c) for c, ts in seen.items() if len(ts) == 1}


def _terms(table: str, column: str) -> list[tuple[str, str]]:
    """(bvall code, label) of a column's vocabulary (lab tests for ``labs.test``)."""
    col = TABLES[table].column(column)
    if table == "labs" and column == "test":
        return [(t.code, t.name) for t in load_lab_tests().values()]
    if col.vocabulary is None:
        return []
    return [(t.code, t.label) for t in vocabulary(col.vocabulary).terms]


def _translate_choices(f: Field, table: str, column: str) -> tuple[dict[str, str], list[str]]:
    """REDCap code -> bvall code for every choice (matched by label, then by code, ignoring
    case; bvall's own dictionary labels a numbered choice "code (label)"), and the choices that
    match nothing."""
    terms = _terms(table, column)
    if not terms or not f.choices:
        return {}, []
    lookup: dict[str, str] = {}
    for code, label in terms:
        for key in (code, label, f"{code} ({label})"):
            lookup.setdefault(key.strip().lower(), code)
    out: dict[str, str] = {}
    missing: list[str] = []
    for raw, label in f.choices:
        hit = lookup.get(label.strip().lower()) or lookup.get(raw.strip().lower())
        if hit is None:
            missing.append(f"{raw}, {label}")
        else:
            out[raw] = hit
    return out, missing


def _describe(f: Field) -> str:
    kind = f.field_type + (f" ({f.validation})" if f.validation else "")
    return f"form {f.form}: {kind}: {f.label.strip()!r}"


def derive_mapping(fields: list[Field]) -> FieldMapping:
    """Place every field it can be sure of; list the rest (see the module docstring)."""
    record_id = fields[0].name
    mapping = FieldMapping(record_id=record_id)
    own, unique = _own_names(), _unique_columns()
    for f in fields:
        if f.name == record_id:
            mapping.placed[f.name] = Placement(f.name, "patients", RECORD_ID)
            continue
        if f.field_type in ("descriptive", "calc", "file", "signature", "sql"):
            mapping.ignored[f.name] = (
                f"{_describe(f)} (a {f.field_type} field holds no data to import)"
            )
            continue
        target = f.bvall_column() or own.get(f.name)
        if target is None and f.form in TABLES and f.name in TABLES[f.form].column_names:
            target = (f.form, f.name)
        if target is None:
            target = unique.get(f.name)
        if (
            target is None
            or target[0] not in TABLES
            or target[1] not in TABLES[target[0]].column_names
        ):
            mapping.unplaced[f.name] = _describe(f)
            continue
        table, column = target
        choices, missing = _translate_choices(f, table, column)
        if missing:
            mapping.unplaced[f.name] = (
                f"{table}.{column}? choices without a bvall code: {'; '.join(missing)}; "
                f"{_describe(f)}"
            )
            continue
        mapping.placed[f.name] = Placement(f.name, table, column, {}, choices)
    return mapping


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_key(s: str) -> str:
    return s if s.replace("_", "").replace("-", "").isalnum() else _toml_str(s)


def _inline(d: MappingABC[str, Any]) -> str:
    return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_str(str(v))}" for k, v in d.items()) + " }"


def render_mapping(mapping: FieldMapping, source: str) -> str:
    """The mapping as the TOML file a person reads and completes."""
    lines = [
        f"# bvall REDCap mapping for {source}",
        f"# {len(mapping.placed)} field(s) placed, {len(mapping.ignored)} ignored, "
        f"{len(mapping.unplaced)} left for a person (see [unplaced] at the end).",
        "# Place a field: [fields.NAME] with table, column (and set/choices); or move it to",
        "# [ignore] with a reason. An import refuses values of a field still [unplaced].",
        "",
        f"record_id = {_toml_str(mapping.record_id)}",
        "",
    ]
    for p in mapping.placed.values():
        lines.append(f"[fields.{_toml_key(p.field)}]")
        lines.append(f"table = {_toml_str(p.table)}")
        lines.append(f"column = {_toml_str(p.column)}")
        if p.fixed:
            lines.append(f"set = {_inline(p.fixed)}")
        if p.choices and any(k != v for k, v in p.choices.items()):
            lines.append(f"choices = {_inline(p.choices)}")
        lines.append("")
    for section, items in (("ignore", mapping.ignored), ("unplaced", mapping.unplaced)):
        lines.append(f"[{section}]")
        lines += [f"{_toml_key(k)} = {_toml_str(v)}" for k, v in items.items()]
        lines.append("")
    return "\n".join(lines)


def load_mapping(path: Path, fields: list[Field]) -> FieldMapping:
    """A mapping file, checked against the dictionary and the cohort schema."""
    label = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        unreadable = Problem(
            "mapping", None, None, str(path), f"a readable TOML mapping ({exc})", "file", label
        )
        raise ValidationFailed([unreadable], label) from None
    problems: list[Problem] = []
    known = {f.name for f in fields}

    def bad(where: str, value: Any, expected: str, code: str) -> None:
        problems.append(Problem("mapping", None, where, value, expected, code, label))

    record_id = str(raw.get("record_id") or fields[0].name)
    mapping = FieldMapping(record_id=record_id)
    for name, spec in dict(raw.get("fields", {})).items():
        where = f"fields.{name}"
        if name not in known:
            bad(where, name, "a field of the dictionary", "column")
            continue
        table, column = spec.get("table"), spec.get("column")
        if table not in TABLES:
            bad(f"{where}.table", table, f"a table: {', '.join(TABLES)}", "vocabulary")
            continue
        if column not in TABLES[table].column_names:
            bad(f"{where}.column", column, f"a column of {table}", "column")
            continue
        fixed = dict(spec.get("set", {}))
        for k in fixed:
            if k not in TABLES[table].column_names:
                bad(f"{where}.set", k, f"a column of {table}", "column")
        choices = {str(k): str(v) for k, v in dict(spec.get("choices", {})).items()}
        if not choices:
            f = next(x for x in fields if x.name == name)
            choices, missing = _translate_choices(f, table, column)
            if missing:
                bad(
                    f"{where}.choices",
                    "; ".join(missing),
                    "a bvall code for every choice",
                    "vocabulary",
                )
        mapping.placed[name] = Placement(name, table, column, fixed, choices)
    mapping.placed.setdefault(record_id, Placement(record_id, "patients", RECORD_ID))
    mapping.ignored = {str(k): str(v) for k, v in dict(raw.get("ignore", {})).items()}
    mapping.unplaced = {str(k): str(v) for k, v in dict(raw.get("unplaced", {})).items()}
    listed = set(mapping.placed) | set(mapping.ignored) | set(mapping.unplaced)
    for f in fields:
        if f.name not in listed:
            bad(f.name, f.name, "every field placed, in [ignore] or in [unplaced]", "column")
    if problems:
        raise ValidationFailed(problems, label)
    return mapping
