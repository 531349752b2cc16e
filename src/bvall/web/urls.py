"""URL map of the web app."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from bvall.web import admin as _admin  # noqa: F401  (registers the back office)
from bvall.web.api import api
from bvall.web.views import (
    accounts,
    alerts,
    analysis,
    audit,
    cdisc,
    cohort,
    entry,
    errors,
    importing,
    patient,
)

urlpatterns = [
    path("", cohort.cohort_list, name="cohort"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="bvall/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", errors.healthz, name="healthz"),
    path("favicon.ico", errors.favicon, name="favicon"),
    path("patients/new/", entry.new_patient, name="new_patient"),
    path("patients/<str:pid>/", patient.patient_page, name="patient"),
    path("patients/<str:pid>/labs/day/", entry.lab_day, name="lab_day"),
    path("patients/<str:pid>/labs/day/row/<str:test>/", entry.lab_day_row, name="lab_day_row"),
    path(
        "patients/<str:pid>/section/<str:table>/", patient.patient_section, name="patient_section"
    ),
    path("patients/<str:pid>/<str:table>/new/", entry.new_record, name="new_record"),
    path("records/<str:table>/<int:pk>/edit/", entry.edit_record, name="edit_record"),
    path("records/<str:table>/<int:pk>/delete/", entry.delete_record, name="delete_record"),
    path("alerts/<int:pk>/acknowledge/", alerts.acknowledge, name="acknowledge_alert"),
    path("import/", importing.upload, name="import"),
    path("import/<str:token>/commit/", importing.commit, name="import_commit"),
    path("analysis/", analysis.analysis_page, name="analysis"),
    path("analysis/report.<str:fmt>", analysis.report_download, name="report_download"),
    path("analysis/cdisc.zip", cdisc.cdisc_download, name="cdisc_download"),
    path("monitoring/", analysis.monitoring_page, name="monitoring"),
    path("audit/", audit.audit_log, name="audit"),
    path("users/", accounts.user_list, name="users"),
    path("users/new/", accounts.user_new, name="user_new"),
    path("users/<int:uid>/", accounts.user_edit, name="user_edit"),
    path("sites/", accounts.sites, name="sites"),
    path("account/", accounts.my_account, name="account"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]

handler403 = "bvall.web.views.errors.forbidden"
handler404 = "bvall.web.views.errors.not_found"
