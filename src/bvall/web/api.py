"""The JSON API under ``/api/`` (django-ninja; OpenAPI schema at ``/api/openapi.json``).

Authentication: a bearer token (``Authorization: Bearer bvall_...``, created on the account page)
or the browser session (then CSRF applies to writes). Without either every call answers 401.
Rows come through the same access layer as the pages; a patient outside the caller's sites is
answered 404, exactly like one that does not exist. Writes go through the same validation,
reasons, versions and audit trail as the forms.
"""

from __future__ import annotations

import datetime as dt
import functools
import tempfile
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Min
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import File, Form, NinjaAPI, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from ninja.security import HttpBearer, django_auth

from bvall import __version__
from bvall.cohort import TABLES
from bvall.cohort.dates import complete_when
from bvall.errors import EditConflict, InputError, ValidationFailed
from bvall.store import access, records
from bvall.store.alerts import acknowledge_alert, alert_row, visible_alerts
from bvall.store.convert import record_values, study_metadata
from bvall.store.models import TreatmentCourse
from bvall.store.tokens import user_for_token
from bvall.web import derivations, live, panels
from bvall.web.views.audit import audit_entries
from bvall.web.views.cohort import induction_d1, reported_response
from bvall.web.views.importing import check_files, size_error


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
            request._bvall_token = True
        return user


def _schema_needs_login(view: Any) -> Any:
    """The OpenAPI schema is shown to logged-in users and token holders only."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        token_user = user_for_token(header[7:]) if header.startswith("Bearer ") else None
        if not request.user.is_authenticated and token_user is None:
            return JsonResponse({"detail": "Unauthorized"}, status=401)
        return view(request, *args, **kwargs)

    return wrapped


api = NinjaAPI(
    title="bvall API",
    version=__version__,
    description="Study database of venetoclax + blinatumomab induction: patients, records, "
    "audit trail, imports. Every write is validated, audited and needs a reason when it "
    "changes saved data.",
    auth=[TokenAuth(), django_auth],
    # Swagger UI from django-ninja's own static files ("ninja" in INSTALLED_APPS: no CDN)
    docs_url="/docs",
    docs_decorator=_schema_needs_login,
    urls_namespace="api",
)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    return v


def _row(obj: Any) -> dict[str, Any]:
    return {
        "id": obj.pk,
        "version": obj.version,
        **{k: _jsonable(v) for k, v in record_values(obj).items()},
    }


def _patient(request: HttpRequest, pid: str) -> Any:
    p = access.visible_patients(request.user).filter(patient_id=pid).first()
    if p is None:
        raise Http404(f"No patient {pid!r} that you may see.")
    return p


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Not allowed."}, status=403)


@api.exception_handler(ValidationFailed)
def _invalid(request: HttpRequest, exc: ValidationFailed) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": str(exc).splitlines()[0], "problems": [p.to_dict() for p in exc.problems]},
        status=422,
    )


@api.exception_handler(EditConflict)
def _conflict(request: HttpRequest, exc: EditConflict) -> HttpResponse:
    return api.create_response(
        request,
        {
            "detail": str(exc),
            "saved": {k: _jsonable(v) for k, v in exc.current.items()},
            "yours": {k: _jsonable(v) for k, v in exc.yours.items()},
        },
        status=409,
    )


@api.exception_handler(InputError)
def _bad(request: HttpRequest, exc: InputError) -> HttpResponse:
    status = 404 if str(exc).startswith("No ") else 400
    return api.create_response(request, {"detail": str(exc)}, status=status)


class RecordIn(Schema):
    values: dict[str, Any]
    reason: str = ""


class RecordUpdate(Schema):
    values: dict[str, Any]
    version: int
    reason: str


class RecordDelete(Schema):
    version: int
    reason: str


class LabDay(Schema):
    date: str | None = None
    study_day: int | None = None
    time: str | None = None
    labs: list[dict[str, Any]]
    reason: str = ""


@api.get("/me", summary="The caller: user name, role, sites and permissions")
def me(request: HttpRequest) -> dict[str, Any]:
    u = request.user
    return {
        "username": u.username,
        "role": access.role_of(u),
        "sites": access.site_codes(u),
        "all_sites": access.sees_all_sites(u),
        "permissions": {a: access.can(u, a) for a in access.PERMISSIONS},
        "study": study_metadata().to_dict(),
    }


@api.get("/patients", summary="Patients the caller may see, with arm, D1 and reported response")
def list_patients(request: HttpRequest) -> list[dict[str, Any]]:
    access.require(request.user, "view")
    patients = list(access.visible_patients(request.user).order_by("patient_id"))
    ids = [p.patient_id for p in patients]
    d1 = induction_d1(ids)
    resp = reported_response(ids)
    return [
        {
            **_row(p),
            "induction_d1": _jsonable(d1.get(p.patient_id)),
            "reported_response": (resp.get(p.patient_id) or {}).get("text"),
        }
        for p in patients
    ]


@api.get("/patients/{pid}", summary="One patient with every table's rows")
def get_patient(request: HttpRequest, pid: str) -> dict[str, Any]:
    access.require(request.user, "view")
    p = _patient(request, pid)
    tables = {
        t: [_row(o) for o in access.visible(request.user, t).filter(patient_id=pid).order_by("pk")]
        for t in TABLES
        if t != "patients"
    }
    return {"patient": _row(p), "tables": tables}


@api.get(
    "/patients/{pid}/derived/{panel}",
    summary="A derived panel (grades, episodes, response, plan)",
    response={200: dict[str, Any], 503: dict[str, Any]},
)
def get_derived(request: HttpRequest, pid: str, panel: str) -> Status[dict[str, Any]]:
    access.require(request.user, "view")
    _patient(request, pid)
    current = derivations.current_derivations([pid])  # of the data as they are now
    d = current.derivations
    found = {**panels.patient_panels(pid, d), "lab_grade_bands": panels.lab_grade_bands(d)}
    if panel not in found:
        raise InputError(f"No panel {panel!r}; a patient's panels: {', '.join(found)}.")
    result = found[panel]
    body = {
        "panel": panel,
        "title": result.title,
        "available": result.available,
        "detail": result.message,
        "rows": result.rows,
    }
    return Status(200 if result.available else 503, body)


@api.get("/tables/{table}", summary="Rows of one table (visible patients only)")
def list_rows(request: HttpRequest, table: str, patient: str | None = None) -> list[dict[str, Any]]:
    access.require(request.user, "view")
    if table not in TABLES:
        raise InputError(f"No table {table!r}; tables: {', '.join(TABLES)}.")
    qs = access.visible(request.user, table)
    if patient:
        qs = qs.filter(patient_id=patient)
    return [_row(o) for o in qs.order_by("pk")[:10_000]]


@api.post(
    "/tables/{table}",
    summary="Create one record (validated, audited)",
    response={201: dict[str, Any]},
)
def create(request: HttpRequest, table: str, body: RecordIn) -> Status[dict[str, Any]]:
    saved = records.create_record(request.user, table, body.values, body.reason)
    return Status(201, {"table": saved.table, "id": saved.pk, "version": saved.version})


@api.post(
    "/patients/{pid}/labs",
    summary="Save one day's labs together (all or none)",
    response={201: dict[str, Any]},
)
def lab_day(request: HttpRequest, pid: str, body: LabDay) -> Status[dict[str, Any]]:
    rows = [
        {
            **lab,
            "patient_id": pid,
            "date": body.date,
            "study_day": body.study_day,
            "time": body.time,
        }
        for lab in body.labs
    ]
    saved = records.create_records(request.user, "labs", rows, body.reason)
    # Saved as given; the missing one of date / study day is derived on reading (never stored,
    # so a corrected D1 cannot leave a stale copy behind) and shown here with how it was derived.
    start = TreatmentCourse.objects.filter(patient_id=pid, course_type="induction").aggregate(
        d1=Min("start_date")
    )["d1"]
    given = {
        "date": dt.date.fromisoformat(body.date.strip()) if body.date else None,
        "study_day": body.study_day,
    }
    date, day, note = complete_when(given, "date", "study_day", start)
    return Status(
        201,
        {
            "ids": [s.pk for s in saved],
            "date": _jsonable(date),
            "study_day": day,
            "derived": note or None,
        },
    )


@api.put(
    "/tables/{table}/{pk}",
    summary="Change a record: give the version you edited and a reason (409 on conflict)",
)
def update(request: HttpRequest, table: str, pk: int, body: RecordUpdate) -> dict[str, Any]:
    saved = records.update_record(
        request.user, table, pk, body.values, version=body.version, reason=body.reason
    )
    return {"table": saved.table, "id": saved.pk, "version": saved.version}


@api.delete(
    "/tables/{table}/{pk}",
    summary="Delete a record (its history is kept): version and reason required",
)
def delete(request: HttpRequest, table: str, pk: int, body: RecordDelete) -> dict[str, Any]:
    records.delete_record(request.user, table, pk, version=body.version, reason=body.reason)
    return {"deleted": True, "table": table, "id": pk}


@api.post(
    "/import",
    summary="Validate uploaded <table>.csv or <table>.parquet files or an .xlsx workbook; "
    "commit=true writes all or nothing. At most BVALL_IMPORT_MAX_MB per file and request (413 "
    "beyond); the first BVALL_IMPORT_MAX_PROBLEMS problems are listed, all are counted",
    response={200: dict[str, Any], 413: dict[str, Any]},
)
def import_files(
    request: HttpRequest,
    files: File[list[UploadedFile]],
    reason: Form[str] = "",
    commit: Form[bool] = False,
) -> Status[dict[str, Any]]:
    access.require(request.user, "import")
    error = size_error(list(files))
    if error is not None:
        return Status(413, {"detail": error})
    with tempfile.TemporaryDirectory(prefix="bvall-import-") as tmp:
        paths = []
        for f in files:
            path = Path(tmp) / Path(f.name or "upload").name
            with path.open("wb") as out:
                for chunk in f.chunks():
                    out.write(chunk)
            paths.append(path)
        report = check_files(paths, request.user, reason or "API import", commit)
    return Status(200, report.to_dict())


@api.post(
    "/fhir",
    summary="A FHIR R4 Bundle of lab Observations (body, JSON): checked against the caller's "
    "patients; commit=true writes its rows, all or none (audit reason: the bundle id)",
    response={200: dict[str, Any], 201: dict[str, Any], 422: dict[str, Any]},
)
def fhir_feed(request: HttpRequest, commit: bool = False) -> Status[dict[str, Any]]:
    from bvall.interop.fhir.feed import import_bundle

    outcome = import_bundle(
        request.body, user=request.user, today=dt.date.today(), commit=commit, label="body"
    )
    body = outcome.to_dict()
    if not outcome.ok:
        return Status(422, body)
    if outcome.committed:
        # the rows are written: their grades and alerts, derived now, are part of the answer
        pids = sorted({r.patient_id for r in outcome.result.labs})
        d = derivations.current_derivations(pids).derivations
        body["grades_alerts"] = {
            pid: panels.patient_panels(pid, d.only([pid]))["grades_alerts"].rows for pid in pids
        }
        body["open_alerts"] = {
            pid: [alert_row(a) for a in visible_alerts(request.user, patient=pid, state="open")]
            for pid in pids
        }
        return Status(201, body)
    return Status(200, body)


@api.get("/audit", summary="Audit trail entries (newest first) with field-level changes")
def audit(
    request: HttpRequest,
    patient: str = "",
    user: str = "",
    table: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    access.require(request.user, "audit")
    filters = {"patient": patient, "user": user, "table": table, "since": since, "until": until}
    entries = audit_entries(request.user, filters, limit=max(1, min(limit, 1000)))
    return [{**e, "when": e["when"].isoformat()} for e in entries]


class Acknowledgement(Schema):
    note: str = ""


@api.get(
    "/alerts",
    summary="Alerts of the caller's patients: state open (default), acknowledged or all",
)
def list_alerts(
    request: HttpRequest, patient: str = "", state: str = "open"
) -> list[dict[str, Any]]:
    access.require(request.user, "view")
    return [
        alert_row(a) for a in visible_alerts(request.user, patient=patient or None, state=state)
    ]


@api.post(
    "/alerts/{alert_id}/acknowledge",
    summary="Acknowledge (close) an alert, with an optional note (data-entry roles and admins)",
)
def acknowledge(request: HttpRequest, alert_id: int, body: Acknowledgement) -> dict[str, Any]:
    ack = acknowledge_alert(request.user, alert_id, body.note)
    alert = visible_alerts(request.user, state="all").get(pk=ack.alert_id)
    return alert_row(alert)


@api.get(
    "/analysis",
    summary="The live analysis of the caller's patients: study tables (each cell with its "
    "provenance), figures drawn and figures omitted with the reason",
    response={200: dict[str, Any], 503: dict[str, Any]},
)
def analysis(
    request: HttpRequest, ci: str = "clopper-pearson", level: float = 0.95
) -> Status[dict[str, Any]]:
    access.require(request.user, "analysis")
    result = live.analysis_panel(access.visible_patient_ids(request.user), ci, level)
    body: dict[str, Any] = {"available": result.available, "detail": result.message}
    if result.details:
        la = result.details[0]["live"]
        a = la.analysis
        body.update(
            {
                "patients": list(la.patient_ids),
                "cohort": a.cohort_name,
                "data_sha256": a.data_hash,
                "bvall_version": a.bvall_version,
                "criteria_versions": a.criteria_versions,
                "settings": a.settings,
                "warnings": list(a.warnings),
                "tables": [t.to_dict() for t in a.tables],
                "figures": [
                    {"id": f.id, "title": f.title, "caption": f.caption} for f in la.figures
                ],
                "figures_omitted": list(la.omitted),
            }
        )
    return Status(200 if result.available else 503, body)


@api.get(
    "/report.{fmt}",
    summary="The report of the caller's patients as an attachment: html, pdf, docx or csv "
    "(a ZIP of one CSV per table), stamped with the generation time",
)
def report(
    request: HttpRequest, fmt: str, ci: str = "clopper-pearson", level: float = 0.95
) -> HttpResponse:
    from bvall.web.views.analysis import report_response

    access.require(request.user, "analysis")
    return report_response(request.user, fmt, ci, level)
