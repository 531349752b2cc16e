"""WSGI entry point (``bvall serve`` runs it under gunicorn)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bvall.web.settings")
application = get_wsgi_application()

# the workers share the engine's results for a patient through the database (bvall.web.results)
from bvall.web.results import share_through_the_database  # noqa: E402

share_through_the_database()
