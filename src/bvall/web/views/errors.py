"""Error pages and the health check."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def forbidden(request: HttpRequest, exception: Any = None) -> HttpResponse:
    message = str(exception) if exception else "You may not open this page."
    return render(
        request,
        "bvall/error.html",
        {"code": 403, "title": "Not allowed", "message": message},
        status=403,
    )


def not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    message = str(exception) if exception else "There is nothing at this address."
    return render(
        request,
        "bvall/error.html",
        {"code": 404, "title": "Not found", "message": message},
        status=404,
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(
        request,
        "bvall/error.html",
        {
            "code": 403,
            "title": "Form expired",
            "message": "The form could not be verified (CSRF check failed). Reload the page and "
            "submit again; nothing was saved.",
        },
        status=403,
    )


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico for browsers and tools that ask for it without reading the page's link."""
    from django.contrib.staticfiles import finders

    path = finders.find("bvall/favicon.svg")
    with open(str(path), "rb") as f:
        body = f.read()
    response = HttpResponse(body, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness check for load balancers and tests: no data, no login."""
    return HttpResponse("ok", content_type="text/plain")
