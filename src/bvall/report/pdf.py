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


def _warm() -> None:
    """Import WeasyPrint in the worker before the HTML is ready."""
    import weasyprint  # noqa: F401


class PdfWorker:
    """Renders the PDF in a second process while this one writes the report's other files.

    WeasyPrint is pure Python and the longest stage of a report; with two cores, running it
    beside the figure files and the DOCX takes the shorter of the two off the wall time. The
    worker is started (and imports WeasyPrint) before the report's criteria are derived, so
    its start-up is hidden too. The bytes are those :func:`render_report_pdf` gives in
    process; when a second process cannot be started or dies, the PDF is rendered in process.
    """

    def __init__(self) -> None:
        import multiprocessing
        from concurrent.futures import Future, ProcessPoolExecutor

        self._pool: ProcessPoolExecutor | None = None
        self._job: Future[bytes] | None = None
        self._html: str | None = None
        try:
            # spawn, not fork: the parent may hold DuckDB's and a web server's threads
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
            self._pool.submit(_warm)
        except (OSError, NotImplementedError, RuntimeError) as exc:
            logging.getLogger(__name__).info("PDF rendered in process: %s", exc)
            self._pool = None

    def submit(self, html: str) -> None:
        """Start rendering ``html``."""
        self._html = html
        if self._pool is not None:
            try:
                self._job = self._pool.submit(render_report_pdf, html)
            except RuntimeError as exc:  # the pool broke or was shut down
                logging.getLogger(__name__).info("PDF rendered in process: %s", exc)
                self._job = None

    def result(self) -> bytes:
        """The PDF of the submitted HTML (an :class:`InputError` raised in the worker is raised
        here as it is)."""
        from concurrent.futures.process import BrokenProcessPool

        if self._html is None:
            raise InputError("no HTML was submitted for the PDF")
        if self._job is not None:
            try:
                return self._job.result()
            except BrokenProcessPool as exc:
                logging.getLogger(__name__).info("PDF rendered in process: %s", exc)
        return render_report_pdf(self._html)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
