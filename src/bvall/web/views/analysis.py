"""The analysis and trial-monitoring pages: data on file, and the engines' slots."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from bvall.store import access
from bvall.store.models import COHORT_MODELS, MonitoringEvent
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
    panel = derived.trial_monitoring_panel()
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
