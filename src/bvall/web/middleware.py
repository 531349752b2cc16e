"""Security headers Django 5.2 does not set itself (it has no Content Security Policy yet), and
the request size limit checked before a body is read."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse

# Only the app's own files: no inline script, no other origin. htmx is told (meta tag in
# base.html) not to inject its indicator <style>, and SVG charts use presentation attributes.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


def security_headers(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if request.user.is_authenticated if hasattr(request, "user") else False:
            # patient data must not stay in shared browser or proxy caches
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return middleware


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def too_large_message(size: int) -> str:
    limit = settings.BVALL_IMPORT_MAX_REQUEST_BYTES
    return (
        f"The upload is {_mb(size)}; an import takes at most {_mb(settings.BVALL_IMPORT_MAX_BYTES)}"
        f" per file and {_mb(limit)} per request (setting BVALL_IMPORT_MAX_MB). Nothing was "
        "read or written: split the rows into several files and import them one by one."
    )


def request_size_limit(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Refuse a request whose declared size exceeds the import limit before reading its body
    (answered at once, whatever the size; the body is never parsed)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size > settings.BVALL_IMPORT_MAX_REQUEST_BYTES:
            message = too_large_message(size)
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(
                "<!doctype html><title>Upload too large</title><h1>Upload too large</h1>"
                f"<p>{escape(message)}</p><p><a href='/import/'>Back to Import</a></p>",
                status=413,
            )
        return get_response(request)

    return middleware


class LimitedUploadHandler(FileUploadHandler):
    """Counts the bytes of a streamed upload (a request without Content-Length included) and
    stops it at the per-request limit; the files themselves go to temporary files on disk
    (FILE_UPLOAD_MAX_MEMORY_SIZE), so memory stays small whatever is sent."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.BVALL_IMPORT_MAX_REQUEST_BYTES:
            raise RequestDataTooBig(too_large_message(self.received))
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
