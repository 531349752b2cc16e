"""The analysis page (live study tables and figures, report download) and trial monitoring."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from bvall.errors import BvallError
from bvall.store import access
from bvall.store.models import COHORT_MODELS, MonitoringEvent
from bvall.web import live, monitoring
from bvall.web.jinja import render_html
from bvall.web.views.cdisc import CDISC_ROLES


@login_required
def analysis_page(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "analysis")
    patients = access.visible_patients(request.user)
    counts = [
        (t.replace("_", " "), access.visible(request.user, t).count())
        for t in COHORT_MODELS
        if t != "provenance"
    ]
    arms = list(patients.values("arm").annotate(n=Count("pk")).order_by("arm"))
    sites = list(patients.values("site_id").annotate(n=Count("pk")).order_by("site_id"))
    ids = list(patients.values_list("patient_id", flat=True))
    ci_method = request.GET.get("ci", "clopper-pearson")
    level = request.GET.get("level", "0.95")
    error = ""
    try:
        ci_method, lvl = live.check_analysis_settings(ci_method, level)
    except BvallError as exc:
        error = str(exc)
        ci_method, lvl = "clopper-pearson", 0.95
    panel = live.analysis_panel(ids, ci_method, lvl)
    report = live.report_panel(ids)
    from bvall.stats import BINOMIAL_METHODS

    return render(
        request,
        "bvall/analysis.html",
        {
            "title": "Analysis",
            "counts": counts,
            "arms": arms,
            "sites": sites,
            "analysis": panel,
            "live": panel.details[0]["live"] if panel.details else None,
            "tables": table_views(panel.details[0]["live"]) if panel.details else [],
            "figures": figure_views(panel.details[0]["live"]) if panel.details else [],
            "report": report,
            # shown in place of the tables, or of the downloads, when they are not available
            "analysis_html": "" if panel.details else render_html("bvall/panel.html", {"p": panel}),
            "report_html": ""
            if report.available
            else render_html("bvall/panel.html", {"p": report}),
            "ci_method": ci_method,
            "level": lvl,
            "ci_methods": BINOMIAL_METHODS,
            "levels": live.CI_LEVELS,
            "error": error,
            "query": urlencode({"ci": ci_method, "level": lvl}),
            "can_cdisc": access.role_of(request.user) in CDISC_ROLES,
        },
    )


log = logging.getLogger("bvall.web.report")


def table_views(la: Any) -> list[dict[str, Any]]:
    """The study tables for the page: each cell's printed text (with the report's mark on a
    reported value) and its sources as the hover text, exactly as the report prints them."""
    from bvall.report.content import cell_mark, cell_sources, table_caption, table_marks

    out = []
    for i, t in enumerate(la.analysis.tables, start=1):
        label, title = table_caption(i, t)
        out.append(
            {
                "id": t.id,
                "label": label,
                "title": title,
                "columns": t.columns,
                "rows": [
                    {
                        "label": r.label,
                        "heading": r.heading,
                        "indent": r.indent,
                        "cells": [
                            {
                                "text": c.text,
                                "mark": cell_mark(c),
                                "title": cell_sources(c),
                                "source": c.source,
                            }
                            for c in r.cells
                        ],
                    }
                    for r in t.rows
                ],
                "notes": [*t.notes, *table_marks(t)],
            }
        )
    return out


def figure_views(la: Any) -> list[dict[str, Any]]:
    """The figures as SVG images (data URIs, allowed by the page's content security policy)."""
    import base64

    return [
        {
            "id": f.id,
            "title": f.title,
            "caption": f.caption,
            "src": "data:image/svg+xml;base64,"
            + base64.b64encode(la.svgs[f.id].encode("utf-8")).decode("ascii"),
        }
        for f in la.figures
    ]


def report_response(user: Any, fmt: str, ci_method: str, level: Any) -> HttpResponse:
    """The report of the patients ``user`` may see, as an attachment (pages and API).

    The store keeps an audit trail of data changes (history tables) and of boundary crossings,
    but no access events; each download is logged (``bvall.web.report``: who, what, data hash).
    """
    ci_method, lvl = live.check_analysis_settings(ci_method, level)
    ids = access.visible_patient_ids(user)
    when = timezone.now()
    data, mime, name = live.render_report(
        ids, fmt, generated_at=when, ci_method=ci_method, level=lvl
    )
    log.info(
        "report %s downloaded by %s: %d patient(s), %s %s, %s",
        fmt,
        user.username,
        len(ids),
        ci_method,
        lvl,
        name,
    )
    response = HttpResponse(data, content_type=mime)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def report_download(request: HttpRequest, fmt: str) -> HttpResponse:
    """Download the report (HTML, PDF, DOCX, CSV tables as ZIP); every role that sees the
    analysis (monitors too) may."""
    access.require(request.user, "analysis")
    try:
        return report_response(
            request.user,
            fmt,
            request.GET.get("ci", "clopper-pearson"),
            request.GET.get("level", "0.95"),
        )
    except BvallError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")


@login_required
def monitoring_page(request: HttpRequest) -> HttpResponse:
    """Registered designs evaluated on the data; admins and investigators upload designs. A
    boundary crossing is recorded once in the audit trail (by whoever first sees it)."""
    import json

    from bvall.errors import BvallError
    from bvall.store.monitoring import record_crossings, register_plan

    access.require(request.user, "analysis")
    can_upload = access.role_of(request.user) in ("admin", "investigator")
    error = ""
    if request.method == "POST":
        if not can_upload:
            raise access.PermissionDenied("Only administrators and investigators add designs.")
        upload = request.FILES.get("design")
        try:
            if upload is None:
                raise BvallError("Choose a design file (bvall design ... --save FILE).")
            try:
                doc = json.loads(upload.read().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BvallError(f"{upload.name!r} is not a design file (JSON): {exc}.") from exc
            plan = register_plan(doc, name=request.POST.get("name") or None, user=request.user)
            messages.success(request, f"Registered monitoring plan {plan.name!r}.")
            return redirect("monitoring")
        except BvallError as exc:
            error = str(exc)
    panel = monitoring.trial_monitoring_panel()
    for row in panel.rows:
        for e in record_crossings(row["plan"], row["evaluation"], request.user):
            messages.error(
                request, f"Boundary crossed: {row['plan'].name}, look {e.look}: {e.message}"
            )
    events = list(MonitoringEvent.objects.select_related("plan", "user").order_by("-recorded")[:50])
    return render(
        request,
        "bvall/monitoring.html",
        {
            "title": "Trial monitoring",
            "panel": panel,
            "events": events,
            "can_upload": can_upload,
            "error": error,
        },
    )
