"""The Django admin: the data manager's back office.

Study records are shown read-only here, scoped by the same access layer as the pages, with their
full history; every change to study data goes through the app's forms or the API, where it is
validated and needs a reason. Sites, users' roles and API tokens are shown read-only too: they
change on the Users, Sites and account pages (or the command line), which record every access
change; Django's own user and group screens are removed for the same reason. Only
administrators reach the admin at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from bvall.store import access
from bvall.store.convert import attnames
from bvall.store.models import COHORT_MODELS, ApiToken, Profile, Site, StudyInfo

for _model in (get_user_model(), Group):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

admin.site.site_header = "bvall back office"
admin.site.site_title = "bvall"
admin.site.index_title = "Study database"


def _has_permission(request: HttpRequest) -> bool:
    return bool(
        request.user.is_active
        and request.user.is_staff
        and access.can(request.user, "manage_users")
    )


admin.site.has_permission = _has_permission


class RecordAdmin(SimpleHistoryAdmin):
    """Read-only, site-scoped view of one cohort table, with a link to edit it in the app."""

    table = ""
    actions = None

    def get_queryset(self, request: HttpRequest) -> Any:
        return access.visible(request.user, self.table)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.can(request.user, "view")

    @admin.display(description="edit in the app")
    def edit_link(self, obj: Any) -> str:
        return format_html(
            '<a href="{}">edit (with reason)</a>', reverse("edit_record", args=[self.table, obj.pk])
        )


for _table, _model in COHORT_MODELS.items():
    _cols = list(attnames(_table))[:6]
    _filters = [
        c for c in ("arm", "test", "agent", "timepoint", "term", "event") if c in attnames(_table)
    ]
    admin.site.register(
        _model,
        type(
            f"{_model.__name__}Admin",
            (RecordAdmin,),
            {
                "table": _table,
                "list_display": ("id", *_cols, "version", "edit_link"),
                "list_filter": _filters,
                "search_fields": ("patient_id",),
            },
        ),
    )


class AccessAdmin(SimpleHistoryAdmin):
    """Read-only: sites, roles and tokens change on the Users, Sites and account pages (or the
    command line), which record every access change."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.can(request.user, "manage_users")


@admin.register(Site)
class SiteAdmin(AccessAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(Profile)
class ProfileAdmin(AccessAdmin):
    list_display = ("user", "role", "all_sites")
    list_filter = ("role", "all_sites")


@admin.register(ApiToken)
class ApiTokenAdmin(AccessAdmin):
    list_display = ("name", "user", "prefix", "created", "last_used", "revoked")


@admin.register(StudyInfo)
class StudyInfoAdmin(SimpleHistoryAdmin):
    list_display = ("name", "__str__")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
