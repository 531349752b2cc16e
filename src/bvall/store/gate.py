"""The write gate: every write of cohort data passes here, whoever and whatever makes it.

Forms and the JSON API (one record or one day's labs, through :mod:`bvall.store.records`),
file imports (preview and commit, pages and API), ``bvall db load`` and data feeds (a FHIR lab
feed, ...) all call this module, which checks in one place

* the role: writing records needs ``edit``, imports and feeds need ``import``
  (:mod:`bvall.store.access`);
* the sites: a patient is recorded only at a site that exists (:mod:`bvall.store.sites`; sites
  are never created on the way, except by an explicit ``create_sites`` of an administrator)
  and that the actor may use; a row of any other table belongs to a patient the actor may see,
  or to a new patient of the same import;
* study-level rows (provenance without a patient) are written only by actors who see every site.

Refusals never tell a user about records they cannot see: a row for another site's patient
and a row for a patient that does not exist get the same answer (:data:`NOT_YOURS`), and a new
patient whose identifier another site uses is refused without naming the site or anything of
the record (:data:`ID_TAKEN`). Only that an identifier is unavailable can be learnt, as with any
study-wide unique identifier.

The command line acts as :data:`bvall.store.access.COMMAND_LINE`: every site, a reason in the
audit trail, known sites only unless ``create_sites`` is given.

Entry points: :func:`import_rows` (tables or a :class:`~bvall.cohort.Cohort`, preview or
commit, returns an :class:`~bvall.store.convert.ImportReport`), :func:`load_cohort` (a whole
cohort, raising on problems), :func:`check_record` (one record of a form or API call).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from django.db import transaction

from bvall.cohort import TABLES, Cohort, CohortMetadata, Problem
from bvall.cohort.problems import ProblemList
from bvall.errors import InputError, ValidationFailed
from bvall.settings import active_settings
from bvall.store import access
from bvall.store.convert import ImportReport, attnames, write_checked_rows, write_lock
from bvall.store.models import Patient
from bvall.store.sites import add_missing_sites, known_sites_text, require_sites, unknown_sites

__all__ = [
    "NOT_YOURS",
    "check_record",
    "import_rows",
    "load_cohort",
    "new_patient_problem",
]

#: What a row for a patient the actor may not write is expected to be (the same words whether
#: the patient exists at another site or not at all).
NOT_YOURS = "a patient of your sites, or a new patient of this import at one of your sites"
#: What a new patient's identifier is expected to be when it is taken (whichever site holds it).
ID_TAKEN = (
    "a patient identifier not yet used in the study (identifiers are unique across all "
    "sites; this one is not one you may write): choose another"
)


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return None
    s = str(v).strip()
    if isinstance(v, float) and v.is_integer():
        s = str(int(v))
    return s or None


def _existing(ids: Iterable[str], queryset: Any) -> set[str]:
    wanted = sorted(set(ids))
    out: set[str] = set()
    for i in range(0, len(wanted), 500):
        out |= set(
            queryset.filter(patient_id__in=wanted[i : i + 500]).values_list("patient_id", flat=True)
        )
    return out


def new_patient_problem(
    actor: Any, patient_id: str, row: int = 1, file: str | None = None
) -> Problem | None:
    """The problem of recording a new patient ``patient_id`` whose identifier is taken, else None:
    a duplicate of a patient the actor sees, or (the same words wherever it is) a refusal."""
    if not Patient.objects.filter(patient_id=patient_id).exists():
        return None
    if access.visible_patients(actor).filter(patient_id=patient_id).exists():
        return Problem(
            "patients",
            row,
            "patient_id",
            patient_id,
            "a patient_id not yet used",
            "duplicate",
            file,
        )
    return Problem("patients", row, "patient_id", patient_id, ID_TAKEN, "access", file)


def check_record(actor: Any, table: str, values: Mapping[str, Any], patient_id: str | None) -> None:
    """Whether ``actor`` may write this record of ``table`` (one form or API save).

    Raises :class:`~django.core.exceptions.PermissionDenied` for a site the actor may not use,
    :class:`InputError` for an unknown site (listing the actor's sites) or a patient the actor
    may not see (worded as for one that does not exist).
    """
    access.require(actor, "edit")
    if table == "patients":
        site = _text(values.get("site_id"))
        if site is not None:
            require_sites(actor, [site])
        if not access.can_use_site(actor, site):
            raise access.PermissionDenied(
                f"You may not record patients at site {site!r}; your sites: "
                f"{known_sites_text(actor)}."
                if site
                else "Only users who see every site may record a patient without a site; "
                f"give one of your sites: {known_sites_text(actor)}."
            )
        return
    if patient_id is None:
        if table != "provenance" or not access.sees_all_sites(actor):
            raise access.PermissionDenied(
                "Only users who see every site may edit study-level rows."
            )
        return
    if not access.visible_patients(actor).filter(patient_id=patient_id).exists():
        # Same answer as for a patient that does not exist: no hint that it does.
        raise InputError(f"No patient {patient_id!r} that you may see.")


def _frames(tables: Cohort | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(tables, Cohort):
        out: dict[str, Any] = {
            t: pd.DataFrame(tables[t].to_pylist(), columns=list(attnames(t)), dtype=object)
            for t in TABLES
            if tables[t].num_rows
        }
        out.setdefault("patients", pd.DataFrame([], columns=list(attnames("patients"))))
        return out
    return {t: (v if isinstance(v, pd.DataFrame) else pd.DataFrame(v)) for t, v in tables.items()}


def _column(frame: Any, name: str) -> list[str | None]:
    if name not in getattr(frame, "columns", ()):
        return [None] * len(frame)
    return [_text(v) for v in frame[name].tolist()]


def _access_problems(
    actor: Any,
    raw: Mapping[str, Any],
    files: Mapping[str, str],
    problems: ProblemList,
    create: bool,
) -> tuple[list[str], list[str]]:
    """Check every row's patient and site; returns the patients concerned that the actor may
    see (stored ones) and the unknown sites to create (with ``create``)."""
    all_sites = access.sees_all_sites(actor)
    usable = set(access.site_codes(actor))
    new_ids: dict[str, int] = {}
    to_create: list[str] = []
    seen: set[str] = set()
    patients = raw.get("patients")
    if patients is not None and len(patients):
        ids = _column(patients, "patient_id")
        sites = _column(patients, "site_id")
        missing = set(unknown_sites(s for s in sites if s))
        if missing and create and access.can(actor, "manage_users"):
            to_create, missing = sorted(missing), set()
        taken = _existing((i for i in ids if i), Patient.objects.all())
        # a taken identifier the actor sees is a duplicate the validation reports with the
        # stored record; one the actor does not see is refused without saying where it is
        seen = _existing(taken, access.visible_patients(actor))
        taken -= seen
        file = files.get("patients")
        for row, (pid, site) in enumerate(zip(ids, sites, strict=True), start=1):
            if site in missing:
                problems.append(
                    Problem(
                        "patients",
                        row,
                        "site_id",
                        site,
                        f"a site of the study; your sites: {known_sites_text(actor)}",
                        "access",
                        file,
                    )
                )
            elif (site is None and not all_sites) or (
                site is not None and not all_sites and site not in usable
            ):
                problems.append(
                    Problem(
                        "patients",
                        row,
                        "site_id",
                        site,
                        f"one of your sites: {known_sites_text(actor)}",
                        "access",
                        file,
                    )
                )
            if pid is not None and pid in taken:
                problems.append(
                    Problem("patients", row, "patient_id", pid, ID_TAKEN, "access", file)
                )
            elif pid is not None:
                new_ids.setdefault(pid, row)
    mentioned: set[str] = set()
    for table, frame in raw.items():
        if table != "patients" and table in TABLES:
            mentioned |= {p for p in _column(frame, "patient_id") if p}
    visible = _existing(mentioned, access.visible_patients(actor)) | seen
    for table, frame in raw.items():
        if table == "patients" or table not in TABLES:
            continue
        for row, pid in enumerate(_column(frame, "patient_id"), start=1):
            if pid is None:
                if table == "provenance" and not all_sites:
                    problems.append(
                        Problem(
                            table,
                            row,
                            "patient_id",
                            None,
                            "a patient (study-level rows are written only by users who see "
                            "every site)",
                            "access",
                            files.get(table),
                        )
                    )
                continue
            if pid not in visible and pid not in new_ids:
                problems.append(
                    Problem(table, row, "patient_id", pid, NOT_YOURS, "access", files.get(table))
                )
    return sorted(visible), to_create


def import_rows(
    actor: Any,
    tables: Cohort | Mapping[str, Any],
    *,
    reason: str,
    commit: bool,
    files: Mapping[str, str] | None = None,
    metadata: CohortMetadata | None = None,
    create_sites: bool = False,
    max_problems: int | None = -1,  # the setting
) -> ImportReport:
    """Check who writes, validate and (with ``commit``) write new rows: all or none.

    ``actor`` is the acting user (a Django user) or
    :data:`~bvall.store.access.COMMAND_LINE`. ``tables`` is a :class:`Cohort` or maps table
    names to new rows (DataFrames as read from files, lists of row dicts; text cells are fine).
    ``reason`` is stored with every audit row. ``commit=False`` previews: the same checks, nothing
    written. ``files`` names the file each table came from (for the problems). ``create_sites``
    lets an administrator (or the command line) create the sites new patients name.
    ``max_problems`` caps the problems listed (default: the ``BVALL_IMPORT_MAX_PROBLEMS``
    setting; None lists all); the report counts every one.

    Returns the :class:`ImportReport`; a refused row is a problem of code ``access``.
    """
    access.require(actor, "import")
    reason = (reason or "").strip()
    if not reason:
        raise InputError("An import needs a reason for the audit trail (for example 'day 8 labs').")
    if max_problems == -1:
        max_problems = active_settings().import_max_problems
    if isinstance(tables, Cohort) and metadata is None:
        metadata = tables.metadata
    raw = _frames(tables)
    files = dict(files or {})
    problems = ProblemList(max_problems)
    new_sites: list[str] = []
    with transaction.atomic():
        write_lock()  # no other writer between these checks and the write
        scope, to_create = _access_problems(actor, raw, files, problems, create_sites)

        def check(commit: bool, limit: int | None, before: Any = None) -> ImportReport:
            return write_checked_rows(
                raw,
                patient_ids=scope,
                files=files,
                history_user=access.history_user(actor),
                reason=reason,
                commit=commit,
                metadata=metadata,
                max_problems=limit,
                before_insert=before,
            )

        if problems:
            # every other problem too, so the file is corrected once: the rows are checked
            # against the stored data of the actor's patients only, and a row already refused
            # for access is not reported twice
            refused = {(p.table, p.row) for p in problems}
            for p in check(False, None).problems:
                if (p.table, p.row) not in refused:
                    problems.append(p)
            return ImportReport.refused(problems)

        def make_sites() -> None:
            new_sites.extend(add_missing_sites(actor, to_create, reason=reason))

        report = check(commit, max_problems, make_sites if to_create else None)
    report.sites_created = new_sites if report.committed else to_create
    return report


def load_cohort(
    cohort: Cohort, *, reason: str, actor: Any = None, create_sites: bool = False
) -> ImportReport:
    """Add a whole cohort's rows (``bvall db load``, the demo of ``bvall serve``): through
    :func:`import_rows`, every problem listed; raises :class:`ValidationFailed` when any."""
    actor = access.COMMAND_LINE if actor is None else actor
    report = import_rows(
        actor,
        cohort,
        reason=reason,
        commit=True,
        files={t: t for t in TABLES},
        create_sites=create_sites,
        max_problems=None,
    )
    if not report.ok:
        raise ValidationFailed(report.problems, cohort.name)
    return report
