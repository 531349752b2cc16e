"""A quiet server: a refused request is one line in the log (user, path, reason), no traceback."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from django.test import Client

from bvall.web.logs import RefusalFilter

pytestmark = pytest.mark.django_db


def test_a_refused_page_is_one_log_line_with_user_path_and_reason(loaded: Any, users: Any) -> None:
    # the handler the settings give django.request (the one the server writes to)
    handler = next(
        h
        for h in logging.getLogger("django.request").handlers
        if any(isinstance(f, RefusalFilter) for f in h.filters)
    )
    stream = io.StringIO()
    old = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        c = Client()
        c.force_login(users["monitor"])
        assert c.get("/import/").status_code == 403
    finally:
        handler.setStream(old)  # type: ignore[attr-defined]
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    user = users["monitor"].get_username()
    assert lines[0].startswith(f"WARNING django.request: refused user={user} path=/import/ reason=")
    assert "Traceback" not in stream.getvalue()


def test_favicon_is_served(loaded: Any) -> None:
    r = Client().get("/favicon.ico")
    assert r.status_code == 200
    assert r["Content-Type"] == "image/svg+xml"
    assert b"<svg" in r.content
