"""The audit log: every insert, change and deletion with who, when, why and field-level changes,
and every access change (accounts, roles, sites, API tokens: :mod:`bvall.store.access_changes`).
A write from the command line is shown as made by "command line"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bvall.cohort import TABLES
from bvall.errors import InputError
from bvall.store import access
from bvall.store.access_changes import ACCESS_TABLES, access_change_entries
from bvall.store.convert import attnames

PAGE = 100
_ACTION = {"+": "created", "~": "changed", "-": "deleted"}


def _fmt(v: Any) -> str:
    if v is None:
        return "∅"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def audit_entries(user: Any, filters: dict[str, Any], limit: int = PAGE) -> list[dict[str, Any]]:
    """The latest audit rows the user may see, newest first, with field-level changes.

    ``filters["table"]`` is a cohort table, an access table (``profiles``, ``sites``,
    ``api_tokens``), ``alerts`` (acknowledgements) or empty (all); any other name is refused
    with the known ones.
    """
    table = filters.get("table") or ""
    if table and table not in TABLES and table not in ACCESS_TABLES and table != ALERTS:
        raise InputError(
            f"Table {table!r} is not in the audit trail; tables: "
            f"{', '.join([*TABLES, *ACCESS_TABLES, ALERTS])}."
        )
    wanted = table
    tables = [table] if table in TABLES else [] if table else list(TABLES)
    user_filter = filters.get("user")
    if user_filter == access.COMMAND_LINE.username:
        user_filter = None
    found: list[tuple[str, Any]] = []
    for table in tables:
        qs = access.visible_history(user, table).select_related("history_user")
        if filters.get("patient"):
            qs = qs.filter(patient_id=filters["patient"])
        if filters.get("user") == access.COMMAND_LINE.username:
            qs = qs.filter(history_user__isnull=True)
        elif user_filter:
            qs = qs.filter(history_user__username=user_filter)
        if filters.get("since"):
            qs = qs.filter(history_date__date__gte=filters["since"])
        if filters.get("until"):
            qs = qs.filter(history_date__date__lte=filters["until"])
        if filters.get("record"):
            qs = qs.filter(id=filters["record"])
        found += [(table, h) for h in qs.order_by("-history_date", "-history_id")[:limit]]
    found.sort(key=lambda th: (th[1].history_date, th[1].history_id), reverse=True)
    out = []
    if not wanted or wanted == ALERTS:  # every table, or only the alerts
        out = alert_entries(user, filters, limit)
    for table, h in found[:limit]:
        cols = attnames(table)
        changes = []
        if h.history_type == "~":
            prev = h.prev_record
            if prev is not None:
                changes = [
                    {"field": c, "before": _fmt(getattr(prev, c)), "after": _fmt(getattr(h, c))}
                    for c in cols
                    if getattr(prev, c) != getattr(h, c)
                ]
        elif h.history_type == "+":
            changes = [
                {"field": c, "before": "", "after": _fmt(getattr(h, c))}
                for c in cols
                if getattr(h, c) is not None
            ]
        else:
            changes = [
                {"field": c, "before": _fmt(getattr(h, c)), "after": ""}
                for c in cols
                if getattr(h, c) is not None
            ]
        out.append(
            {
                "when": h.history_date,
                "user": h.history_user.username if h.history_user else access.COMMAND_LINE.username,
                "action": _ACTION.get(h.history_type, h.history_type),
                "table": table,
                "record": h.id,
                "patient": getattr(h, "patient_id", None),
                "reason": h.history_change_reason or "",
                "changes": changes,
                "version": h.version,
            }
        )
    out += access_change_entries(user, filters, limit)
    out.sort(key=lambda e: e["when"], reverse=True)
    return out[:limit]


#: The audit log's name for alert acknowledgements (append-only table alert_acknowledgements).
ALERTS = "alerts"


def alert_entries(user: Any, filters: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Acknowledgements of alerts the user may see, as audit entries (newest first)."""
    from bvall.store.models import AlertAcknowledgement

    qs = AlertAcknowledgement.objects.filter(
        alert__patient_id__in=access.visible_patients(user).values("patient_id")
    ).select_related("alert", "user")
    if filters.get("patient"):
        qs = qs.filter(alert__patient_id=filters["patient"])
    if filters.get("user"):
        qs = qs.filter(user__username=filters["user"])
    if filters.get("since"):
        qs = qs.filter(acknowledged__date__gte=filters["since"])
    if filters.get("until"):
        qs = qs.filter(acknowledged__date__lte=filters["until"])
    if filters.get("record"):
        qs = qs.filter(alert_id=filters["record"])
    return [
        {
            "when": a.acknowledged,
            "user": a.user.username,
            "action": "acknowledged",
            "table": ALERTS,
            "record": a.alert_id,
            "patient": a.alert.patient_id,
            "reason": a.note,
            "changes": [
                {"field": "alert", "before": "open", "after": f"acknowledged: {a.alert.text}"}
            ],
            "version": None,
        }
        for a in qs.order_by("-acknowledged", "-pk")[:limit]
    ]


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "audit")
    g = request.GET
    filters = {
        k: g.get(k, "").strip() for k in ("patient", "user", "since", "until", "table", "record")
    }
    for k in ("since", "until"):
        try:
            filters[k] = dt.date.fromisoformat(filters[k]) if filters[k] else ""
        except ValueError:
            filters[k] = ""
    if filters["record"] and not filters["record"].isdigit():
        filters["record"] = ""
    try:
        entries = audit_entries(request.user, filters)
    except InputError:
        filters["table"] = ""
        entries = audit_entries(request.user, filters)
    users = get_user_model().objects.order_by("username").values_list("username", flat=True)
    return render(
        request,
        "bvall/audit.html",
        {
            "entries": entries,
            "filters": filters,
            "users": list(users),
            "tables": [*TABLES, *ACCESS_TABLES, ALERTS],
            "title": "Audit log",
            "limit": PAGE,
        },
    )
