"""Data entry: a day's labs in one form, one record of any table, edits and deletions.

Every save goes through :mod:`bvall.store.records` (validation, reason, version, audit); the
problems it reports are shown at the fields they concern.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from bvall.cohort import TABLES, vocabulary
from bvall.cohort.reference import default_range, load_reference_ranges
from bvall.errors import EditConflict, InputError
from bvall.store import access, records
from bvall.store.convert import attnames, record_values
from bvall.store.models import Lab
from bvall.web.forms import LAB_DAY_GROUPS, initial_from, lab_day_tests, record_form_class
from bvall.web.views import get_patient, get_record

_TITLES = {t: t.replace("_", " ") for t in TABLES}


def after_save(pid: str, anchor: str = "") -> str:
    """The patient page shown to the user who has just saved (every page derives the data as
    they are, so it shows the grades and alerts of the new values)."""
    return reverse("patient", args=[pid]) + anchor


def _back(table: str, obj: Any) -> str:
    if table == "patients":
        return after_save(obj.patient_id)
    pid = getattr(obj, "patient_id", None)
    return after_save(pid) if pid else reverse("cohort")


def _save_form(request: HttpRequest, form: Any, action: Any) -> Any:
    """Run ``action``; on problems attach them to the form and return None."""
    try:
        return action()
    except records.RecordProblems as exc:
        form.add_problems(exc.field_problems(0) if exc.rows else {}, exc.other_problems())
    except InputError as exc:
        form.add_error(None, str(exc))
    return None


@login_required
def new_patient(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "edit")
    form_class = record_form_class("patients")
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        values = form.values()
        saved = _save_form(
            request,
            form,
            lambda: records.create_record(
                request.user, "patients", values, form.cleaned_data["reason"]
            ),
        )
        if saved:
            messages.success(request, f"Patient {values['patient_id']} recorded.")
            return redirect(after_save(values["patient_id"]))
    return render(
        request,
        "bvall/record_form.html",
        {"form": form, "title": "New patient", "table": "patients", "cancel": reverse("cohort")},
    )


@login_required
def new_record(request: HttpRequest, pid: str, table: str) -> HttpResponse:
    access.require(request.user, "edit")
    if table not in TABLES or table in ("patients", "provenance"):
        raise Http404(f"No table {table!r} to add to.")
    patient = get_patient(request, pid)
    form_class = record_form_class(table, exclude=("patient_id",))
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        values = {**form.values(), "patient_id": pid}
        saved = _save_form(
            request,
            form,
            lambda: records.create_record(request.user, table, values, form.cleaned_data["reason"]),
        )
        if saved:
            messages.success(request, f"{_TITLES[table].capitalize()} record saved for {pid}.")
            return redirect(after_save(pid))
    return render(
        request,
        "bvall/record_form.html",
        {
            "form": form,
            "title": f"New {_TITLES[table]} record",
            "table": table,
            "patient": patient,
            "cancel": reverse("patient", args=[pid]),
        },
    )


@login_required
def edit_record(request: HttpRequest, table: str, pk: int) -> HttpResponse:
    access.require(request.user, "edit")
    obj = get_record(request, table, pk)
    exclude = () if table in ("patients", "provenance") else ("patient_id",)
    form_class = record_form_class(table, exclude=exclude)
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            values = form.values()
            if table not in ("patients", "provenance"):
                values["patient_id"] = obj.patient_id
            version = form.cleaned_data.get("version") or 0
            try:
                saved = _save_form(
                    request,
                    form,
                    lambda: records.update_record(
                        request.user,
                        table,
                        pk,
                        values,
                        version=version,
                        reason=form.cleaned_data["reason"],
                    ),
                )
            except EditConflict as exc:
                return _conflict(request, table, pk, exc, form_class)
            if saved:
                messages.success(
                    request,
                    f"{_TITLES[table].capitalize()} record {pk} saved (version {saved.version}).",
                )
                return redirect(_back(table, obj))
    else:
        form = form_class(initial={**initial_from(record_values(obj)), "version": obj.version})
    return render(
        request,
        "bvall/record_form.html",
        {
            "form": form,
            "title": f"Edit {_TITLES[table]} record {pk}",
            "table": table,
            "obj": obj,
            "editing": True,
            "cancel": _back(table, obj),
        },
    )


def _conflict(
    request: HttpRequest, table: str, pk: int, exc: EditConflict, form_class: Any
) -> HttpResponse:
    """Both versions side by side, and the editor's values ready to re-apply on the saved one."""
    cols = attnames(table)
    current = exc.current
    rows = []
    for c in cols:
        mine = exc.yours.get(c)
        theirs = current.get(c)
        mine_s = "" if mine is None else str(mine)
        theirs_s = (
            ""
            if theirs is None
            else (
                theirs.isoformat()
                if hasattr(theirs, "isoformat")
                else f"{theirs:g}"
                if isinstance(theirs, float)
                else str(theirs)
            )
        )
        if c in exc.yours:
            rows.append(
                {"column": c, "saved": theirs_s, "yours": mine_s, "differs": mine_s != theirs_s}
            )
    form = form_class(
        initial={
            **{k: ("" if v is None else v) for k, v in exc.yours.items()},
            "version": current.get("version"),
            "reason": request.POST.get("reason", ""),
        }
    )
    return render(
        request,
        "bvall/conflict.html",
        {
            "table": table,
            "pk": pk,
            "rows": rows,
            "current": current,
            "exc": exc,
            "form": form,
            "title": f"Edit conflict: {_TITLES[table]} record {pk}",
        },
        status=409,
    )


@login_required
def delete_record(request: HttpRequest, table: str, pk: int) -> HttpResponse:
    access.require(request.user, "edit")
    obj = get_record(request, table, pk)
    error = None
    if request.method == "POST":
        try:
            version = int(request.POST.get("version", "0"))
            records.delete_record(
                request.user, table, pk, version=version, reason=request.POST.get("reason", "")
            )
        except EditConflict as exc:
            error = str(exc)
        except records.RecordProblems as exc:
            error = "Deleting this record would leave the data inconsistent: " + "; ".join(
                p.message for p in exc.problems[:10]
            )
        except (InputError, ValueError) as exc:
            error = str(exc)
        else:
            messages.success(
                request, f"{_TITLES[table].capitalize()} record {pk} deleted; its history is kept."
            )
            return redirect(_back(table, obj) if table != "patients" else reverse("cohort"))
    values = [(c, v) for c, v in record_values(obj).items() if v is not None]
    return render(
        request,
        "bvall/delete.html",
        {
            "obj": obj,
            "table": table,
            "values": values,
            "error": error,
            "cancel": _back(table, obj),
            "title": f"Delete {_TITLES[table]} record {pk}",
        },
    )


#: Qualifiers a lab value may carry: the cohort's ``lab_qualifier`` vocabulary.
QUALIFIERS = list(vocabulary("lab_qualifier").codes)
_LAB_FIELDS = ("value", "unit", "qualifier", "ref_low", "ref_high")


def _last_lab_settings(pid: str) -> dict[str, dict[str, Any]]:
    """Unit and reference range last used per test for this patient (to prefill the form)."""
    out: dict[str, dict[str, Any]] = {}
    for test, unit, lo, hi in (
        Lab.objects.filter(patient_id=pid)
        .order_by("pk")
        .values_list("test", "unit", "ref_low", "ref_high")
    ):
        out[test] = {"unit": unit, "ref_low": lo, "ref_high": hi}
    return out


@login_required
def lab_day(request: HttpRequest, pid: str) -> HttpResponse:
    """One day's labs of one patient in a single form, saved together (all or none)."""
    access.require(request.user, "edit")
    patient = get_patient(request, pid)
    tests = lab_day_tests()
    last = _last_lab_settings(pid)
    post = request.POST if request.method == "POST" else None
    when = {k: (post.get(k, "").strip() if post else "") for k in ("date", "study_day", "time")}
    reason = post.get("reason", "") if post else ""
    ranges = load_reference_ranges(Path(settings.HOME))
    lines = []
    for t in tests:
        prev = last.get(t.code, {})
        entered = {
            f: (post.get(f"{f}_{t.code}", "").strip() if post else "")
            for f in ("value", "unit", "qualifier", "ref_low", "ref_high")
        }
        if not post:
            entered["unit"] = prev.get("unit") or t.canonical_unit
            entered["ref_low"] = "" if prev.get("ref_low") is None else f"{prev['ref_low']:g}"
            entered["ref_high"] = "" if prev.get("ref_high") is None else f"{prev['ref_high']:g}"
        lines.append(_lab_line(t, entered, default=_default(ranges, t, patient, entered)))
    general: list[str] = []
    if post is not None:
        filled = [ln for ln in lines if ln["entered"]["value"] or ln["entered"]["qualifier"]]
        rows = []
        defaulted: dict[str, list[str]] = {}
        for ln in filled:
            e = ln["entered"]
            low, high = e["ref_low"] or None, e["ref_high"] or None
            # a range left empty takes the catalogue's default (said in the message); a range
            # typed, even half of one, is kept as typed
            if low is None and high is None and ln["default"]:
                low, high = ln["default"]["low"], ln["default"]["high"]
                defaulted.setdefault(ln["default"]["origin"], []).append(ln["test"].name)
            rows.append(
                {
                    "patient_id": pid,
                    "test": ln["test"].code,
                    "value": e["value"] or None,
                    "unit": e["unit"] or None,
                    "qualifier": e["qualifier"] or None,
                    "ref_low": low,
                    "ref_high": high,
                    "date": when["date"] or None,
                    "study_day": when["study_day"] or None,
                    "time": when["time"] or None,
                }
            )
        try:
            saved = records.create_records(request.user, "labs", rows, reason)
        except records.RecordProblems as exc:
            for i, ln in enumerate(filled):
                for col, problems in exc.field_problems(i).items():
                    for p in problems:
                        shown = "(missing)" if p.value is None else repr(p.value)
                        text = f"{col.replace('_', ' ')}: {shown}: expected {p.expected}"
                        if col in ("date", "study_day", "time", "timepoint"):
                            if text not in general:
                                general.append(text)
                        else:
                            ln["errors"].append(text)
            general += [p.message for p in exc.other_problems()]
        except InputError as exc:
            general.append(str(exc))
        else:
            n = len(saved)
            text = f"Saved {n} lab value{'' if n == 1 else 's'} for {pid}."
            for origin, names in defaulted.items():
                text += f" Reference range left empty, taken from {origin}: {', '.join(names)}."
            messages.success(request, text)
            return redirect(after_save(pid, "#labs"))
    return render(
        request,
        "bvall/lab_day.html",
        {
            "patient": patient,
            "lines": lines,
            "when": when,
            "reason": reason,
            "general": general,
            "qualifiers": QUALIFIERS,
            "title": f"Day's labs: {pid}",
        },
    )


def _default(ranges: Any, t: Any, patient: Any, entered: dict[str, str]) -> dict[str, str] | None:
    """The default reference range of test ``t`` in the row's unit (shown as the inputs'
    placeholders; used when the range is left empty), or ``None``."""
    try:
        found = default_range(ranges, t.code, patient.sex, entered["unit"] or t.canonical_unit)
    except InputError:  # a unit the test does not accept: the save reports it
        return None
    if found is None:
        return None
    low, high, origin = found
    return {"low": f"{low:.6g}", "high": f"{high:.6g}", "origin": origin}


def _lab_line(
    t: Any, entered: dict[str, str], note: str = "", default: dict[str, str] | None = None
) -> dict[str, Any]:
    """One test's row of the day's-labs form (the entered unit first among the units)."""
    units = (
        list(dict.fromkeys([entered["unit"], *t.accepted_units]))
        if entered["unit"]
        else list(t.accepted_units)
    )
    return {
        "test": t,
        "units": units,
        "entered": entered,
        "errors": [],
        "note": note,
        "default": default,
        "group": LAB_DAY_GROUPS.get(t.code, ""),
    }


def convert_range(t: Any, text: str, from_unit: str, to_unit: str) -> tuple[str, bool]:
    """The text of a reference limit typed in ``from_unit``, expressed in ``to_unit``
    (:meth:`bvall.cohort.units.LabTest.convert`), six significant digits; text that is not a
    number is returned unchanged with ``False``."""
    if not text:
        return text, True
    try:
        value = float(text)
    except ValueError:
        return text, False
    return f"{t.convert(value, from_unit, to_unit):.6g}", True


@login_required
def lab_day_row(request: HttpRequest, pid: str, test: str) -> HttpResponse:
    """One row of the day's-labs form after its unit was changed (htmx): the reference range,
    typed or offered in the row's previous unit, is converted to the new one, since one unit
    applies to the value and its range; the row says so. The value is left as typed."""
    access.require(request.user, "edit")
    patient = get_patient(request, pid)
    tests = {t.code: t for t in lab_day_tests()}
    if test not in tests:
        raise Http404(f"No lab test {test!r}.")
    t = tests[test]
    entered = {f: request.GET.get(f"{f}_{test}", "").strip() for f in _LAB_FIELDS}
    before = request.GET.get(f"range_unit_{test}", "").strip()
    note = ""
    if before and entered["unit"] and before != entered["unit"]:
        try:
            converted = {
                f: convert_range(t, entered[f], before, entered["unit"])
                for f in ("ref_low", "ref_high")
            }
        except InputError as exc:  # a unit the test does not accept: leave the range as typed
            note = f"Reference range not converted: {exc}"
        else:
            kept = [entered[f] for f, (_, ok) in converted.items() if not ok]
            entered.update({f: text for f, (text, _) in converted.items()})
            if any(entered[f] for f in ("ref_low", "ref_high")):
                note = f"Reference range converted from {before} to {entered['unit']}."
            if kept:
                note += " Not converted (not a number): " + ", ".join(repr(k) for k in kept) + "."
    return render(
        request,
        "bvall/_lab_day_row.html",
        {
            "patient": patient,
            "ln": _lab_line(
                t,
                entered,
                note.strip(),
                _default(load_reference_ranges(Path(settings.HOME)), t, patient, entered),
            ),
            "qualifiers": QUALIFIERS,
        },
    )
