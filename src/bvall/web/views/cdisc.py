"""CDISC download: the SDTM and ADaM datasets of the patients a user may see, as a ZIP."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from bvall.errors import BvallError
from bvall.store import access

log = logging.getLogger("bvall.web.cdisc")

#: Patient-level export for the people who analyse the study (monitors see tables only).
CDISC_ROLES = ("admin", "investigator")


@login_required
def cdisc_download(request: HttpRequest) -> HttpResponse:
    """``bvall cdisc export`` of the visible patients (XPT, Dataset-JSON, define.xml) as a ZIP."""
    access.require(request.user, "analysis")
    if access.role_of(request.user) not in CDISC_ROLES:
        raise access.PermissionDenied("Only administrators and investigators export CDISC data.")
    from bvall.interop.cdisc import render_cdisc_zip
    from bvall.store.convert import read_database

    ids = access.visible_patient_ids(request.user)
    cohort = read_database(ids)
    try:
        data = render_cdisc_zip(cohort)
    except BvallError as exc:  # e.g. a non-ASCII verbatim term XPT v5 cannot hold
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    name = f"{cohort.name}-cdisc-{timezone.now():%Y%m%d}.zip"
    log.info(
        "cdisc export downloaded by %s: %d patient(s), %s", request.user.username, len(ids), name
    )
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
