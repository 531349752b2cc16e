"""Import: upload CSV/XLSX files, see the full validation report, then commit all or nothing."""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from bvall.cohort.io import read_tables
from bvall.interop.redcap.upload import is_redcap_upload, read_redcap_upload
from bvall.store import access
from bvall.store.convert import ImportReport, import_tables

MAX_FILES = 20
MAX_BYTES = 50 * 1024 * 1024  # per upload, all files together
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


def _check(folder: Path, user: object, reason: str, commit: bool) -> ImportReport:
    paths = sorted(p for p in folder.iterdir() if p.is_file())
    # a REDCap dictionary with its records is another kind of import, recognised by content
    reader = read_redcap_upload if is_redcap_upload(paths) else read_tables
    raw, files, problems = reader(paths)
    if problems:
        return ImportReport(problems=problems)
    return import_tables(raw, files=files, user=user, reason=reason, commit=commit)


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "import")
    context: dict[str, object] = {"title": "Import"}
    if request.method == "POST":
        uploaded = request.FILES.getlist("files")
        reason = request.POST.get("reason", "").strip()
        if not uploaded:
            context["error"] = "Choose one or more files: <table>.csv files or an .xlsx workbook."
        elif len(uploaded) > MAX_FILES:
            context["error"] = f"{len(uploaded)} files chosen; at most {MAX_FILES} at once."
        elif sum(f.size or 0 for f in uploaded) > MAX_BYTES:
            context["error"] = (
                f"The files add up to {sum(f.size or 0 for f in uploaded) / 1e6:.0f} MB; "
                f"at most {MAX_BYTES // (1024 * 1024)} MB at once. Split the import."
            )
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
            report = _check(folder, request.user, reason, commit=False)
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
    report = _check(folder, request.user, reason, commit=True)
    if not report.committed:
        return render(
            request,
            "bvall/import.html",
            {
                "title": "Import",
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
