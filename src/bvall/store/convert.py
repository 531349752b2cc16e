"""The one conversion between the study database and a :class:`~bvall.cohort.Cohort`.

* :func:`read_database` – the database (or some patients of it) as a validated cohort;
* :func:`write_checked_rows` – add raw tables to the database once the write gate
  (:mod:`bvall.store.gate`, the only caller) has checked who writes them: the stored rows of the
  patients concerned and the new rows are validated together with the cohort's own validation,
  every problem is listed (rows numbered as in the uploaded file), and either every row is
  written, with its audit record, in one transaction, or none is;
* :func:`load_cohort_into_database` – a whole :class:`Cohort` through the gate.

Nothing outside this package and the web layer touches the ORM; every other part of bvall
receives a :class:`Cohort`.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow as pa
from django.db import connection, models, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from bvall.cohort import TABLES, Cohort, CohortMetadata, Problem, validate_tables
from bvall.cohort.problems import ProblemList
from bvall.cohort.validate import ObjectColumns
from bvall.store.models import COHORT_MODELS, Patient, StudyInfo

#: Tables in the order rows are inserted (parents first).
_INSERT_ORDER = tuple(TABLES)


def attnames(table: str) -> tuple[str, ...]:
    """Model attribute names of a table's columns: exactly the cohort's column names."""
    return TABLES[table].column_names


def record_values(obj: models.Model) -> dict[str, Any]:
    """The cohort columns of one stored record, as Python values (None for missing)."""
    return {c: getattr(obj, c) for c in attnames(obj._meta.db_table)}


def table_rows(table: str, queryset: Any = None) -> list[dict[str, Any]]:
    """Rows of ``table`` (a queryset of its model, or all rows) as dicts of cohort columns."""
    qs = COHORT_MODELS[table].objects.all() if queryset is None else queryset
    cols = attnames(table)
    return [dict(zip(cols, row, strict=True)) for row in qs.order_by("pk").values_list(*cols)]


@dataclass(frozen=True)
class _Compiled:
    """A queryset's SQL as the ORM writes it, compiled with stand-ins for the patient ids,
    with the ORM's converters of the values the database returns (booleans on SQLite, say)."""

    sql: str
    params: tuple[Any, ...]
    #: positions in ``params`` of the patient ids
    slots: tuple[int, ...]
    compiler: Any
    converters: Any


#: Compiled querysets of this thread's database connection, by database and shape.
_COMPILED = threading.local()
_COMPILED_KEPT = 128


def compiled_values(
    shape: tuple[Any, ...], build: Callable[[list[str]], Any], ids: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The rows of ``build(ids)`` (a ``values_list`` queryset filtered by patient ids), read
    with the SQL the ORM compiles for it, compiled once per thread and ``shape`` (which names
    the queryset ``build`` makes; the number of ids is added to it).

    Django builds and compiles a queryset on every read (about 1 ms a table; 14 tables make a
    patient's cohort, most of the cost of reading one patient) and keeps no statement, so the
    compiled statement is kept here: ``build`` is called once with stand-ins for the ids, and
    each read executes its SQL with the ids in their places, converting the values as the
    ORM does (``SQLCompiler.get_converters``/``apply_converters``). Tests compare the rows with
    the ORM's own read."""
    cache: OrderedDict[tuple[Any, ...], _Compiled] | None = getattr(_COMPILED, "cache", None)
    if cache is None:
        cache = _COMPILED.cache = OrderedDict()
    key = (connection.alias, connection.settings_dict.get("NAME"), *shape, len(ids))
    found = cache.get(key)
    if found is not None:
        cache.move_to_end(key)
    else:
        stand_ins = [f"\x00bvall-patient-{i}" for i in range(len(ids))]
        qs = build(stand_ins)
        compiler = qs.query.get_compiler(using=qs.db)
        sql, params = compiler.as_sql()
        slots = tuple(i for i, p in enumerate(params) if p in stand_ins)
        if [params[i] for i in slots] != stand_ins:
            raise RuntimeError(f"cannot compile the read {shape}: {sql!r} {params!r}")
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        found = cache[key] = _Compiled(
            sql, tuple(params), slots, compiler, compiler.get_converters(fields)
        )
        while len(cache) > _COMPILED_KEPT:
            cache.popitem(last=False)
    params = list(found.params)
    for slot, pid in zip(found.slots, ids, strict=True):
        params[slot] = pid
    with connection.cursor() as cur:
        cur.execute(found.sql, params)
        rows: Iterable[Any] = cur.fetchall()
    if found.converters:
        rows = found.compiler.apply_converters(rows, found.converters)
    return [tuple(r) for r in rows]


def patient_rows(table: str, patient_id: str | None) -> list[tuple[Any, ...]]:
    """One patient's stored rows of ``table`` (``None``: the rows of no patient, the
    study-level provenance), each the primary key and then the cohort columns, in primary-key
    order, through :func:`compiled_values`."""
    cols = attnames(table)

    def build(ids: list[str]) -> Any:
        model = COHORT_MODELS[table]
        qs = (
            model.objects.filter(patient_id=ids[0])
            if ids
            else model.objects.filter(patient_id__isnull=True)
        )
        return qs.order_by("pk").values_list("pk", *cols)

    return compiled_values(
        ("patient rows", table), build, [] if patient_id is None else [patient_id]
    )


def patient_records(table: str, patient_id: str) -> list[SimpleNamespace]:
    """One patient's records of ``table`` in primary-key order, each with ``pk`` and its cohort
    columns as attributes: what a page shows of them, without building a model instance per
    record (a patient page shows several hundred)."""
    cols = attnames(table)
    return [
        SimpleNamespace(pk=row[0], **dict(zip(cols, row[1:], strict=True)))
        for row in patient_rows(table, patient_id)
    ]


def _read_rows(table: str, patient_ids: list[str] | None) -> list[dict[str, Any]]:
    """Rows of ``table`` (of ``patient_ids``, with the study-level provenance; ``None``: all)
    as dicts of cohort columns, in primary-key order: :func:`table_rows` of the queryset
    :func:`read_database` reads, through :func:`compiled_values`."""
    if patient_ids is not None and not patient_ids and table != "provenance":
        return []
    cols = attnames(table)

    def build(ids: list[str]) -> Any:
        qs = COHORT_MODELS[table].objects.all()
        if patient_ids is None:
            pass
        elif table != "provenance":
            qs = qs.filter(patient_id__in=ids)
        elif ids:
            qs = qs.filter(models.Q(patient_id__in=ids) | models.Q(patient_id__isnull=True))
        else:
            qs = qs.filter(patient_id__isnull=True)
        return qs.order_by("pk").values_list(*cols)

    shape = ("read", table, patient_ids is None)
    rows = compiled_values(shape, build, patient_ids or [])
    return [dict(zip(cols, row, strict=True)) for row in rows]


def count_rows(patient_id: str, tables: list[str]) -> dict[str, int]:
    """Rows of one patient in each of ``tables``, in one query."""
    if not tables:
        return {}
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT CAST(%s AS TEXT), COUNT(*) FROM {quote(COHORT_MODELS[t]._meta.db_table)} WHERE patient_id = %s"
        for t in tables
    )
    params: list[str] = []
    for t in tables:
        params += [t, patient_id]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {str(t): int(n) for t, n in cur.fetchall()}


_METADATA_CACHE: dict[str, tuple[float, CohortMetadata]] = {}
METADATA_CACHE_SECONDS = 10.0


def study_metadata(*, cached: bool = False) -> CohortMetadata:
    """The metadata of the cohort held in the database (name, title, synthetic, ...).

    ``cached`` (for page banners) reuses a value read in this process within the last
    :data:`METADATA_CACHE_SECONDS`; the metadata changes only when a cohort is loaded.
    """
    key = connection.settings_dict["NAME"]
    if cached and key in _METADATA_CACHE:
        when, value = _METADATA_CACHE[key]
        if time.monotonic() - when < METADATA_CACHE_SECONDS:
            return value
    value = _read_metadata()
    _METADATA_CACHE[key] = (time.monotonic(), value)
    return value


def _read_metadata() -> CohortMetadata:
    info = StudyInfo.objects.order_by("pk").first()
    if info is None:
        return CohortMetadata(name="study", title="Study database")
    return CohortMetadata.from_dict({"name": info.name, **info.metadata}, info.name)


def object_columns(table: str, rows: Sequence[Mapping[str, Any]]) -> ObjectColumns:
    """``rows`` of ``table`` (dicts by cohort column; a missing key is None) as the columns
    validation takes without a DataFrame (:class:`~bvall.cohort.validate.ObjectColumns`)."""
    return ObjectColumns({c: [r.get(c) for r in rows] for c in attnames(table)}, len(rows))


def _arrow(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = TABLES[table].arrow_schema
    cols = {c: [r[c] for r in rows] for c in schema.names}
    return pa.table(cols, schema=schema)


#: Validated cohorts read recently, by the digest of what was read (see :func:`read_database`).
_CHECKED: OrderedDict[str, Cohort] = OrderedDict()
_CHECKED_KEPT = 256
#: Reads of more rows than this are validated every time (and not kept).
CHECKED_MAX_ROWS = 50_000
_CHECKED_LOCK = threading.Lock()


def read_database(patient_ids: Iterable[str] | None = None, *, validate: bool = True) -> Cohort:
    """The database as a cohort (or only ``patient_ids``; study-level provenance is kept).

    With ``validate`` (the default) the tables go through the cohort's validation again, so a
    cohort read from the database is exactly as trustworthy as one read from files. A read equal
    to one validated before in this process (a digest of every row read, with its types, and of
    the metadata) gives that same validated cohort object without
    validating again, for reads of up to :data:`CHECKED_MAX_ROWS` rows: validation depends on
    nothing but those, and the engines then find the derivations of that object already made.
    """
    wanted = None if patient_ids is None else list(dict.fromkeys(patient_ids))
    raw = {table: _read_rows(table, wanted) for table in COHORT_MODELS}
    metadata = study_metadata()
    if not validate:
        return Cohort({t: _arrow(t, rows) for t, rows in raw.items()}, metadata)
    key = None
    if sum(len(rows) for rows in raw.values()) <= CHECKED_MAX_ROWS:
        # The rows as the database gave them, written out with their types (``repr``: 1, 1.0
        # and True differ; a float keeps every digit): equal text, equal input to the validation.
        digest = hashlib.sha256(repr(metadata).encode())
        for t, rows in raw.items():
            digest.update(f"|{t}=".encode() + repr(rows).encode())
        key = digest.hexdigest()
    if key is not None:
        with _CHECKED_LOCK:
            hit = _CHECKED.get(key)
            if hit is not None:
                _CHECKED.move_to_end(key)
                return hit
    cohort = Cohort.from_tables(
        # as the database typed them (no inference; validation takes columns of one Python type
        # as they are, and any other as a DataFrame of dtype object would hold it)
        {t: object_columns(t, rows) for t, rows in raw.items()},
        metadata,
        source="database",
    )
    if key is not None:
        with _CHECKED_LOCK:
            _CHECKED[key] = cohort
            while len(_CHECKED) > _CHECKED_KEPT:
                _CHECKED.popitem(last=False)
    return cohort


# --- writing -----------------------------------------------------------------------------------


def write_lock(patient_id: str | None = None) -> None:
    """Serialise writes that validate against other rows (call inside a transaction).

    SQLite needs nothing: BEGIN IMMEDIATE already admits one writer at a time. On PostgreSQL,
    record saves hold a shared study lock plus an exclusive lock on their patient, and imports an
    exclusive study lock, so two writers can never both pass validation against a state that
    neither of them sees (duplicates, references).
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        if patient_id is None:
            cur.execute("SELECT pg_advisory_xact_lock(7391)")
        else:
            cur.execute("SELECT pg_advisory_xact_lock_shared(7391)")
            cur.execute("SELECT pg_advisory_xact_lock(7392, hashtext(%s))", [patient_id])


@dataclass
class ImportReport:
    """What an import found and (when committed) wrote.

    ``problems`` holds the first problems found (at most the import's limit); ``problem_count``
    is how many there are in all and ``problem_summary`` their count per class, table and column.
    """

    problems: list[Problem] = field(default_factory=list)
    new_rows: dict[str, int] = field(default_factory=dict)
    committed: bool = False
    problem_count: int = 0
    problem_summary: list[dict[str, Any]] = field(default_factory=list)
    sites_created: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.problem_count

    @classmethod
    def refused(cls, problems: list[Problem]) -> ImportReport:
        """A report of problems found before validation (unreadable files, access)."""
        if isinstance(problems, ProblemList):
            return cls(
                problems, problem_count=problems.total, problem_summary=problems.summary()[:200]
            )
        summary = ProblemList()
        summary.extend(problems)
        return cls(list(problems), problem_count=len(problems), problem_summary=summary.summary())

    def to_dict(self) -> dict[str, Any]:
        """The report as the API answers it."""
        return {
            "ok": self.ok,
            "committed": self.committed,
            "problem_count": self.problem_count,
            "problems_shown": len(self.problems),
            "problem_summary": self.problem_summary,
            "problems": [p.to_dict() for p in self.problems],
            "new_rows": self.new_rows,
            "sites_created": self.sites_created,
        }


def _frame(rows: list[dict[str, Any]], table: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(attnames(table)), dtype=object)


def _scope_rows(table: str, patient_ids: list[str], study_level: bool) -> list[dict[str, Any]]:
    """Stored rows of ``table`` for ``patient_ids`` (and study-level rows when asked)."""
    model = COHORT_MODELS[table]
    rows: list[dict[str, Any]] = []
    for i in range(0, len(patient_ids), 500):  # under every database's limit of bound values
        field = "patient_id__in"
        rows += table_rows(table, model.objects.filter(**{field: patient_ids[i : i + 500]}))
    if study_level and table == "provenance":
        rows += table_rows(table, model.objects.filter(patient_id__isnull=True))
    return rows


def _combine(
    raw: Mapping[str, Any], files: Mapping[str, str], patient_ids: list[str]
) -> tuple[dict[str, pd.DataFrame], dict[str, int], list[Problem]]:
    """Stored rows of the patients concerned followed by the new rows, per table; and the
    number of stored rows. Every check of the cohort's validation relates rows of one patient
    (or study-level rows), so the other patients' rows need not be read."""
    early: list[Problem] = []
    combined: dict[str, pd.DataFrame] = {}
    offsets: dict[str, int] = {}
    for table in TABLES:
        existing = _frame(_scope_rows(table, patient_ids, "provenance" in raw), table)
        offsets[table] = len(existing)
        new = raw.get(table)
        if new is None:
            combined[table] = existing
            continue
        new = new if isinstance(new, pd.DataFrame) else pd.DataFrame(new)
        new = new.astype(object)
        for col in TABLES[table].columns:
            if col.required and col.name not in new.columns:
                early.append(
                    Problem(
                        table,
                        None,
                        col.name,
                        None,
                        f"a column '{col.name}' (required)",
                        "column",
                        files.get(table),
                    )
                )
        combined[table] = pd.concat([existing, new], ignore_index=True) if len(existing) else new
    for name in raw:
        if name not in TABLES:
            combined[name] = raw[name]
    return combined, offsets, early


_SAME_KEY = re.compile(r"same key as row (\d+)")


def _renumber(p: Problem, offsets: Mapping[str, int], files: Mapping[str, str]) -> Problem:
    """Number a problem's row as in the uploaded file; rows already stored say so."""
    off = offsets.get(p.table, 0)
    if p.row is None:
        return replace(p, file=files.get(p.table, p.file))
    if p.row <= off:
        return replace(p, file=f"database ({p.table})")
    expected = p.expected
    m = _SAME_KEY.search(expected)
    if m:
        other = int(m.group(1))
        expected = expected.replace(
            m.group(0),
            "same key as a record already in the database"
            if other <= off
            else f"same key as row {other - off}",
        )
    return replace(p, row=p.row - off, expected=expected, file=files.get(p.table, p.file))


def write_checked_rows(
    raw: Mapping[str, Any],
    *,
    patient_ids: list[str],
    files: Mapping[str, str],
    history_user: Any,
    reason: str,
    commit: bool,
    metadata: CohortMetadata | None,
    max_problems: int | None,
    before_insert: Any = None,
) -> ImportReport:
    """Validate new rows against the stored rows of ``patient_ids`` and, with ``commit``, write
    them all or none. Only :mod:`bvall.store.gate` calls this, after checking who writes.

    ``raw`` maps table names to new rows (DataFrames as read from files: text cells are fine,
    the cohort's validation types them). ``reason`` is stored with every audit record.
    ``metadata`` becomes the study's metadata when the database holds no patients yet.
    ``before_insert`` (no arguments) runs inside the transaction just before rows are written.
    """
    files = dict(files)
    problems = ProblemList(max_problems)
    with transaction.atomic():
        write_lock()
        combined, offsets, early = _combine(raw, files, patient_ids)
        problems.extend(early)
        found = ProblemList(max_problems)
        typed, _ = validate_tables(combined, {}, found, today=timezone.localdate())
        problems.absorb(found, lambda p: _renumber(p, offsets, files))
        report = ImportReport.refused(problems)
        report.new_rows = {
            t: typed[t].num_rows - offsets[t] for t in TABLES if typed[t].num_rows > offsets[t]
        }
        if problems or not commit:
            return report
        if before_insert is not None:
            before_insert()
        empty = not Patient.objects.exists()
        _insert(typed, offsets, history_user, reason)
        from bvall.store.alerts import raise_alerts  # alerts read the data back through here

        raise_alerts(_new_patients(typed, offsets), history_user)
        if metadata is not None and (empty or not StudyInfo.objects.exists()):
            _set_metadata(metadata, history_user, reason)
        report.committed = True
    return report


def _new_patients(typed: Mapping[str, pa.Table], offsets: Mapping[str, int]) -> set[str]:
    """The patients with a new row in any table."""
    out: set[str] = set()
    for table, t in typed.items():
        if t.num_rows > offsets[table] and "patient_id" in t.column_names:
            out |= {p for p in t.column("patient_id").to_pylist()[offsets[table] :] if p}
    return out


def _insert(
    typed: Mapping[str, pa.Table], offsets: Mapping[str, int], user: Any, reason: str
) -> None:
    for table in _INSERT_ORDER:
        t = typed[table]
        start = offsets[table]
        if t.num_rows <= start:
            continue
        model = COHORT_MODELS[table]
        rows = t.slice(start).to_pylist()
        bulk_create_with_history(
            [model(**r) for r in rows],
            model,
            batch_size=500,
            default_user=user,
            default_change_reason=reason,
        )


def _set_metadata(metadata: CohortMetadata, user: Any, reason: str) -> None:
    info = StudyInfo.objects.order_by("pk").first() or StudyInfo()
    data = metadata.to_dict()
    info.name = str(data.pop("name", "study"))
    info.metadata = data
    info._history_user = user
    info._change_reason = reason
    info.save()
    _METADATA_CACHE.clear()


def load_cohort_into_database(
    cohort: Cohort, *, reason: str, actor: Any = None, create_sites: bool = False
) -> ImportReport:
    """Add a cohort's rows to the database through the write gate (see
    :func:`bvall.store.gate.load_cohort`); ``actor`` defaults to the command line."""
    from bvall.store.gate import load_cohort  # the gate builds on this module

    return load_cohort(cohort, reason=reason, actor=actor, create_sites=create_sites)
