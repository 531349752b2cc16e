"""Template context every page gets: the study's metadata (synthetic banner) and the user's role."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def study(request: HttpRequest) -> dict[str, Any]:
    from bvall.store import access
    from bvall.store.convert import study_metadata

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"study": None, "role": None, "perms_bvall": {}}
    role = access.role_of(user)
    crossings = []
    if role in ("admin", "investigator"):
        from bvall.store.models import MonitoringEvent

        crossings = list(
            MonitoringEvent.objects.filter(plan__active=True).select_related("plan")[:5]
        )
    return {
        "monitoring_crossings": crossings,
        "study": study_metadata(cached=True),
        "role": role,
        "perms_bvall": access.permissions(user),
    }
