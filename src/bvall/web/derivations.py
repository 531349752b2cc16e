"""What the web layer reads from bvall's engines, and how it keeps it current.

A page derives what it shows in the request, from the data as they are in the database: the
engines derive a patient in milliseconds, so there is no background process, no shared folder and
nothing shown "as of" an older derivation. Each worker keeps the last derivation of each patient
in memory under the patient's *data token* (:func:`patient_tokens`: per append-only history table,
the count, last id and last time of the patient's history rows). A page reads the token, derives
the patients whose token changed, reads what it shows beside them and reads the token again: if a
save landed in between it starts again (:func:`read_consistent`), so grades, alerts and episodes
are never older than the data on the same page. Stored alerts (:mod:`bvall.store.alerts`) are
raised in the transaction of the save itself.

Cohort-wide views (the live analysis, trial monitoring) read the whole database once per
:func:`data_version` in each worker.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Any, TypeVar

_log = logging.getLogger("bvall.web.derivations")
T = TypeVar("T")


@dataclass(frozen=True)
class Derivations:
    """What the engines derive for a set of patients (PyArrow tables as rows)."""

    grades: list[dict[str, Any]]
    crs: list[dict[str, Any]]
    icans: list[dict[str, Any]]
    tls: list[dict[str, Any]]
    response: list[dict[str, Any]]
    deviations: Any  # bvall.regimen.DeviationReport
    patients: dict[str, dict[str, Any]]
    courses: list[dict[str, Any]]

    def only(self, patient_ids: list[str]) -> Derivations:
        """The rows of these patients (every engine row names its patient)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        ids = set(patient_ids)

        def keep(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [r for r in rows if r["patient_id"] in ids]

        def table(t: pa.Table) -> pa.Table:
            return t.filter(
                pc.is_in(
                    t["patient_id"], value_set=pa.array(sorted(ids), type=t["patient_id"].type)
                )
            )

        dev = self.deviations
        mine = replace(
            dev,
            events=table(dev.events),
            summary=table(dev.summary),
            daily=table(dev.daily),
            notes=tuple(n for n in dev.notes if any(pid in n for pid in ids)),
            plans={k: v for k, v in dev.plans.items() if k[0] in ids},
        )
        return Derivations(
            grades=keep(self.grades),
            crs=keep(self.crs),
            icans=keep(self.icans),
            tls=keep(self.tls),
            response=keep(self.response),
            deviations=mine,
            patients={k: v for k, v in self.patients.items() if k in ids},
            courses=keep(self.courses),
        )


def cohort_of(patient_ids: list[str] | None = None) -> Any:
    """The :class:`~bvall.cohort.Cohort` the engines take: the database (or these patients),
    validated, through the store's one conversion."""
    from bvall.store.convert import read_database

    return read_database(patient_ids)


def derive_all(cohort: Any, today: dt.date | None = None) -> Derivations:
    """Every derivation the pages show, for the patients of ``cohort``, judged as of ``today``
    (default: the server's date): plan days after it are still planned, not missed."""
    from bvall.criteria import derive
    from bvall.regimen import derive_deviations

    def rows(name: str) -> list[dict[str, Any]]:
        return list(derive(cohort, name).to_pylist())

    return Derivations(
        grades=rows("grades"),
        crs=rows("crs"),
        icans=rows("icans"),
        tls=rows("tls"),
        response=rows("response"),
        deviations=derive_deviations(cohort, today=today or dt.date.today()),
        patients={r["patient_id"]: r for r in cohort["patients"].to_pylist()},
        courses=cohort["treatment_courses"].to_pylist(),
    )


def combine(parts: list[Derivations]) -> Derivations:
    """The derivations of several patients as one."""
    import pyarrow as pa

    def cat(name: str) -> list[dict[str, Any]]:
        return [r for p in parts for r in getattr(p, name)]

    devs = [p.deviations for p in parts]
    dev = replace(
        devs[0],
        events=pa.concat_tables([d.events for d in devs]),
        summary=pa.concat_tables([d.summary for d in devs]),
        daily=pa.concat_tables([d.daily for d in devs]),
        notes=tuple(n for d in devs for n in d.notes),
        plans={k: v for d in devs for k, v in d.plans.items()},
    )
    return Derivations(
        grades=cat("grades"),
        crs=cat("crs"),
        icans=cat("icans"),
        tls=cat("tls"),
        response=cat("response"),
        deviations=dev,
        patients={k: v for p in parts for k, v in p.patients.items()},
        courses=cat("courses"),
    )


@cache
def no_patients() -> Derivations:
    """The derivations of no patient (empty rows; the regimen comparison of an empty cohort)."""
    import pandas as pd

    from bvall.cohort import TABLES, Cohort
    from bvall.regimen import derive_deviations

    columns = [c.name for c in TABLES["patients"].columns]
    empty = Cohort.from_tables({"patients": pd.DataFrame(columns=columns)})
    return Derivations([], [], [], [], [], derive_deviations(empty), {}, [])


def data_version() -> tuple[Any, ...]:
    """A token that changes whenever any data change: per history table (every insert, change
    and deletion of a record writes one history row; they are append-only) the number of rows,
    the last id and the last time. One statement of one aggregate per table (built once,
    :func:`_version_statement`), unlike reading the data."""
    from django.db import connection

    sql = _version_statement(connection.vendor)
    with connection.cursor() as cur:
        cur.execute(sql)
        rows = sorted(cur.fetchall())
    parts: list[Any] = [connection.settings_dict.get("NAME")]
    parts += [(n, last, None if at is None else str(at)) for _, n, last, at in rows]
    return tuple(parts)


@lru_cache(maxsize=8)
def _version_statement(vendor: str) -> str:
    """The statement of :func:`data_version` on a database of ``vendor``: per history table,
    in a fixed order, its index, row count, last id and last time."""
    from django.db import connection

    from bvall.store.models import COHORT_MODELS, StudyInfo

    q = connection.ops.quote_name
    selects = []
    for i, model in enumerate([*COHORT_MODELS.values(), StudyInfo]):
        meta = model.history.model._meta  # type: ignore[attr-defined]
        pk, at = q(meta.pk.column), q(meta.get_field("history_date").column)
        selects.append(f"SELECT {i}, COUNT(*), MAX({pk}), MAX({at}) FROM {q(meta.db_table)}")
    return " UNION ALL ".join(selects)


def patient_tokens(patient_ids: list[str] | None = None) -> dict[str, tuple[Any, ...]]:
    """A token per patient that changes whenever one of the patient's records, or a
    study-level record (provenance, study information), is inserted, changed or deleted: per
    history table the number of the patient's history rows, the last id and the last time.
    The history tables are append-only and indexed by patient, so this costs indexed
    aggregates, unlike reading the data. ``None``: every patient in the database.

    One statement (a ``UNION ALL`` of one grouped aggregate per history table) rather than
    fifteen ORM queries: each page asks for it, and on PostgreSQL every query is a round trip.
    The ORM cannot express a union of grouped aggregates over different models; the SQL uses
    only the models' own table and column names (quoted) and passes the patients as parameters.
    """
    from django.db import connection

    ids = list(patient_ids) if patient_ids is not None else None
    if ids is not None and not ids:
        return {}
    sql, sources, per_id = _tokens_statement(connection.vendor, None if ids is None else len(ids))
    params: list[Any] = []
    for _ in range(per_id):
        params += ids or []
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    common: list[Any] = [connection.settings_dict.get("NAME")]
    per: dict[str, list[Any]] = {}
    present: set[str] = set()
    for i, pid, n, last, when in sorted(rows, key=lambda r: (r[0], str(r[1]))):
        if i == -1:
            present.add(pid)
        elif pid is None:
            common.append((sources[i], n, last, str(when)))
        else:
            per.setdefault(pid, []).append((sources[i], n, last, str(when)))
    return {pid: (*common, *per.get(pid, ())) for pid in sorted(present)}


@lru_cache(maxsize=64)
def _tokens_statement(vendor: str, n: int | None) -> tuple[str, tuple[str, ...], int]:
    """The statement of :func:`patient_tokens` for ``n`` patients (``None``: all) on a
    database of ``vendor``: its SQL, the table of each source index and how many times the
    patient ids are passed. Built once per shape (reading each model's history model through
    its descriptor builds a manager class each time: 15 of them, a few ms a page)."""
    from django.db import connection

    from bvall.store.models import COHORT_MODELS, Patient, StudyInfo

    q = connection.ops.quote_name
    where_in = f" IN ({', '.join(['%s'] * n)})" if n else ""
    sources: list[tuple[str, Any, bool]] = [("study_info", StudyInfo, False)]
    sources += [(name, m, name != "provenance") for name, m in COHORT_MODELS.items()]
    selects: list[str] = []
    per_id = 0
    for i, (_, model, per_patient) in enumerate(sources):
        meta = model.history.model._meta
        pk, at = q(meta.pk.column), q(meta.get_field("history_date").column)
        head = f"SELECT {i}, %s, COUNT(*), MAX({pk}), MAX({at}) FROM {q(meta.db_table)}"
        if not per_patient:  # study-level: one row for the whole table
            selects.append(head.replace("%s", "NULL", 1))
            continue
        col = q("patient_id")
        sql = head.replace("%s", col, 1)
        if n is not None:
            sql += f" WHERE {col}{where_in}"
            per_id += 1
        selects.append(f"{sql} GROUP BY {col}")
    live = f"SELECT -1, {q('patient_id')}, 0, 0, NULL FROM {q(Patient._meta.db_table)}"
    if n is not None:
        live += f" WHERE {q('patient_id')}{where_in}"
        per_id += 1
    selects.append(live)
    return " UNION ALL ".join(selects), tuple(name for name, _, _ in sources), per_id


#: Patients whose last derivation a worker keeps (their data token and rows).
CACHE_PATIENTS = 512
_PATIENTS: OrderedDict[str, tuple[tuple[Any, ...], Derivations]] = OrderedDict()
#: One derivation at a time in a worker (the engines' connection and compiled plans are shared).
#: Only a request that needs a derivation takes it: one whose patients are derived already
#: never waits for another patient's derivation.
_DERIVE_LOCK = threading.Lock()
#: patient -> data token, asked for by requests waiting for the derivation lock
_WANTED: dict[str, tuple[Any, ...]] = {}
#: Held briefly around every read and change of :data:`_PATIENTS` and :data:`_WANTED`.
_STATE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Current:
    """The derivations of some patients and the data tokens they were derived at."""

    derivations: Derivations
    tokens: dict[str, tuple[Any, ...]]


def current_derivations(patient_ids: list[str]) -> Current:
    """The derivations of ``patient_ids`` for their data as they are now: the patients whose
    data token changed since this worker last derived them are derived again.

    Requests that need a derivation while another is running leave their patients in a queue;
    the next derivation takes every patient queued (one engine run for all: its cost hardly
    depends on the number of patients), so many first views at once do not queue one by one.
    A request whose patients are all derived at their current tokens takes them at once."""
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        return Current(no_patients(), {})
    tokens = patient_tokens(ids)
    known = [pid for pid in ids if pid in tokens]
    # plan days fall due with the calendar: the day is part of the cache key. The study's day
    # (the configured time zone), as the page's study day and status and its kept body's key
    # (bvall.web.rendered) use, not the server's own
    from django.utils import timezone

    today = timezone.localdate()
    keys = {pid: (*tokens[pid], today) for pid in known}
    with _STATE_LOCK:
        found = [_cached(pid, keys[pid]) for pid in known]
        for pid, hit in zip(known, found, strict=True):
            if hit is None:
                _WANTED[pid] = keys[pid]
            else:
                _PATIENTS.move_to_end(pid)
    parts = [hit for hit in found if hit is not None]
    if len(parts) < len(known):
        parts = _derive_wanted(known, keys, today)
    if not parts:
        return Current(no_patients(), tokens)
    return Current(parts[0] if len(parts) == 1 else combine(parts), tokens)


def _derive_wanted(
    known: list[str], keys: dict[str, tuple[Any, ...]], today: dt.date
) -> list[Derivations]:
    """Derive, under the derivation lock, every patient queued whose derivation is not kept at
    its token (``known`` among them); the derivations of ``known``."""
    with _DERIVE_LOCK:
        with _STATE_LOCK:
            batch = {p: k for p, k in _WANTED.items() if _cached(p, k) is None and k[-1] == today}
            _WANTED.clear()
            batch.update({p: keys[p] for p in known if _cached(p, keys[p]) is None})
        if batch:
            t0 = time.perf_counter()
            stale = sorted(batch)
            whole = derive_all(cohort_of(stale), today)
            made = {pid: whole.only([pid]) if len(stale) > 1 else whole for pid in stale}
            _log.info("derived %s in %.3f s", ", ".join(stale), time.perf_counter() - t0)
        else:
            made = {}
        with _STATE_LOCK:
            for pid, derived in made.items():
                _PATIENTS[pid] = (batch[pid], derived)
                _PATIENTS.move_to_end(pid)
            parts = [made[pid] if pid in made else _PATIENTS[pid][1] for pid in known]
            while len(_PATIENTS) > CACHE_PATIENTS:
                _PATIENTS.popitem(last=False)
    return parts


def _cached(pid: str, token: tuple[Any, ...]) -> Derivations | None:
    """The kept derivation of ``pid`` at ``token`` (hold :data:`_STATE_LOCK`)."""
    hit = _PATIENTS.get(pid)
    return hit[1] if hit is not None and hit[0] == token else None


#: How often a page starts again when saves keep landing while it reads.
READ_ATTEMPTS = 5


def read_consistent(patient_ids: list[str], read: Callable[[Current], T]) -> tuple[Current, T]:
    """The current derivations of ``patient_ids`` and ``read(current)`` (what a page shows beside
    them), both of the same data: when the patients' tokens changed while ``read`` ran (a save
    landed), both are read again. The tokens only grow (append-only history), so equal tokens
    before and after mean no save touched these patients in between."""
    for _ in range(READ_ATTEMPTS - 1):
        current = current_derivations(patient_ids)
        got = read(current)
        if patient_tokens(list(current.tokens)) == current.tokens:
            return current, got
    _log.warning("data of %s kept changing; deriving under the write lock", patient_ids)
    from django.db import transaction

    from bvall.store.convert import write_lock

    with transaction.atomic():  # the last attempt holds off writers of these patients
        for pid in sorted(patient_ids):
            write_lock(pid)
        current = current_derivations(patient_ids)
        return current, read(current)


# --- the whole database, for cohort-wide views --------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The database read as a validated cohort at a data version, with its fingerprint."""

    version: tuple[Any, ...]
    cohort: Any  # bvall.cohort.Cohort
    fingerprint: str
    patient_ids: tuple[str, ...]


_READ_LOCK = threading.Lock()
_SNAPSHOT: list[Snapshot] = []


def database_snapshot() -> Snapshot:
    """The whole database as a cohort, read once per data version (the latest only)."""
    version = data_version()
    with _READ_LOCK:
        if _SNAPSHOT and _SNAPSHOT[0].version == version:
            return _SNAPSHOT[0]
        cohort = cohort_of(None)
        ids = tuple(cohort["patients"].column("patient_id").to_pylist())
        snap = Snapshot(version, cohort, cohort.fingerprint(), ids)
        _SNAPSHOT[:] = [snap]
        return snap


def clear_caches() -> None:
    """Forget every cached derivation (tests; a database restored under the server)."""
    from bvall.web import live, monitoring, rendered

    rendered.clear()
    with _READ_LOCK:
        _SNAPSHOT.clear()
    with _DERIVE_LOCK, _STATE_LOCK:
        _PATIENTS.clear()
    live.clear_cache()
    monitoring.clear_cache()
