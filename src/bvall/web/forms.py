"""Forms of the data-entry pages, generated from the cohort schema.

Fields accept text and leave every check to the cohort's own validation (through
:mod:`bvall.store.records`), so a form, a file import and the API report the same problems in the
same words; those problems are attached to the fields they concern.
"""

from __future__ import annotations

from typing import Any

from django import forms

from bvall.cohort import TABLES, Column, load_lab_tests, vocabulary
from bvall.cohort.problems import Problem

#: Free-text columns shown as a text area.
_LONG_TEXT = {"notes", "note", "detail", "symptoms", "reason", "printed", "readings", "cause"}


def _widget(col: Column) -> forms.Widget:
    if col.vocabulary and col.list_of:
        return forms.CheckboxSelectMultiple()
    if col.vocabulary:
        choices = [("", "—")] + [
            (t.code, f"{t.code} – {t.label}" if t.label != t.code else t.code)
            for t in vocabulary(col.vocabulary).terms
        ]
        return forms.Select(choices=choices)
    if col.type == "date":
        return forms.DateInput(attrs={"type": "date"})
    if col.type == "boolean":
        return forms.Select(choices=[("", "unknown"), ("true", "yes"), ("false", "no")])
    if col.type in ("integer", "number"):
        return forms.TextInput(attrs={"inputmode": "decimal", "class": "num"})
    if col.type == "time":
        return forms.TextInput(attrs={"placeholder": "HH:MM", "class": "time"})
    if col.name in _LONG_TEXT:
        return forms.Textarea(attrs={"rows": 2})
    return forms.TextInput()


def _help(col: Column) -> str:
    unit = col.unit or ""
    return col.description + (f" [{unit}]" if unit else "")


class RecordForm(forms.Form):
    """Base of the generated forms; ``table`` names the cohort table."""

    table: str = ""
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why is saved data changed?"}),
        help_text="Required when saved data is changed or deleted; kept in the audit trail.",
    )

    def values(self) -> dict[str, Any]:
        """The entered cohort values: text as typed, None for empty."""
        out: dict[str, Any] = {}
        for col in TABLES[self.table].columns:
            if col.name not in self.fields:
                continue
            v = self.cleaned_data.get(col.name)
            if isinstance(v, list):
                v = ";".join(v) if v else None
            if isinstance(v, str) and not v.strip():
                v = None
            out[col.name] = v
        return out

    def add_problems(self, by_field: dict[str, list[Problem]], others: list[Problem]) -> None:
        for col, problems in by_field.items():
            target = col if col in self.fields else None
            for p in problems:
                shown = "(missing)" if p.value is None else repr(p.value)
                self.add_error(target, f"{shown}: expected {p.expected}" if target else p.message)
        for p in others:
            self.add_error(None, p.message)


def record_form_class(table: str, *, exclude: tuple[str, ...] = ()) -> type[RecordForm]:
    """A form for one record of ``table`` (columns in schema order, minus ``exclude``)."""
    attrs: dict[str, Any] = {"table": table}
    for col in TABLES[table].columns:
        if col.name in exclude:
            continue
        label = col.name.replace("_", " ") + (" *" if col.required else "")
        if col.vocabulary and col.list_of:
            attrs[col.name] = forms.MultipleChoiceField(
                required=False,
                choices=[(t.code, t.label) for t in vocabulary(col.vocabulary).terms],
                widget=_widget(col),
                label=label,
                help_text=_help(col),
            )
        else:
            attrs[col.name] = forms.CharField(
                required=False, strip=True, widget=_widget(col), label=label, help_text=_help(col)
            )
    # schema order, with version and reason last
    attrs["field_order"] = [c.name for c in TABLES[table].columns if c.name not in exclude] + [
        "version",
        "reason",
    ]
    form: type[RecordForm] = type(f"{table.title().replace('_', '')}Form", (RecordForm,), attrs)
    return form


def initial_from(values: dict[str, Any]) -> dict[str, Any]:
    """Form initial data from stored values (dates ISO, booleans as words, lists split)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif v is None:
            out[k] = ""
        elif hasattr(v, "isoformat"):
            out[k] = v.isoformat()
        elif isinstance(v, float):
            out[k] = f"{v!r}" if not v.is_integer() else f"{v:g}"
        else:
            out[k] = v
    return out


#: Lab tests in the order of the day's-labs form (blood counts first, then chemistry).
LAB_DAY_ORDER = (
    "wbc", "anc", "alc", "hemoglobin", "platelets", "blasts_blood",
    "potassium", "phosphate", "calcium", "calcium_ionized", "uric_acid", "creatinine", "ldh",
    "sodium", "magnesium", "alt", "ast", "bilirubin", "alp", "ggt", "albumin",
    "fibrinogen", "inr", "aptt", "crp", "ferritin", "il6",
)  # fmt: skip


#: Group headings of the day's-labs form, at the first test of each group.
LAB_DAY_GROUPS = {
    "wbc": "Blood count",
    "potassium": "Tumour lysis panel and kidney",
    "sodium": "Electrolytes and liver",
    "fibrinogen": "Coagulation",
    "crp": "Inflammation (CRS work-up)",
}


def lab_day_tests() -> list[Any]:
    """Lab tests for the day's-labs form: the ordered ones, then any others in the catalogue."""
    tests = load_lab_tests()
    ordered = [tests[c] for c in LAB_DAY_ORDER if c in tests]
    return ordered + [t for c, t in tests.items() if c not in LAB_DAY_ORDER]
