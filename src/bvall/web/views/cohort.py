"""The cohort list: one row per patient the user may see."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from bvall.criteria.alerts import ALERT_RULES
from bvall.store import access
from bvall.store.alerts import alert_row, newest_open_alerts
from bvall.store.models import (
    AdverseEvent,
    FollowUpEvent,
    Lab,
    MarrowAssessment,
    TreatmentCourse,
)
from bvall.web import bedside

#: Open alerts named on the patient list (the newest raised); the rest are counted.
LIST_ALERTS = 3

_MRD = {
    "negative": "MRD−",
    "positive": "MRD+",
    "positive_below_quantification": "MRD+ (<LOQ)",
    "not_evaluable": "MRD n/e",
}


def study_day(d1: dt.date | None, today: dt.date) -> int | None:
    """Study day of ``today`` for induction D1 ``d1`` (D1 = 1, the day before = 0)."""
    return None if d1 is None else (today - d1).days + 1


def induction_d1(patient_ids: list[str]) -> dict[str, dt.date]:
    """First day of each patient's first induction course (when its date is recorded)."""
    out: dict[str, dt.date] = {}
    rows = (
        TreatmentCourse.objects.filter(patient_id__in=patient_ids, course_type="induction")
        .exclude(start_date=None)
        .order_by(F("course_number").asc(nulls_last=True), "start_date", "pk")
        .values_list("patient_id", "start_date")
    )
    for pid, start in rows:
        out.setdefault(pid, start)
    return out


def marrow_text(m: dict[str, Any]) -> str:
    parts = [m["response_reported"]] if m["response_reported"] else []
    if m["mrd_status"]:
        parts.append(_MRD.get(m["mrd_status"], m["mrd_status"]))
    return ", ".join(parts)


def reported_response(patient_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The latest marrow with a reported response or MRD result, per patient."""
    order = {"diagnosis": 0, "d14_21": 1, "pre_consolidation": 2, "follow_up": 3, "relapse": 4}
    best: dict[str, tuple[Any, ...]] = {}
    out: dict[str, dict[str, Any]] = {}
    for m in MarrowAssessment.objects.filter(patient_id__in=patient_ids).values(
        "patient_id", "timepoint", "date", "study_day", "response_reported", "mrd_status", "pk"
    ):
        if not (m["response_reported"] or m["mrd_status"]):
            continue
        key = (
            order.get(m["timepoint"], 5),
            m["date"] or dt.date.min,
            m["study_day"] or -999,
            m["pk"],
        )
        if m["patient_id"] not in best or key > best[m["patient_id"]]:
            best[m["patient_id"]] = key
            out[m["patient_id"]] = {"text": marrow_text(m), "timepoint": m["timepoint"]}
    return out


@login_required
def cohort_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "view")
    q = request.GET.get("q", "").strip()
    patients = access.visible_patients(request.user).select_related("site").order_by("patient_id")
    if q:
        patients = patients.filter(patient_id__icontains=q)
    plist = list(patients)
    ids = [p.patient_id for p in plist]
    today = timezone.localdate()
    d1 = induction_d1(ids)
    response = reported_response(ids)
    aes = dict(
        AdverseEvent.objects.filter(patient_id__in=ids)
        .values("patient_id")
        .annotate(n=Count("pk"))
        .values_list("patient_id", "n")
    )
    last_lab: dict[str, Any] = defaultdict(lambda: None)
    for pid, last_date, last_day in (
        Lab.objects.filter(patient_id__in=ids)
        .values("patient_id")
        .annotate(d=Max("date"), s=Max("study_day"))
        .values_list("patient_id", "d", "s")
    ):
        last_lab[pid] = (
            last_date.isoformat()
            if last_date
            else (f"D{last_day}" if last_day is not None else "baseline")
        )
    statuses = bedside.derive_statuses(
        list(TreatmentCourse.objects.filter(patient_id__in=ids)),
        list(FollowUpEvent.objects.filter(patient_id__in=ids)),
        {p.patient_id: p.arm for p in plist},
        today,
    )
    # stored alerts (raised with the save of each value, open until acknowledged): the newest
    # raised first, what nobody has seen yet; the rest are counted
    alerts = newest_open_alerts(request.user, ids, LIST_ALERTS)
    rows = [
        {
            "p": p,
            "alerts": [alert_row(a) for a in alerts.get(p.patient_id, (0, []))[1]],
            "alerts_open": alerts.get(p.patient_id, (0, []))[0],
            "d1": d1.get(p.patient_id),
            "day": study_day(d1.get(p.patient_id), today),
            "status": statuses[p.patient_id],
            "response": response.get(p.patient_id),
            "aes": aes.get(p.patient_id, 0),
            "last_lab": last_lab[p.patient_id],
        }
        for p in plist
    ]
    context = {
        "rows": rows,
        "q": q,
        "today": today,
        "alert_rules": ALERT_RULES.values(),
        "sites": access.site_codes(request.user),
    }
    template = (
        "bvall/_cohort_rows.html" if request.headers.get("HX-Request") else "bvall/cohort.html"
    )
    return render(request, template, context)
