"""A FHIR lab feed into the study database: read against the caller's patients, then written.

* :func:`read_feed` – the bundle's lab rows matched against the patients the caller may write
  (role ``import``; patients of the caller's sites only; ``user=None`` is the command line on
  its own database and sees every patient);
* :func:`import_bundle` – the same, plus the store's validation of the rows against the database
  and, with ``commit``, the write: all rows or none, each audit row with the reason
  ``FHIR bundle <id>``. Results already stored with the same value and unit (a feed sending a
  result again) are skipped and listed, not written twice.

The write happens in :func:`commit_bundle` and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from bvall.cohort import TABLES, Problem
from bvall.interop.fhir.bundle import FeedResult, LabRow, Skipped, derive_lab_rows
from bvall.interop.fhir.patients import PatientMatching, load_patient_matching
from bvall.store import access
from bvall.store.convert import ImportReport
from bvall.store.gate import import_rows
from bvall.store.models import COHORT_MODELS, Patient


def load_site_matching() -> PatientMatching:
    """The patient matching configured in ``<BVALL_HOME>/fhir.toml`` (default when absent)."""
    from bvall.settings import active_settings

    return load_patient_matching(Path(active_settings().home) / "fhir.toml")


def writable_patients(user: Any) -> dict[str, str | None]:
    """Patient id → site of the patients ``user`` may write (every patient for ``None`` or the
    command line, :data:`~bvall.store.access.COMMAND_LINE`)."""
    if user is not None and not access.is_command_line(user):
        access.require(user, "import")
        qs = access.visible_patients(user)
    else:
        qs = Patient.objects.all()
    return dict(qs.values_list("patient_id", "site_id"))


def read_feed(
    data: str | bytes | Mapping[str, Any],
    *,
    user: Any,
    today: dt.date,
    matching: PatientMatching | None = None,
    label: str = "bundle",
) -> FeedResult:
    """The bundle's rows matched against the patients ``user`` may write (nothing written)."""
    patients = writable_patients(user)
    return derive_lab_rows(
        data, today=today, patients=patients, matching=matching or load_site_matching(), label=label
    )


@dataclass
class FeedImport:
    """A bundle's rows, skipped entries and problems, and what the store wrote."""

    result: FeedResult
    committed: bool = False
    new_rows: int = 0

    @property
    def ok(self) -> bool:
        return self.result.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.result.to_dict(),
            "ok": self.ok,
            "committed": self.committed,
            "new_rows": {"labs": self.new_rows} if self.new_rows else {},
        }


def _already_stored(rows: list[LabRow]) -> set[int]:
    """Indexes of rows stored before with the same key, value and unit."""
    model = COHORT_MODELS["labs"]
    stored: set[tuple[Any, ...]] = set()
    for pid in {r.patient_id for r in rows}:
        stored |= set(
            model.objects.filter(
                patient_id=pid, study_day__isnull=True, timepoint__isnull=True
            ).values_list("patient_id", "test", "date", "time", "value", "unit")
        )
    return {
        i
        for i, r in enumerate(rows)
        if (r.patient_id, r.test, r.date, r.time, r.value, r.unit) in stored
    }


def reason_for(result: FeedResult) -> str:
    """The audit reason of a bundle's rows: its id."""
    return f"FHIR bundle {result.bundle_id}"


def commit_bundle(result: FeedResult, *, user: Any, commit: bool) -> ImportReport:
    """Validate the rows against the database and, with ``commit``, write them all or none.

    The feed's one write: every audit row carries :func:`reason_for` as its reason.
    """
    frame = pd.DataFrame(
        [r.labs_row() for r in result.labs], columns=list(TABLES["labs"].column_names)
    )
    return import_rows(
        user,
        {"labs": frame},
        files={"labs": reason_for(result)},
        reason=reason_for(result),
        commit=commit,
    )


def _on_entry(p: Problem, rows: list[LabRow], label: str) -> Problem:
    if p.table == "labs" and p.row is not None and 1 <= p.row <= len(rows):
        entry = rows[p.row - 1].source["entry"]
        return replace(
            p, table="bundle", row=None, column=f"entry[{entry}] ({p.column})", file=label
        )
    return p


def import_bundle(
    data: str | bytes | Mapping[str, Any],
    *,
    user: Any,
    today: dt.date,
    commit: bool,
    matching: PatientMatching | None = None,
    label: str = "bundle",
) -> FeedImport:
    """Read, check against the database and (with ``commit``) write a bundle's lab rows."""
    result = read_feed(data, user=user, today=today, matching=matching, label=label)
    out = FeedImport(result)
    if not result.ok:
        return out
    again = _already_stored(result.labs)
    for i in sorted(again):
        r = result.labs[i]
        result.skipped.append(
            Skipped(r.source["entry"], r.source["loinc"], "already stored with this value and unit")
        )
    result.labs = [r for i, r in enumerate(result.labs) if i not in again]
    if not result.labs:
        return out
    report = commit_bundle(result, user=user, commit=commit)
    result.problems += [_on_entry(p, result.labs, label) for p in report.problems]
    out.committed = report.committed
    out.new_rows = report.new_rows.get("labs", 0) if report.committed else 0
    return out
