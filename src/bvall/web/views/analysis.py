"""The analysis and trial-monitoring pages: data on file, and the engines' slots."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bvall.store import access
from bvall.store.models import COHORT_MODELS
from bvall.web import derived


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
    return render(
        request,
        "bvall/analysis.html",
        {
            "title": "Analysis",
            "counts": counts,
            "arms": arms,
            "sites": sites,
            "analysis": derived.analysis_panel(),
            "report": derived.report_panel(),
            "engines": derived.engines_status(),
        },
    )


@login_required
def monitoring_page(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "analysis")
    return render(
        request,
        "bvall/monitoring.html",
        {"title": "Trial monitoring", "panel": derived.trial_monitoring_panel()},
    )
