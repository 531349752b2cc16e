"""Saving and deleting single records: validated, audited, never silently overwritten.

Every write here

* checks the user's role and sites through the write gate (:func:`bvall.store.gate.check_record`):
  known sites only, never another site's patient;
* validates the patient's whole record with the change applied, using the cohort's own
  validation (types, vocabularies, units, plausibility, order of dates, duplicates, references,
  consistency), and raises :class:`~bvall.errors.ValidationFailed` listing every problem, with
  the rows of the new records given as :attr:`RecordProblems.rows`, so forms show field messages;
* requires a reason when saved data is changed or deleted;
* checks the version the editor loaded (optimistic concurrency) and raises
  :class:`~bvall.errors.EditConflict` with both versions when someone saved in between;
* writes the record and its audit row (who, when, reason, full record) in one transaction, with
  the patient's alerts brought up to date in the same transaction (:mod:`bvall.store.alerts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from django.db import connection, models, transaction
from django.utils import timezone

from bvall.cohort import TABLES, Cohort, Problem, validate_tables
from bvall.cohort.dates import DATED_COLUMNS
from bvall.cohort.validate import ObjectColumns
from bvall.errors import EditConflict, InputError, ValidationFailed
from bvall.store import access, gate
from bvall.store.alerts import raise_alerts
from bvall.store.convert import (
    attnames,
    object_columns,
    patient_rows,
    record_values,
    write_lock,
)
from bvall.store.models import COHORT_MODELS

MAX_REASON = 2000


class RecordProblems(ValidationFailed):
    """Validation problems of a record save; ``rows`` are the 1-based rows of the new records
    in ``table`` as validated, so a form can attach problems on them to its fields."""

    def __init__(self, problems: Sequence[Problem], table: str, rows: Sequence[int]) -> None:
        super().__init__(problems, table)
        self.table = table
        self.rows = list(rows)

    def field_problems(self, index: int = 0) -> dict[str, list[Problem]]:
        """Problems on the ``index``-th new record, by column."""
        row = self.rows[index]
        out: dict[str, list[Problem]] = {}
        for p in self.problems:
            if p.table == self.table and p.row == row and p.column:
                for col in p.column.split(", "):
                    out.setdefault(col, []).append(p)
        return out

    def other_problems(self) -> list[Problem]:
        """Problems not attached to a field of a new record (other rows, other tables)."""
        rows = set(self.rows)
        return [
            p for p in self.problems if not (p.table == self.table and p.row in rows and p.column)
        ]


def _clean_reason(reason: str | None, required: bool) -> str:
    text = (reason or "").strip()
    if required and not text:
        raise InputError(
            "A reason is required to change or delete saved data (for example "
            "'transcription error, corrected from the lab report')."
        )
    if len(text) > MAX_REASON:
        raise InputError(f"The reason is {len(text)} characters long; at most {MAX_REASON}.")
    return text


#: Tables whose rows a change to a table can make invalid: the table itself, the tables it refers
#: to or that refer to it, and the partners of its cross-table consistency checks (see
#: bvall.cohort.validate: references and _check_consistency). A patient change can touch any.
_DEPENDS: dict[str, frozenset[str]] = {
    "patients": frozenset(TABLES),
    # The induction course's start is D1, against which every recorded date and study day agree.
    "treatment_courses": frozenset({"patients", "treatment_courses", *DATED_COLUMNS}),
    "dose_administrations": frozenset({"patients", "treatment_courses", "dose_administrations"}),
    "provenance": frozenset({"patients", "provenance"}),
}


def _related(table: str) -> frozenset[str]:
    if table in DATED_COLUMNS:
        return _DEPENDS.get(table, frozenset({"patients", "treatment_courses", table}))
    return _DEPENDS.get(table, frozenset({"patients", table}))


def _patient_rows(
    patient_id: str | None, tables: frozenset[str]
) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """The stored rows of one patient (``None``: the study-level provenance) in ``tables``,
    with their primary keys, in primary-key order."""
    out: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for table in COHORT_MODELS:
        if table not in tables:
            continue
        if patient_id is None and table != "provenance":
            out[table] = []
            continue
        cols = attnames(table)
        out[table] = [
            (row[0], dict(zip(cols, row[1:], strict=True)))
            for row in patient_rows(table, patient_id)
        ]
    return out


def _validate(
    patient_id: str | None,
    table: str,
    new_rows: Sequence[Mapping[str, Any]],
    drop_pk: int | None = None,
) -> list[dict[str, Any]]:
    """Validate the patient's record with ``new_rows`` added (and ``drop_pk`` removed).

    Returns the typed new rows; raises :class:`RecordProblems` with every problem.
    """
    # Only the tables this change can affect are validated; the patient's other tables were
    # valid when saved and no check relates them to this one.
    related = _related(table)
    current = _patient_rows(patient_id, related)
    raw: dict[str, ObjectColumns] = {}
    rows_of_new: list[int] = []
    for t in TABLES:
        if t not in related:
            continue
        rows: list[Mapping[str, Any]] = [
            r for pk, r in current[t] if not (t == table and pk == drop_pk)
        ]
        if t == table:
            start = len(rows)
            # a column missing from a new row is None (object_columns), as validation reads it
            rows = rows + list(new_rows)
            rows_of_new = list(range(start + 1, start + 1 + len(new_rows)))
        raw[t] = object_columns(t, rows)
    # The clock is read here, at the edge; the checks themselves are pure.
    typed, problems = validate_tables(raw, {}, today=timezone.localdate())
    if problems:
        raise RecordProblems(problems, table, rows_of_new)
    t = typed[table]
    return [t.slice(r - 1, 1).to_pylist()[0] for r in rows_of_new]


def _patient_of(table: str, values: Mapping[str, Any], obj: models.Model | None) -> str | None:
    if obj is not None:
        return getattr(obj, "patient_id", None)
    pid = values.get("patient_id")
    return str(pid).strip() if pid not in (None, "") else None


@dataclass(frozen=True)
class Saved:
    """A written record: its table, primary key and new version."""

    table: str
    pk: int
    version: int


def _apply(obj: models.Model, typed: Mapping[str, Any], user: Any, reason: str) -> None:
    for col, value in typed.items():
        setattr(obj, col, value)
    obj._history_user = access.history_user(user)
    obj._change_reason = reason


def create_record(user: Any, table: str, values: Mapping[str, Any], reason: str = "") -> Saved:
    """Insert one record of ``table`` from raw ``values`` (text is fine: validation types it)."""
    access.require(user, "edit")
    _known_table(table)
    values = {k: v for k, v in values.items() if k in attnames(table)}
    reason = _clean_reason(reason, required=False) or "new record"
    patient_id = _patient_of(table, values, None)
    gate.check_record(user, table, values, patient_id)
    _grade_before_the_lock(patient_id, table, [values])
    with transaction.atomic():
        write_lock(patient_id)
        taken = (
            gate.new_patient_problem(user, patient_id)
            if table == "patients" and patient_id
            else None
        )
        if taken is not None:
            raise RecordProblems([taken], table, [1])
        typed = _validate(patient_id, table, [values])[0]
        obj = COHORT_MODELS[table]()
        _apply(obj, typed, user, reason)
        obj.save()
        raise_alerts([patient_id] if patient_id else [], access.history_user(user))
    return Saved(table, obj.pk, obj.version)


#: Tables whose new rows change the lab grades (and so the alerts raised with the save).
_GRADED_TABLES = ("labs", "vitals", "adverse_events", "concomitant_medications")


def _grade_before_the_lock(
    patient_id: str | None, table: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Grade the patient's data with ``rows`` added, before the save takes its write lock.

    The save raises its alerts inside its transaction from the data as they are then
    (:func:`bvall.store.alerts.raise_alerts`); the engines keep each step's result by the
    content of the tables it reads (``bvall.criteria.plans``), so when the data read back in
    the transaction are those graded here, the grading there takes no time and the lock is
    held for the writes alone. When they are not (another save came in between, or the
    database stores a value otherwise), the transaction grades them itself: nothing here
    decides an alert. Rows that do not validate are left to the save to report.

    On SQLite only, whose write lock holds off every other save: with 20 clients (load.py) a
    save's p95 fell from 7.3-8.9 s to 3.3-3.5 s while the pages' p95 rose from 1.0-1.1 s to
    1.6-2.0 s (the validation and the read done twice).
    """
    if patient_id is None or table not in _GRADED_TABLES:
        return
    if connection.vendor != "sqlite":
        # PostgreSQL locks a save's patient only: saves of other patients do not wait for it,
        # and grading twice would only add work (load.py, benchmarks/README.md).
        return
    from bvall.criteria import derive
    from bvall.store.convert import read_database

    try:
        typed = _validate(patient_id, table, rows)
    except (RecordProblems, InputError):
        return
    cohort = read_database([patient_id], validate=False)
    columns = attnames(table)
    try:
        added = pa.Table.from_pylist(
            [{c: r.get(c) for c in columns} for r in typed], schema=cohort[table].schema
        )
    except (pa.ArrowException, ValueError, TypeError):
        return  # only a head start: the transaction grades what it reads
    tables = {n: cohort[n] for n in cohort.table_names}
    tables[table] = pa.concat_tables([cohort[table], added]).combine_chunks()
    derive(Cohort(tables, cohort.metadata), "grades")


def create_records(
    user: Any, table: str, rows: Sequence[Mapping[str, Any]], reason: str = ""
) -> list[Saved]:
    """Insert several records of one patient at once (a day's labs): all or none."""
    access.require(user, "edit")
    _known_table(table)
    if table == "patients":
        raise InputError("Create patients one at a time.")
    if not rows:
        raise InputError("Nothing to save: enter at least one value.")
    clean = [{k: v for k, v in r.items() if k in attnames(table)} for r in rows]
    patients = {_patient_of(table, r, None) for r in clean}
    if len(patients) != 1:
        raise InputError("All records saved together must belong to one patient.")
    patient_id = patients.pop()
    reason = _clean_reason(reason, required=False) or "new record"
    gate.check_record(user, table, clean[0], patient_id)
    out: list[Saved] = []
    _grade_before_the_lock(patient_id, table, clean)
    with transaction.atomic():
        write_lock(patient_id)
        typed_rows = _validate(patient_id, table, clean)
        model = COHORT_MODELS[table]
        for typed in typed_rows:
            obj = model()
            _apply(obj, typed, user, reason)
            obj.save()
            out.append(Saved(table, obj.pk, obj.version))
        raise_alerts([patient_id] if patient_id else [], access.history_user(user))
    return out


def _locked(user: Any, table: str, pk: int) -> models.Model:
    qs = access.visible(user, table).select_for_update()
    try:
        return qs.get(pk=pk)
    except COHORT_MODELS[table].DoesNotExist:
        raise InputError(f"No {table} record {pk} that you may see.") from None


def conflict_view(obj: models.Model) -> dict[str, Any]:
    """The saved version of a record with who saved it and when (for a conflict page)."""
    values = record_values(obj)
    values["version"] = obj.version
    last = obj.history.order_by("-history_id").first()
    if last is not None:
        values["saved_by"] = str(last.history_user) if last.history_user else "command line"
        values["saved_at"] = last.history_date.strftime("%Y-%m-%d %H:%M:%S UTC")
        values["saved_reason"] = last.history_change_reason or ""
    return values


def update_record(
    user: Any,
    table: str,
    pk: int,
    values: Mapping[str, Any],
    *,
    version: int,
    reason: str,
) -> Saved:
    """Change a saved record; ``version`` is the one the editor loaded, ``reason`` is required."""
    access.require(user, "edit")
    _known_table(table)
    reason = _clean_reason(reason, required=True)
    with transaction.atomic():
        obj = _locked(user, table, pk)
        patient_id = getattr(obj, "patient_id", None)
        write_lock(patient_id)
        new = record_values(obj)
        new.update({k: v for k, v in values.items() if k in attnames(table)})
        if obj.version != version:
            raise EditConflict(table, pk, version, conflict_view(obj), dict(values))
        if table == "patients" and new.get("patient_id") != obj.patient_id:
            raise RecordProblems(
                [
                    Problem(
                        "patients",
                        1,
                        "patient_id",
                        new.get("patient_id"),
                        f"the patient's identifier unchanged ({obj.patient_id}); identifiers "
                        "cannot be renamed",
                        "consistency",
                    )
                ],
                table,
                [1],
            )
        if table != "patients" and str(new.get("patient_id")) != str(patient_id):
            raise InputError("A record cannot be moved to another patient; delete and re-enter it.")
        gate.check_record(user, table, new, patient_id)
        typed = _validate(patient_id, table, [new], drop_pk=pk)[0]
        unchanged = all(typed[c] == getattr(obj, c) for c in attnames(table))
        if unchanged:
            return Saved(table, obj.pk, obj.version)
        _apply(obj, typed, user, reason)
        obj.version = obj.version + 1
        obj.save()
        raise_alerts([patient_id] if patient_id else [], access.history_user(user))
    return Saved(table, obj.pk, obj.version)


def delete_record(user: Any, table: str, pk: int, *, version: int, reason: str) -> None:
    """Delete a saved record (its history stays); ``reason`` is required."""
    access.require(user, "edit")
    _known_table(table)
    reason = _clean_reason(reason, required=True)
    with transaction.atomic():
        obj = _locked(user, table, pk)
        patient_id = getattr(obj, "patient_id", None)
        write_lock(patient_id)
        if obj.version != version:
            raise EditConflict(table, pk, version, conflict_view(obj), {"delete": True})
        gate.check_record(user, table, record_values(obj), patient_id)
        if table == "patients":
            linked = [
                t
                for t in TABLES
                if t not in ("patients", "provenance")
                and COHORT_MODELS[t].objects.filter(patient_id=obj.patient_id).exists()
            ]
            if linked:
                raise InputError(
                    f"Patient {obj.patient_id} still has records in {', '.join(linked)}; delete "
                    "those first (each with its reason)."
                )
        else:
            _validate(patient_id, table, [], drop_pk=pk)
        obj._history_user = access.history_user(user)
        obj._change_reason = reason
        obj.delete()
        if table != "patients":
            raise_alerts([patient_id] if patient_id else [], access.history_user(user))


def _known_table(table: str) -> None:
    if table not in COHORT_MODELS:
        raise InputError(f"No table {table!r}; tables: {', '.join(COHORT_MODELS)}.")
