"""Acknowledging an alert from the patient page (the store decides who may)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from bvall.errors import InputError
from bvall.store.alerts import acknowledge_alert


@login_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        ack = acknowledge_alert(request.user, pk, request.POST.get("note", ""))
    except InputError as exc:
        if str(exc).startswith("No alert"):
            raise Http404(str(exc)) from exc
        messages.error(request, str(exc))
        return redirect("cohort")
    messages.success(request, f"Alert acknowledged: {ack.alert.text}.")
    return redirect(reverse("patient", args=[ack.alert.patient_id]) + "#alerts")
