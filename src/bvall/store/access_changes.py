"""The record of access changes: accounts, roles, sites, all-sites grants and API tokens.

Every change of who may do what is written here once (append-only, like the record history) by
the store functions that make it (:mod:`bvall.store.accounts`, :mod:`bvall.store.sites`,
:mod:`bvall.store.tokens`), with the acting user (None: the command line) and a reason. The audit
log and ``/api/audit`` list these beside the record history; their ``table`` filter knows them as
``profiles`` (accounts, roles, sites of a user), ``sites`` and ``api_tokens``.

Who sees them: administrators and users granted all sites (an access change concerns the whole
study, not one site's patients).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bvall.store import access
from bvall.store.models import AccessChange

#: The audit-log table names of access changes.
ACCESS_TABLES: tuple[str, ...] = ("profiles", "sites", "api_tokens")


def _shown(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, list | tuple | set | frozenset):
        return ", ".join(sorted(str(x) for x in v)) or "none"
    return str(v)


def record_access_change(
    actor: Any,
    table: str,
    subject: str,
    action: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    reason: str,
) -> AccessChange | None:
    """Write one access change (call inside the transaction that makes it).

    Only fields whose value differs are kept; nothing is written when nothing changed.
    """
    if table not in ACCESS_TABLES:
        raise ValueError(f"internal: access table {table!r} is not one of {ACCESS_TABLES}")
    changes = [
        {"field": k, "before": _shown(before.get(k)), "after": _shown(after.get(k))}
        for k in dict.fromkeys([*before, *after])
        if _shown(before.get(k)) != _shown(after.get(k))
    ]
    if not changes and action == "changed":
        return None
    return AccessChange.objects.create(
        user=access.history_user(actor),
        table=table,
        subject=subject[:200],
        action=action,
        changes=changes,
        reason=reason,
    )


def may_see_access_changes(user: Any) -> bool:
    return access.can(user, "manage_users") or (
        access.can(user, "audit") and access.sees_all_sites(user)
    )


def access_change_entries(
    user: Any, filters: Mapping[str, Any], limit: int
) -> list[dict[str, Any]]:
    """Access changes ``user`` may see, newest first, in the audit log's entry shape."""
    table = filters.get("table") or ""
    if not may_see_access_changes(user) or (table and table not in ACCESS_TABLES):
        return []
    if filters.get("patient") or filters.get("record"):
        return []  # access changes concern no patient and no cohort record
    qs = AccessChange.objects.select_related("user")
    if table:
        qs = qs.filter(table=table)
    if filters.get("user"):
        if filters["user"] == access.COMMAND_LINE.username:
            qs = qs.filter(user__isnull=True)
        else:
            qs = qs.filter(user__username=filters["user"])
    if filters.get("since"):
        qs = qs.filter(recorded__date__gte=filters["since"])
    if filters.get("until"):
        qs = qs.filter(recorded__date__lte=filters["until"])
    return [
        {
            "when": c.recorded,
            "user": c.user.username if c.user else access.COMMAND_LINE.username,
            "action": c.action,
            "table": c.table,
            "record": c.subject,
            "patient": None,
            "reason": c.reason,
            "changes": list(c.changes),
            "version": None,
        }
        for c in qs.order_by("-recorded", "-pk")[:limit]
    ]
