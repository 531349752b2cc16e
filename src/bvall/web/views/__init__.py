"""Views: thin functions that parse a request, call the store or the derived panels, render."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from bvall.store import access
from bvall.store.models import COHORT_MODELS


def get_patient(request: HttpRequest, pid: str) -> Any:
    """The patient ``pid`` if the user may see it; 404 otherwise (same answer as 'no such')."""
    patient = (
        access.visible_patients(request.user).filter(patient_id=pid).select_related("site").first()
    )
    if patient is None:
        raise Http404(f"No patient {pid!r} that you may see.")
    return patient


def get_record(request: HttpRequest, table: str, pk: int) -> Any:
    if table not in COHORT_MODELS:
        raise Http404(f"No table {table!r}.")
    obj = access.visible(request.user, table).filter(pk=pk).first()
    if obj is None:
        raise Http404(f"No {table} record {pk} that you may see.")
    return obj
