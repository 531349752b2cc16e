"""Import: upload CSV/XLSX/Parquet files, see the validation report, then commit all or nothing.

Preview and commit both go through the write gate (:func:`bvall.store.gate.import_rows`), so a
user may only ever write rows of their own sites' patients; files are read within the import
limits (:mod:`bvall.cohort.tablefile`)."""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from bvall.cohort.tablefile import ReadLimits, read_tables
from bvall.interop.redcap.upload import is_redcap_upload, read_redcap_upload
from bvall.store import access, gate
from bvall.store.convert import ImportReport

MAX_FILES = 20
STALE_SECONDS = 24 * 3600  # uploads checked but never committed are removed after a day


def _staging(token: str) -> Path:
    if not token.isalnum():
        raise Http404("No such upload.")
    return Path(settings.HOME) / "uploads" / token


def _remove_stale_uploads() -> None:
    root = Path(settings.HOME) / "uploads"
    if not root.is_dir():
        return
    now = time.time()
    for folder in root.iterdir():
        if folder.is_dir() and now - folder.stat().st_mtime > STALE_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)


def limits() -> ReadLimits:
    return ReadLimits.for_upload(settings.BVALL_IMPORT_MAX_BYTES, settings.BVALL_IMPORT_MAX_ROWS)


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f}".removesuffix(".0") + " MB"


def size_error(uploaded: list[Any]) -> str | None:
    """Why these uploaded files are refused before reading (count or size), else None."""
    limit = settings.BVALL_IMPORT_MAX_BYTES
    if len(uploaded) > MAX_FILES:
        return f"{len(uploaded)} files chosen; at most {MAX_FILES} at once."
    for f in uploaded:
        if (f.size or 0) > limit:
            return (
                f"{f.name} is {_mb(f.size or 0)}; an import takes at most "
                f"{_mb(limit)} per file (setting BVALL_IMPORT_MAX_MB). Split the rows "
                "into several files and import them one by one. Nothing was written."
            )
    total = sum(f.size or 0 for f in uploaded)
    if total > limit:
        return (
            f"The files add up to {_mb(total)}; at most {_mb(limit)} at once "
            "(setting BVALL_IMPORT_MAX_MB). Split the import. Nothing was written."
        )
    return None


def check_files(paths: list[Path], user: object, reason: str, commit: bool) -> ImportReport:
    """Read ``paths`` within the limits and pass their rows through the write gate."""
    # a REDCap dictionary with its records is another kind of import, recognised by content
    if is_redcap_upload(paths):
        raw, files, problems = read_redcap_upload(paths)
    else:
        raw, files, problems = read_tables(paths, limits())
    if problems:
        return ImportReport.refused(problems)
    return gate.import_rows(user, raw, files=files, reason=reason, commit=commit)


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "import")
    context: dict[str, object] = {
        "title": "Import",
        "max_mb": settings.BVALL_IMPORT_MAX_BYTES // 2**20,
        "max_rows": settings.BVALL_IMPORT_MAX_ROWS,
    }
    if request.method == "POST":
        uploaded = request.FILES.getlist("files")
        reason = request.POST.get("reason", "").strip()
        if not uploaded:
            context["error"] = (
                "Choose one or more files: <table>.csv or <table>.parquet files, or an .xlsx "
                "workbook."
            )
        elif (error := size_error(uploaded)) is not None:
            context["error"] = error
        else:
            _remove_stale_uploads()
            token = secrets.token_hex(16)
            folder = _staging(token)
            folder.mkdir(parents=True)
            for f in uploaded:
                # only the base name, so an upload cannot write outside its folder
                name = Path(f.name or "upload").name
                with open(folder / name, "wb") as out:
                    for chunk in f.chunks():
                        out.write(chunk)
            paths = sorted(p for p in folder.iterdir() if p.is_file())
            report = check_files(paths, request.user, reason or "file import", commit=False)
            if report.ok:
                request.session[f"import-{token}"] = {
                    "reason": reason,
                    "files": [Path(f.name or "").name for f in uploaded],
                }
            else:
                shutil.rmtree(folder, ignore_errors=True)
            context.update(
                {
                    "report": report,
                    "token": token if report.ok else None,
                    "reason": reason,
                    "files": [f.name for f in uploaded],
                }
            )
    return render(request, "bvall/import.html", context)


@login_required
def commit(request: HttpRequest, token: str) -> HttpResponse:
    access.require(request.user, "import")
    if request.method != "POST":
        return redirect("import")
    staged = request.session.get(f"import-{token}")
    folder = _staging(token)
    if staged is None or not folder.exists():
        raise Http404("This upload is not waiting for you (expired or committed already).")
    reason = request.POST.get("reason", "").strip() or staged["reason"] or "file import"
    reason = f"{reason} (import of {', '.join(staged['files'])})"
    paths = sorted(p for p in folder.iterdir() if p.is_file())
    report = check_files(paths, request.user, reason, commit=True)
    if not report.committed:
        return render(
            request,
            "bvall/import.html",
            {
                "title": "Import",
                "max_mb": settings.BVALL_IMPORT_MAX_BYTES // 2**20,
                "max_rows": settings.BVALL_IMPORT_MAX_ROWS,
                "report": report,
                "files": staged["files"],
                "error": "The data changed since the check; the import was checked again and refused. Nothing was written.",
            },
        )
    shutil.rmtree(folder, ignore_errors=True)
    del request.session[f"import-{token}"]
    added = ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in report.new_rows.items())
    messages.success(request, f"Imported {added}.")
    return redirect("cohort")
