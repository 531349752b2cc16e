"""The patient page: observed data, lab charts, timeline, open alerts and the derived panels."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from bvall.cohort import TABLES, load_lab_tests
from bvall.errors import UnknownUnitError
from bvall.store import access
from bvall.store.alerts import alert_row, alert_token, visible_alerts
from bvall.store.convert import attnames, count_rows, patient_records
from bvall.web import bedside, derivations, panels, rendered
from bvall.web.charts import Mark, Point, Span, render_lab_chart, render_timeline
from bvall.web.course_chart import (
    CourseData,
    DoseDay,
    LabLane,
    MarrowMark,
    episodes_from,
    render_course_chart,
)
from bvall.web.jinja import render_html
from bvall.web.views import get_patient
from bvall.web.views.cohort import study_day

#: Sections of the page in order: (table, title, open by default)
SECTIONS = (
    ("dose_administrations", "Doses given", True),
    ("marrow_assessments", "Marrow results and reported response", True),
    ("adverse_events", "Adverse events as reported", True),
    ("follow_up_events", "Follow-up events", True),
    ("treatment_courses", "Treatment courses", False),
    ("vitals", "Vital signs and organ support", False),
    ("neuro_assessments", "Neurological assessments", False),
    ("concomitant_medications", "Concomitant medications", False),
    ("transfusions", "Transfusions", False),
    ("genetic_findings", "Genetic findings", False),
    ("reported_summaries", "Reported summaries", False),
    ("labs", "All lab records", False),
    ("provenance", "Provenance of transcribed values", False),
)
CHARTED = ("anc", "platelets", "hemoglobin", "wbc")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _section(
    table: str, title: str, opened: bool, objs: list[Any], can_edit: bool, pid: str
) -> dict[str, Any]:
    """One table of the patient's record; closed sections get their rows when first opened."""
    cols = [c for c in attnames(table) if c != "patient_id"]
    used = [c for c in cols if any(getattr(o, c) is not None for o in objs)]
    edit = reverse("edit_record", args=[table, 0])
    history = reverse("audit") + f"?table={table}&record="
    return {
        "table": table,
        "title": title,
        "open": opened,
        "count": len(objs),
        "description": TABLES[table].description,
        "columns": [c.replace("_", " ") for c in used],
        "rows": [
            {
                "pk": o.pk,
                "cells": [_cell(getattr(o, c)) for c in used],
                "edit": edit.replace("/0/", f"/{o.pk}/"),
                "history": f"{history}{o.pk}",
            }
            for o in objs
        ]
        if opened
        else [],
        "lazy": "" if opened else reverse("patient_section", args=[pid, table]),
        "can_add": can_edit and table != "provenance",
        "pid": pid,
    }


@login_required
def patient_section(request: HttpRequest, pid: str, table: str) -> HttpResponse:
    """The rows of one table of a patient's record (htmx, when a closed section opens)."""
    access.require(request.user, "view")
    get_patient(request, pid)
    titles = {t: title for t, title, _ in SECTIONS}
    if table not in titles:
        raise Http404(f"No section {table!r}.")
    objs = patient_records(table, pid)
    s = _section(table, titles[table], True, objs, access.can(request.user, "edit"), pid)
    perms = access.permissions(request.user)
    return HttpResponse(render_html("bvall/section_body.html", {"s": s, "perms": perms}))


def first_induction_day(courses: list[Any]) -> dt.date | None:
    """D1: the start of the first induction course with a recorded date (as on the cohort list)."""
    dated = [c for c in courses if c.course_type == "induction" and c.start_date is not None]
    dated.sort(key=lambda c: (c.course_number is None, c.course_number or 0, c.start_date, c.pk))
    return dated[0].start_date if dated else None


def _day_of(lab: Any, d1: dt.date | None) -> int | None:
    if lab.study_day is not None:
        return int(lab.study_day)
    if lab.date is not None and d1 is not None:
        return (lab.date - d1).days + 1
    return None


def _when(lab: Any) -> str:
    if lab.study_day is not None:
        return f"D{lab.study_day}" + (f" {lab.time}" if lab.time else "")
    if lab.date is not None:
        return lab.date.isoformat() + (f" {lab.time}" if lab.time else "")
    return lab.timepoint or "?"


def _lab_panels(
    labs: list[Any],
    d1: dt.date | None,
    bands: dict[str, list[tuple[int, float | None, float | None]]] | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """Charts of the key counts (canonical units) and a pivot of the latest values as entered."""
    tests = load_lab_tests()
    by_test: dict[str, list[Any]] = defaultdict(list)
    for lab in labs:
        by_test[lab.test].append(lab)
    charts: list[str] = []
    series: dict[str, list[tuple[int, float, str]]] = {}
    for code in [*CHARTED, *sorted(c for c in by_test if c not in CHARTED)]:
        rows = by_test.get(code, [])
        test = tests.get(code)
        if test is None:
            continue
        points, refs = [], set()
        for lab in rows:
            day = _day_of(lab, d1)
            if day is None:
                continue
            try:
                f = test.factor(lab.unit)
            except UnknownUnitError:
                continue
            q = lab.qualifier or ""
            points.append(Point(day, lab.value * f, f"{_when(lab)}: {q}{lab.value:g} {lab.unit}"))
            series.setdefault(code, []).append((day, lab.value * f, f"{q}{lab.value:g} {lab.unit}"))
            refs.add(
                (
                    None if lab.ref_low is None else lab.ref_low * f,
                    None if lab.ref_high is None else lab.ref_high * f,
                )
            )
        if points:
            ref = refs.pop() if len(refs) == 1 else (None, None)
            if len(charts) < 12:
                charts.append(
                    mark_safe(
                        render_lab_chart(
                            points,
                            test.name,
                            test.canonical_unit,
                            ref,
                            bands=(bands or {}).get(code, ()),
                        )
                    )
                )
    # pivot: columns = the 10 latest time points
    keyed = sorted(
        {
            (_day_of(lab, d1) if _day_of(lab, d1) is not None else -10_000, _when(lab))
            for lab in labs
        }
    )
    whens = [w for _, w in keyed][-10:]
    pivot_rows = []
    for code, rows in sorted(by_test.items(), key=lambda kv: (kv[0] not in CHARTED, kv[0])):
        cells = {}
        for lab in rows:
            w = _when(lab)
            if w in whens:
                cells[w] = {
                    "text": f"{lab.qualifier or ''}{lab.value:g}",
                    "unit": lab.unit,
                    "pk": lab.pk,
                }
        if cells:
            units = {c["unit"] for c in cells.values()}
            pivot_rows.append(
                {
                    "test": code,
                    "name": tests[code].name if code in tests else code,
                    "unit": units.pop() if len(units) == 1 else "",
                    "cells": [cells.get(w) for w in whens],
                }
            )
    return charts, {"whens": whens, "rows": pivot_rows, "series": series}


def _timeline(objs: dict[str, list[Any]], d1: dt.date | None) -> str:
    spans, marks = [], []
    for c in objs["treatment_courses"]:
        if c.start_date and c.end_date and d1:
            spans.append(
                Span(
                    (c.start_date - d1).days + 1,
                    (c.end_date - d1).days + 1,
                    c.course_id,
                    c.course_type,
                )
            )
    for e in objs["follow_up_events"]:
        day = (
            e.study_day
            if e.study_day is not None
            else ((e.date - d1).days + 1 if e.date and d1 else None)
        )
        if day is not None:
            marks.append(Mark(int(day), e.event.replace("_", " "), e.event))
    return mark_safe(render_timeline(spans, marks)) if (spans or marks) else ""


def _split_grades(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The grades panel's rows: alerts and latest grades of 1 or more shown; grade 0 behind a
    disclosure (normal values are not listed by default)."""
    out: dict[str, list[dict[str, Any]]] = {"alerts": [], "abnormal": [], "normal": []}
    for r in rows:
        key = "alerts" if r.get("alert") else "normal" if r["value"] == "grade 0" else "abnormal"
        out[key].append(r)
    return out


def _course_chart(
    objs: dict[str, list[Any]],
    series: dict[str, list[tuple[int, float, str]]],
    bands: dict[str, list[tuple[int, float | None, float | None]]],
    panels: dict[str, Any],
    d: Any,
    today: int | None,
) -> str:
    tests = load_lab_tests()
    labs = [
        LabLane(
            name,
            tests[code].canonical_unit if code in tests else "",
            [Point(day, v, f"D{day}: {entered}") for day, v, entered in series.get(code, [])],
            bands.get(code, ()),
        )
        for code, name in bedside.TREND_TESTS[:3]
    ]
    plan = panels["plan_vs_doses"]
    doses = [
        DoseDay(int(r["day"]), r["agent"], r["planned"], r["given"], r["unit"], r["category"])
        for r in (plan.details if plan.available else [])
        if r["day"] is not None
    ]
    marrow = [
        MarrowMark(
            int(m.study_day),
            " · ".join(
                str(v)
                for v in (
                    m.timepoint,
                    None if m.blasts_percent is None else f"blasts {m.blasts_percent:g} %",
                )
                if v
            ),
        )
        for m in objs["marrow_assessments"]
        if m.study_day is not None
    ]
    data = CourseData(labs, doses, episodes_from(d.crs, d.icans), marrow, today)
    return mark_safe(render_course_chart(data))


@login_required
def patient_page(request: HttpRequest, pid: str) -> HttpResponse:
    """The patient's data with what the engines derive from them, both of the same data: a save
    that lands while the page is read makes it read both again
    (:func:`bvall.web.derivations.read_consistent`).

    The body is rendered once per state of the patient (:mod:`bvall.web.rendered`): the data
    token and the alerts' token are read first, and a body kept under them is served as it is."""
    access.require(request.user, "view")
    patient = get_patient(request, pid)  # 404 before any work for a patient the user may not see
    body = mark_safe(rendered.with_csrf(_kept_or_rendered_body(request, pid), get_token(request)))
    return render(request, "bvall/patient.html", {"patient": patient, "body": body})


def _kept_or_rendered_body(request: HttpRequest, pid: str) -> str:
    """The body of ``pid``'s page for the request's user today, with
    :data:`rendered.CSRF_MARK` for the CSRF token: the one kept for the patient's state, else
    rendered and kept. The tokens are read before anything the body shows."""
    perms = access.permissions(request.user)
    today = timezone.localdate()
    token = derivations.patient_tokens([pid]).get(pid)
    alerts_at = alert_token(pid)
    if token is not None:
        body = rendered.kept_body(rendered.page_key(pid, token, alerts_at, perms, today)[0])
        if body is not None:
            return body
    body, token = _body(request, pid, perms, today)
    key, data_key = rendered.page_key(pid, token, alerts_at, perms, today)
    rendered.keep_body(key, data_key, pid, body)
    return body


def _body(
    request: HttpRequest, pid: str, perms: dict[str, bool], today: dt.date
) -> tuple[str, tuple[Any, ...]]:
    """The body of the patient page, with :data:`rendered.CSRF_MARK` where the viewer's CSRF
    token goes, and the data token of the data it shows."""
    can_edit = perms["edit"]
    # rows of the open sections and of what the charts and timeline need; counts for the rest
    needed = {t for t, _, o in SECTIONS if o} | {"labs", "treatment_courses", "genetic_findings"}
    needed |= {"follow_up_events", "marrow_assessments"}

    def read(_: derivations.Current) -> dict[str, Any]:
        return {
            "patient": get_patient(request, pid),
            "objs": {t: patient_records(t, pid) for t in needed},
            "counts": count_rows(pid, [t for t in TABLES if t not in needed and t != "patients"]),
            "alerts": [
                alert_row(a) for a in visible_alerts(request.user, patient=pid, state="open")
            ],
        }

    current, data = derivations.read_consistent([pid], read)
    patient, objs, counts = data["patient"], data["objs"], data["counts"]
    d1 = first_induction_day(objs["treatment_courses"])
    add_url = reverse("new_record", args=[pid, "_table_"])
    d = current.derivations
    bands = panels.lab_grade_bands(d)
    by_test: dict[str, list[tuple[int, float | None, float | None]]] = defaultdict(list)
    for b in bands.rows:
        by_test[b["test"]].append((b["grade"], b["low"], b["high"]))
    charts, pivot = _lab_panels(objs["labs"], d1, by_test)
    shown = panels.patient_panels(pid, d)
    status, due = bedside.derive_status(
        objs["treatment_courses"],
        objs["follow_up_events"],
        today,
        patient.arm,
        d.deviations.plans,
    )
    grades_panel = shown["grades_alerts"]
    attention = bedside.list_attention(grades_panel.rows, d.crs, d.icans, d.tls, data["alerts"])
    trend = bedside.summarise_counts(pivot["series"], d.grades)
    course = _course_chart(objs, pivot["series"], by_test, shown, d, status.day)
    sections = []
    for t, title, is_open in SECTIONS:
        s = _section(t, title, is_open, objs.get(t, []), can_edit, pid)
        if t in counts:
            s["count"] = counts[t]
        sections.append(s)
    context = {
        "patient": patient,
        "d1": d1,
        "day": study_day(d1, today),
        "status": status,
        "due": due,
        "attention": attention,
        "counts": trend,
        "course_chart": course,
        "grade_rows": _split_grades(grades_panel.rows),
        "today": today,
        "charts": charts,
        "pivot": pivot,
        "bands": bands,
        "panels": shown,
        "open_alerts": data["alerts"],
        "can_acknowledge": can_edit,
        "csrf_token": mark_safe(rendered.CSRF_MARK),
        "perms": perms,
        "timeline": _timeline(objs, d1),
        "sections": sections,
        "lesions": [g.lesion for g in objs["genetic_findings"]],
        "can_edit": can_edit,
        "add_links": [
            (t.replace("_", " ").capitalize(), add_url.replace("/_table_/", f"/{t}/"))
            for t in TABLES
            if t not in ("patients", "provenance")
        ],
        "patient_fields": [
            (c.replace("_", " "), _cell(getattr(patient, c)))
            for c in attnames("patients")
            if c not in ("patient_id",) and getattr(patient, c) is not None
        ],
    }
    return str(render_html("bvall/patient_body.html", context)), current.tokens[pid]
