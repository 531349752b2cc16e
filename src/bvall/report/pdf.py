"""The report as PDF: the HTML report through WeasyPrint with the print style sheet (A4)."""

from __future__ import annotations

import logging

from bvall.errors import InputError


def render_report_pdf(html: str) -> bytes:
    """The PDF of a report rendered by :func:`bvall.report.render_report_html`.

    The HTML's ``<title>``, author, description, keywords, creation date and ``Bvall*`` meta
    tags become the PDF's document information (the stamp; WeasyPrint lower-cases the keys). Only embedded ``data:`` URIs are
    fetched: a reference to anything else (a web address, a local file) raises
    :class:`InputError`, because a report must never depend on a resource outside itself.
    """
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    # WeasyPrint logs every screen-only CSS rule it skips; only errors are worth showing.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    try:
        document = HTML(string=html, url_fetcher=fetcher, media_type="print")
        pdf = document.write_pdf(custom_metadata=True)
    except FatalURLFetchingError as exc:
        raise InputError(f"{exc}; a report may only embed data: URIs.") from exc
    if pdf is None:  # pragma: no cover - write_pdf without a target always returns bytes
        raise InputError("WeasyPrint returned no PDF")
    return bytes(pdf)
