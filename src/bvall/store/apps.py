"""Django application of the study database."""

from __future__ import annotations

from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "bvall.store"
    label = "store"
    verbose_name = "Study database"
    default_auto_field = "django.db.models.BigAutoField"
