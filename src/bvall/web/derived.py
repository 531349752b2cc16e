"""The one place where the web layer asks bvall's engines for derived results.

Pages and the API show derived values (grades, alerts, episodes, response, plan against doses,
the live analysis, the report, trial monitoring) only through the functions here. Each returns a
:class:`Panel`; a panel whose engine is not part of this build says so plainly and carries no
values — the web app never computes a clinical result of its own.

Integration slots: the function here, the engine, and what it will call on
``cohort_of(patient_ids)`` (the store's validated cohort) once that engine is on main:

==============================  ===================  ==============================================
function (panel key)            engine               call
==============================  ===================  ==============================================
``patient_panels(pid)``
  ``plan_vs_doses``             ``bvall.regimen``    ``derive_deviations(cohort)`` (the plan from
                                                     ``plan_regimen(...)`` beside the doses given)
  ``grades_alerts``             ``bvall.criteria``   ``derive(cohort, "grades")`` and its alerts
  ``episodes``                  ``bvall.criteria``   ``derive(cohort, "crs" | "icans" | "tls")``
  ``response``                  ``bvall.criteria``   ``derive(cohort, "response")``
``lab_grade_bands(pid)``        ``bvall.criteria``   CTCAE v5.0 bands of the charted tests
``cohort_alerts(ids)``          ``bvall.criteria``   ``derive(cohort, "grades")``: current alerts
``analysis_panel()``            ``bvall.stats``      the report's tables and figures on the data
``report_panel()``              ``bvall.report``     HTML / PDF / DOCX of the analysis
``trial_monitoring_panel()``    ``bvall.design``     stopping boundaries against accrued data
==============================  ===================  ==============================================

Every derived row from the criteria engine carries ``rule_id``, ``rule_version``, ``inputs`` and
``explanation``; the templates show the explanation beside each value.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from bvall.criteria.alerts import ALERT_RULES, AlertRule, classify_lab_alerts

_log = logging.getLogger("bvall.web.derived")

#: Engines by package, with the name a user reads.
ENGINES: dict[str, str] = {
    "bvall.regimen": "regimen planner",
    "bvall.criteria": "criteria engine",
    "bvall.stats": "statistics",
    "bvall.report": "report renderer",
    "bvall.design": "trial design",
}

#: panel -> (title, package, what the panel will show)
PANELS: dict[str, tuple[str, str, str]] = {
    "plan_vs_doses": (
        "Plan against doses given",
        "bvall.regimen",
        "the day-by-day plan of the patient's regimen beside the doses recorded, with deviations",
    ),
    "grades_alerts": (
        "Grades and alerts",
        "bvall.criteria",
        "CTCAE v5.0 grades of the labs and the alerts they raise, each with its rule and inputs",
    ),
    "lab_grade_bands": (
        "CTCAE grade bands",
        "bvall.criteria",
        "the CTCAE v5.0 grade bands behind each lab chart",
    ),
    "episodes": (
        "CRS, ICANS and TLS episodes",
        "bvall.criteria",
        "ASTCT CRS and ICANS grades and Cairo–Bishop/Howard TLS, each with its explanation",
    ),
    "response": (
        "Derived response",
        "bvall.criteria",
        "the NCCN response derived from marrow and counts, beside the reported one",
    ),
    "cohort_alerts": (
        "Current alerts",
        "bvall.criteria",
        "each patient's current alerts",
    ),
    "analysis": (
        "Live analysis",
        "bvall.stats",
        "the report's tables and figures (response rates with intervals, exact tests, "
        "survival) on the current data",
    ),
    "report": (
        "Report download",
        "bvall.report",
        "the analysis report as HTML, PDF and DOCX",
    ),
    "trial_monitoring": (
        "Trial monitoring",
        "bvall.design",
        "the phase II design's stopping boundaries against the accruing data",
    ),
}


@dataclass(frozen=True)
class Panel:
    """A derived panel: available with rows, or unavailable with the reason in words."""

    key: str
    title: str
    available: bool
    message: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    alerts: int = 0
    details: list[dict[str, Any]] = field(default_factory=list)


def engine_installed(package: str) -> bool:
    """Whether ``package`` is part of this build."""
    try:
        return importlib.util.find_spec(package) is not None
    except ModuleNotFoundError:
        return False


def panel(key: str) -> Panel:
    """The panel ``key`` for the current build.

    Until a panel is wired to its engine it is unavailable: "not installed" when the engine's
    package is absent, "not connected yet" when the package exists but this page does not
    call it yet. Neither case shows any value.
    """
    title, package, what = PANELS[key]
    engine = ENGINES[package]
    if not engine_installed(package):
        return Panel(
            key,
            title,
            False,
            f"The {engine} ({package}) is not installed in this build. Once it is, this shows "
            f"{what}. No value is estimated in its place.",
        )
    return Panel(
        key,
        title,
        False,
        f"The {engine} ({package}) is installed but not yet connected to this page. Once it "
        f"is, this shows {what}. No value is estimated in its place.",
    )


def cohort_of(patient_ids: list[str] | None = None) -> Any:
    """The :class:`~bvall.cohort.Cohort` the engines take: the database (or these patients),
    validated, through the store's one conversion. The wired panels call this."""
    from bvall.store.convert import read_database

    return read_database(patient_ids)


# --- derivations of the whole database, cached by its content -----------------------------------


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


@dataclass(frozen=True)
class Snapshot:
    """The database read as a validated cohort, with its content fingerprint, the version
    token (from the append-only history tables) it was read at, and a content key per patient
    (a hash of the patient's rows in every table and of the study-level rows)."""

    version: tuple[Any, ...]
    cohort: Any  # bvall.cohort.Cohort
    fingerprint: str
    patient_ids: tuple[str, ...]
    patient_keys: dict[str, str]


#: One derivation of the database at a time: a page that needs one while another (the start-up
#: warm-up, another page) is running waits for it instead of deriving the same data again.
_DERIVE_LOCK = threading.Lock()
#: The same for the live analysis (tables and figures), which derives on its own.
_ANALYSIS_LOCK = threading.Lock()
_READ_LOCK = threading.Lock()
_SNAPSHOTS: OrderedDict[tuple[Any, ...], Snapshot] = OrderedDict()
_CACHE_SIZE = 4
#: patient id -> (the patient's content key, the engines' rows of that patient)
_PATIENTS: dict[str, tuple[str, Derivations]] = {}
#: fingerprint -> the whole database's derivation (assembled from _PATIENTS)
_CACHE: OrderedDict[str, Derivations] = OrderedDict()
#: Whether this process has derived (the criteria engine compiles its SQL once per process).
_COMPILED: list[bool] = []


def data_version() -> tuple[Any, ...]:
    """A token that changes whenever the data change: per history table (every insert, change
    and deletion of a record writes one history row; they are append-only) the number of rows,
    the last id and the last time. Cheap (one aggregate per table), unlike reading the data."""
    from django.db import connection
    from django.db.models import Count, Max

    from bvall.store.models import COHORT_MODELS, StudyInfo

    parts: list[Any] = [connection.settings_dict.get("NAME")]
    for model in [*COHORT_MODELS.values(), StudyInfo]:
        history = model.history.model  # type: ignore[attr-defined]
        agg = history.objects.aggregate(n=Count("pk"), last=Max("pk"), at=Max("history_date"))
        parts.append((agg["n"], agg["last"], agg["at"].isoformat() if agg["at"] else None))
    return tuple(parts)


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

    from bvall.store.models import COHORT_MODELS, Patient, StudyInfo

    q = connection.ops.quote_name
    ids = list(patient_ids) if patient_ids is not None else None
    where_in = f" IN ({', '.join(['%s'] * len(ids))})" if ids else ""
    if ids is not None and not ids:
        return {}
    sources: list[tuple[str, Any, bool]] = [("study_info", StudyInfo, False)]
    sources += [(n, m, n != "provenance") for n, m in COHORT_MODELS.items()]
    selects: list[str] = []
    params: list[Any] = []
    for i, (_, model, per_patient) in enumerate(sources):
        meta = model.history.model._meta
        pk, at = q(meta.pk.column), q(meta.get_field("history_date").column)
        head = f"SELECT {i}, %s, COUNT(*), MAX({pk}), MAX({at}) FROM {q(meta.db_table)}"
        if not per_patient:  # study-level: one row for the whole table
            selects.append(head.replace("%s", "NULL", 1))
            continue
        col = q("patient_id")
        sql = head.replace("%s", col, 1)
        if ids is not None:
            sql += f" WHERE {col}{where_in}"
            params += ids
        selects.append(f"{sql} GROUP BY {col}")
    live = f"SELECT -1, {q('patient_id')}, 0, 0, NULL FROM {q(Patient._meta.db_table)}"
    if ids is not None:
        live += f" WHERE {q('patient_id')}{where_in}"
        params += ids
    selects.append(live)
    with connection.cursor() as cur:
        cur.execute(" UNION ALL ".join(selects), params)
        rows = cur.fetchall()
    common: list[Any] = [connection.settings_dict.get("NAME")]
    per: dict[str, list[Any]] = {}
    present: set[str] = set()
    for i, pid, n, last, when in sorted(rows, key=lambda r: (r[0], str(r[1]))):
        if i == -1:
            present.add(pid)
        elif pid is None:
            common.append((sources[i][0], n, last, str(when)))
        else:
            per.setdefault(pid, []).append((sources[i][0], n, last, str(when)))
    return {pid: (*common, *per.get(pid, ())) for pid in sorted(present)}


def compute_patient_keys(cohort: Any) -> dict[str, str]:
    """A content key per patient: SHA-256 of the patient's rows in every table, and of every
    row that belongs to no patient (study-level provenance) and the study metadata, so that a
    change to shared rows changes every key."""
    import hashlib
    import json

    ids = list(cohort["patients"].column("patient_id").to_pylist())
    common = hashlib.sha256(
        json.dumps(cohort.metadata.to_dict(), sort_keys=True, default=str).encode()
    )
    per: dict[str, Any] = {pid: hashlib.sha256() for pid in ids}
    for name in cohort.table_names:
        t = cohort[name]
        if "patient_id" not in t.column_names:
            common.update(f"{name}:{t.to_pylist()!r}".encode())
            continue
        for row in t.to_pylist():
            target = per.get(row["patient_id"], common)
            target.update(f"{name}:{sorted(row.items())!r}".encode())
    shared = common.hexdigest()
    return {
        pid: hashlib.sha256((h.hexdigest() + shared).encode()).hexdigest() for pid, h in per.items()
    }


def database_snapshot() -> Snapshot:
    """The whole database as a cohort, read once per data version."""
    version = data_version()
    with _READ_LOCK:
        hit = _SNAPSHOTS.get(version)
        if hit is None:
            cohort = cohort_of(None)
            ids = tuple(cohort["patients"].column("patient_id").to_pylist())
            hit = Snapshot(version, cohort, cohort.fingerprint(), ids, compute_patient_keys(cohort))
            _SNAPSHOTS[version] = hit
            while len(_SNAPSHOTS) > _CACHE_SIZE:
                _SNAPSHOTS.popitem(last=False)
        else:
            _SNAPSHOTS.move_to_end(version)
        return hit


def _derive_all(cohort: Any) -> Derivations:
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
        # judged as of the day derived: days after it are still planned, not missed
        deviations=derive_deviations(cohort, today=dt.date.today()),
        patients={r["patient_id"]: r for r in cohort["patients"].to_pylist()},
        courses=cohort["treatment_courses"].to_pylist(),
    )


def _combine(parts: list[Derivations]) -> Derivations:
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


def _current(snap: Snapshot, pid: str) -> Derivations | None:
    hit = _PATIENTS.get(pid)
    return hit[1] if hit is not None and hit[0] == snap.patient_keys.get(pid) else None


def _ensure(snap: Snapshot, patient_ids: list[str]) -> list[Derivations]:
    """The rows of ``patient_ids`` for this snapshot; patients whose data changed since their
    last derivation are derived again, all in one derivation (under the one lock)."""
    wanted = [pid for pid in patient_ids if pid in snap.patient_keys]
    found = [_current(snap, pid) for pid in wanted]
    if all(f is not None for f in found):  # no wait while another derivation runs
        return [f for f in found if f is not None]
    with _DERIVE_LOCK:
        # everything the database holds that is stale, not only what was asked: the cost of
        # a derivation hardly depends on the number of patients
        stale = [pid for pid in snap.patient_ids if _current(snap, pid) is None]
        if stale:
            with _shared_lock() as shared:
                if shared is not None:  # another worker of this server may have derived them
                    for pid in stale:
                        got = _read_shared(shared, snap.patient_keys[pid])
                        if got is not None:
                            _PATIENTS[pid] = (snap.patient_keys[pid], got)
                    stale = [pid for pid in stale if _current(snap, pid) is None]
                if stale:
                    whole = len(stale) == len(snap.patient_ids)
                    t0 = time.perf_counter()
                    d = _derive_all(snap.cohort if whole else snap.cohort.subset(stale))
                    _COMPILED.append(True)
                    _log.info(
                        "derived %s in %.1f s",
                        "all patients" if whole else ", ".join(stale),
                        time.perf_counter() - t0,
                    )
                    for pid in stale:
                        mine = d.only([pid])
                        _PATIENTS[pid] = (snap.patient_keys[pid], mine)
                        if shared is not None:
                            _write_shared(shared, snap.patient_keys[pid], mine)
                    if shared is not None:  # forget the derivations of data no longer there
                        keep = {f"{k}.pickle" for k in snap.patient_keys.values()}
                        for f in shared.glob("*.pickle"):
                            if f.name not in keep:
                                f.unlink(missing_ok=True)
            for pid in list(_PATIENTS):
                if pid not in snap.patient_keys:
                    del _PATIENTS[pid]
        out = [_current(snap, pid) for pid in wanted]
    return [f for f in out if f is not None]


#: Set by ``bvall serve`` to a folder of its own (removed when it stops): the workers of one
#: server share their derivations there, so the data are derived once, not once per worker.
SHARED_CACHE_ENV = "BVALL_DERIVED_CACHE"


@contextmanager
def _shared_lock() -> Iterator[Path | None]:
    """The server-wide lock (an exclusive ``flock`` on a file in the shared folder): the
    first worker derives, the others wait and read its result. ``None`` outside ``bvall serve``."""
    import fcntl
    import os

    folder = os.environ.get(SHARED_CACHE_ENV)
    if not folder or not Path(folder).is_dir():
        yield None
        return
    with open(Path(folder) / "derive.lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield Path(folder)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_shared(folder: Path, key: str) -> Derivations | None:
    import pickle

    path = folder / f"{key}.pickle"
    if not path.exists():
        return None
    # written by this server's own workers into its private folder (mode 0700), keyed by the
    # SHA-256 of the patient's data: never a file from elsewhere
    with open(path, "rb") as fh:
        got = pickle.load(fh)
    return got if isinstance(got, Derivations) else None


def _write_shared(folder: Path, key: str, d: Derivations) -> None:
    import os
    import pickle

    tmp = folder / f".{key}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(d, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, folder / f"{key}.pickle")


def database_derivations() -> tuple[Snapshot, Derivations]:
    """The engines' results for every patient in the database. The database is derived as a
    whole once (deriving 13 patients costs what deriving one does); after a save only the
    patients whose rows changed are derived again. Every patient page, the cohort list and the
    API read these, filtered by patient."""
    snap = database_snapshot()
    hit = _CACHE.get(snap.fingerprint)
    if hit is None:
        parts = _ensure(snap, list(snap.patient_ids))
        hit = _combine(parts) if parts else _derive_all(snap.cohort)
        _CACHE[snap.fingerprint] = hit
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return snap, hit


def derivations(patient_ids: list[str], what: tuple[str, ...] = ("all",)) -> Derivations:
    """The engines' results for ``patient_ids``, from the cache of the database's derivation.

    Each engine derives patient by patient, so these are the rows a cohort of exactly these
    patients gives (tests/web/test_derived.py checks this against the engines). ``what`` is
    kept for callers; everything is derived for the whole database at once.
    """
    snap = database_snapshot()
    parts = _ensure(snap, list(dict.fromkeys(patient_ids)))
    if not parts:
        return _empty(snap)
    return parts[0] if len(parts) == 1 else _combine(parts)


@dataclass(frozen=True)
class Latest:
    """The latest derivations of some patients, and how current they are.

    ``stale`` names the patients whose data changed after ``as_of`` (the time the data they
    were derived from were read): their rows are the previous derivation while the server's
    deriver derives them again. Pages say so beside the values; values entered are never
    hidden (the tables and charts read the data themselves)."""

    derivations: Derivations
    as_of: Any  # datetime (aware)
    stale: tuple[str, ...] = ()


#: How long a page that asked for current derivations waits for the deriver before it shows
#: the previous ones, marked (a browser gives up on a page long before gunicorn's timeout).
WAIT_SECONDS = 25.0


def latest(patient_ids: list[str], *, wait: bool = False) -> Latest:
    """The derivations of ``patient_ids`` for a page.

    Outside ``bvall serve`` (tests, the Django shell) they are derived here and now. Under
    ``bvall serve`` the deriver process keeps them current (:mod:`bvall.web.deriver`): a page
    reads its latest published derivation, marked stale for a patient whose data changed since,
    so that no page waits for the engines while others save. ``wait=True`` (the page shown to
    the user who just saved, the JSON API) waits until the deriver has read the data as they are
    now, up to :data:`WAIT_SECONDS`, then shows what there is, marked."""
    from django.db import connection
    from django.utils import timezone

    from bvall.web import deriver

    ids = list(dict.fromkeys(patient_ids))
    if not ids:  # nobody to show (a filter that matches no patient): nothing to derive
        return Latest(_no_patients(), timezone.now())
    folder = deriver.folder()
    if folder is None or not deriver.alive(folder):
        if folder is not None:
            _log.error("the server's deriver process is not running; this page derives itself")
        return Latest(derivations(ids), timezone.now())
    start = timezone.now()
    tokens = patient_tokens(ids)
    known = [pid for pid in ids if pid in tokens]
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        index = deriver.read_index(folder)
        if index is not None and index.database != connection.settings_dict.get("NAME"):
            index = None  # published for another database
        fresh = index is not None and index.read_at >= start
        missing = [pid for pid in known if index is None or pid not in index.patients]
        behind = [
            pid
            for pid in known
            if pid not in missing and index is not None and index.patients[pid][0] != tokens[pid]
        ]
        if not missing and (not wait or not behind or fresh):
            break
        if time.monotonic() > deadline:
            if missing:  # never derived: derive here rather than show nothing
                _log.warning("deriver has not published %s; deriving here", ", ".join(missing))
                return Latest(derivations(ids), timezone.now())
            break
        time.sleep(0.1)
    assert index is not None
    parts = []
    for pid in known:
        got = deriver.load_patient(folder, pid, index.patients[pid][1])
        if got is None:  # removed since the index was read (the data changed again)
            return Latest(derivations(ids), timezone.now())
        parts.append(got)
    if not parts:
        return Latest(_no_patients(), index.read_at)
    d = parts[0] if len(parts) == 1 else _combine(parts)
    return Latest(d, index.read_at, () if fresh else tuple(behind))


@cache
def _no_patients() -> Derivations:
    """The derivations of no patient (empty rows; the regimen comparison of an empty cohort,
    which takes a millisecond), without reading or deriving the database."""
    import pandas as pd

    from bvall.cohort import TABLES, Cohort
    from bvall.regimen import derive_deviations

    columns = [c.name for c in TABLES["patients"].columns]
    empty = Cohort.from_tables({"patients": pd.DataFrame(columns=columns)})
    return Derivations([], [], [], [], [], derive_deviations(empty), {}, [])


def _empty(snap: Snapshot) -> Derivations:
    _, whole = database_derivations()
    return whole.only([])


def clear_caches() -> None:
    """Forget every cached derivation (tests; a database restored under the server)."""
    with _READ_LOCK:
        _SNAPSHOTS.clear()
    with _DERIVE_LOCK:
        _CACHE.clear()
        _PATIENTS.clear()
    with _ANALYSIS_LOCK:
        _ANALYSES.clear()
    _EVALUATIONS.clear()


def _available(key: str, rows: list[dict[str, Any]], message: str = "", **extra: Any) -> Panel:
    return Panel(key, PANELS[key][0], True, message, rows, **extra)


def _day(day: Any, time: Any = None) -> str:
    if day is None:
        return "day ?"
    return f"D{day}" + (f" {time}" if time else "")


def _row(label: str, value: str, src: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "label": label,
        "value": value,
        "explanation": src.get("explanation") or "",
        "rule_id": src.get("rule_id") or "",
        "rule_version": src.get("rule_version") or "",
        **extra,
    }


def _sort_key(g: dict[str, Any]) -> tuple[int, str]:
    return (g["day"] if g["day"] is not None else -10_000, g["time"] or "")


def _alert_row(a: dict[str, Any]) -> dict[str, Any]:
    rule: AlertRule = a["alert_rule"]
    if a["previous"] is not None:
        p = a["previous"]
        value = f"grade {p['grade']} → {a['grade']}"
        why = f"{a['explanation']} (previous: {_day(p['day'], p['time'])} grade {p['grade']})"
    else:
        value = f"grade {a['grade']}"
        why = a["explanation"]
    return {
        "label": f"{_day(a['day'], a['time'])} {a['term']}",
        "value": value,
        "explanation": why,
        "rule_id": a["rule_id"],
        "rule_version": a["rule_version"],
        "alert": True,
        "alert_rule": rule.rule_id,
        "alert_source": rule.source,
        "day": a["day"],
    }


#: Alerts of the latest this many graded study days are listed on the patient page.
RECENT_DAYS = 3


def _grades_panel(d: Derivations) -> Panel:
    grades = d.grades
    alerts = classify_lab_alerts(grades)
    latest: dict[str, dict[str, Any]] = {}
    for g in sorted(grades, key=_sort_key):
        latest[g["term_id"]] = g
    # the page shows the alerts of the latest RECENT_DAYS graded days; the API has them all
    days = [g["day"] for g in grades if g["day"] is not None]
    since = max(days) - RECENT_DAYS + 1 if days else None
    recent = [a for a in alerts if since is None or (a["day"] is not None and a["day"] >= since)]
    rows = [_alert_row(a) for a in reversed(recent)]
    for g in sorted(latest.values(), key=lambda g: g["term"]):
        value = f"grade {g['grade']}" if g["grade"] is not None else "not gradable"
        rows.append(
            _row(
                f"latest {g['term']} ({_day(g['day'], g['time'])})",
                value,
                {**g, "explanation": g["explanation"] or g["reason"]},
                alert=False,
            )
        )
    # plain words; the alert rules (ids, sources) are in each alert row's details
    rules = " or ".join(r.description.rstrip(".") for r in ALERT_RULES.values())
    n = "No alert" if not recent else "1 alert" if len(recent) == 1 else f"{len(recent)} alerts"
    msg = (
        f"{n} in the latest {RECENT_DAYS} graded days (D{since} to D{since + RECENT_DAYS - 1}); "
        f"{len(alerts)} alert{'' if len(alerts) == 1 else 's'} over the whole record. An alert is raised for {rules[0].lower()}{rules[1:]}."
        if grades and since is not None
        else f"{n}. An alert is raised for {rules[0].lower()}{rules[1:]}."
        if grades
        else "No lab value to grade yet."
    )
    return _available("grades_alerts", rows, msg, alerts=len(recent))


def _episodes_panel(d: Derivations) -> Panel:
    rows: list[dict[str, Any]] = []
    for name, eps in (("CRS", d.crs), ("ICANS", d.icans)):
        for e in eps:
            end = _day(e["end_day"], e["end_time"]) if e["end_day"] is not None else "ongoing"
            rows.append(
                _row(
                    f"{name} episode {e['episode']}: {_day(e['onset_day'], e['onset_time'])} – {end}",
                    f"grade {e['max_grade']}",
                    e,
                    alert=e["end_day"] is None,
                )
            )
    for t in d.tls:
        verdict = (
            "clinical TLS"
            if t["clinical_tls"]
            else "laboratory TLS"
            if t["laboratory_tls"]
            else "no TLS"
            if t["laboratory_tls"] is not None
            else "not assessable"
        )
        grade = f", grade {t['grade']}" if t["grade"] is not None else ""
        criteria = str(t["criteria"]).replace("_", " ").title()  # cairo_bishop_2004: words
        rows.append(_row(f"TLS ({criteria})", verdict + grade, t, alert=False))
    msg = "" if rows else "No CRS or ICANS episode and no TLS assessment derived."
    return _available("episodes", rows, msg)


def _response_panel(d: Derivations) -> Panel:
    rows = []
    for r in d.response:
        derived_text = r["response_derived"] or "not derivable"
        reported = r["response_reported"] or "not reported"
        agree = "" if r["response_derived"] == r["response_reported"] else " — differs"
        if not r["response_derived"] or not r["response_reported"]:
            agree = ""
        rows.append(
            _row(
                f"marrow {r['timepoint'] or ''} {_day(r['day'])}".replace("  ", " "),
                f"derived {derived_text}; reported {reported}{agree}",
                r,
                alert=False,
            )
        )
    msg = "" if rows else "No marrow assessment recorded."
    return _available("response", rows, msg)


#: Fields the regimen planner needs for one induction course.
PLAN_FIELDS = (
    ("treatment_courses", "regimen"),
    ("treatment_courses", "start_date"),
    ("patients", "weight_kg"),
    ("patients", "height_cm"),
)


def _plan_panel(d: Derivations, pid: str) -> Panel:
    from bvall.regimen import load_regimen, regimen_names

    courses = [c for c in d.courses if c["course_type"] == "induction"]
    if not courses:
        return Panel(
            "plan_vs_doses",
            PANELS["plan_vs_doses"][0],
            False,
            "Missing: no induction course is recorded (treatment_courses with course_type "
            "'induction', its regimen and start_date); the planner needs one. Nothing is planned.",
        )
    patient = d.patients[pid]
    missing = []
    for c in courses:
        if c["regimen"] is None:
            missing.append(f"the regimen of course {c['course_id']}")
        elif c["regimen"] not in regimen_names():
            missing.append(
                f"a bundled regimen for course {c['course_id']} (recorded {c['regimen']!r}; "
                f"bundled: {', '.join(regimen_names())})"
            )
        if c["start_date"] is None:
            missing.append(f"the start date (D1) of course {c['course_id']}")
    for col in ("weight_kg", "height_cm"):
        if patient.get(col) is None:
            missing.append(f"the patient's {col.replace('_kg', ' (kg)').replace('_cm', ' (cm)')}")
    report = d.deviations
    rows: list[dict[str, Any]] = []
    versions = {}
    for c in courses:
        if c["regimen"] in regimen_names():
            versions[c["course_id"]] = (c["regimen"], load_regimen(c["regimen"]).version)
    for s in report.summary.to_pylist():
        reg, ver = versions.get(s["course_id"], (s["regimen"], ""))
        rdi = f"RDI {s['rdi']:.2f}" if s["rdi"] is not None else "RDI not computed"
        if s["rdi"] is not None and s["due_through"] is not None and s["still_planned"]:
            rdi += f" over the days due so far (to D{s['due_through']})"
        given = s["given_cumulative"]
        total = s["cumulative_unit"]
        planned_total = s["planned_cumulative"]
        text = (
            (
                f"planned {planned_total:g} {total} in total over {s['planned_days']} days"
                if planned_total is not None
                else f"planned over {s['planned_days']} days"
            )
            + f" (daily doses in {s['unit']}); "
            + (
                f"given {given:g} {total} in total over {s['given_days']} days"
                if given is not None
                else "no administration recorded (missing, not missed)"
            )
            + (f"; RDI over {s['rdi_basis']}" if s["rdi_basis"] else "")
        )
        parts = [
            f"{s[k]} {k}"
            for k in ("missed", "reduced", "increased", "interrupted", "extra", "late")
            if s[k]
        ]
        if s["still_planned"]:
            parts.append(f"{s['still_planned']} still planned")
        counts = ", ".join(parts)
        rows.append(
            {
                "label": f"{s['agent']} ({s['course_id']})",
                "value": rdi + (f"; {counts}" if counts else "; as planned"),
                "explanation": text + (f"; {s['note']}" if s["note"] else ""),
                "rule_id": f"regimen.{reg}",
                "rule_version": f"{reg}@{ver}",
                "alert": False,
            }
        )
    for e in report.events.to_pylist():
        if e["category"] == "not_recorded":
            continue
        reg, ver = versions.get(e["course_id"], (e["regimen"], ""))
        planned = "–" if e["planned_dose"] is None else f"{e['planned_dose']:g}"
        given = "–" if e["given_dose"] is None else f"{e['given_dose']:g}"
        rows.append(
            {
                "label": f"{_day(e['study_day'])} {e['agent']}",
                "value": f"{e['category']}: planned {planned}, given {given} {e['unit']}",
                "explanation": e["detail"],
                "rule_id": f"regimen.{reg}",
                "rule_version": f"{reg}@{ver}",
                "alert": False,
                "kind": e["category"],
            }
        )
    daily = [
        {
            "day": r["study_day"],
            "agent": r["agent"],
            "planned": None if r["planned_dose"] is None else f"{r['planned_dose']:g}",
            "given": None if r["given_dose"] is None else f"{r['given_dose']:g}",
            "unit": r["unit"],
            "status": r["status"] or "",
            "category": r["category"],
        }
        for r in report.daily.to_pylist()
    ]
    notes = [n for n in report.notes if n.startswith(pid) or pid in n]
    msg = " ".join(
        (
            [f"Missing: {'; '.join(missing)} — the plan uses no value in their place."]
            if missing
            else []
        )
        + notes
    )
    return _available("plan_vs_doses", rows, msg, details=daily)


def patient_panels(patient_id: str, d: Derivations | None = None) -> dict[str, Panel]:
    """The derived panels of one patient's page (from ``d``, that patient's derivations from
    :func:`latest`, or derived now), as a cohort of this patient alone gives them."""
    if d is None:
        d = derivations([patient_id])
    return {
        "grades_alerts": _grades_panel(d),
        "plan_vs_doses": _plan_panel(d, patient_id),
        "episodes": _episodes_panel(d),
        "response": _response_panel(d),
    }


@dataclass(frozen=True)
class GradeBand:
    """One CTCAE grade band of a lab test, in the test's canonical unit: values in
    [``low``, ``high``) (``None`` = open) are grade ``grade``."""

    test: str
    grade: int
    low: float | None
    high: float | None
    rule_id: str
    published: str


def compute_grade_bands(
    test: str, lln: float | None, uln: float | None, baseline: float | None
) -> tuple[list[GradeBand], list[str]]:
    """The CTCAE v5.0 bands of ``test`` from the criteria tables, for these limits (SI, the
    test's canonical unit), and what could not be drawn (a limit that is not recorded)."""
    from bvall.cohort import load_lab_tests
    from bvall.criteria import CriteriaSettings
    from bvall.criteria.lab_criteria import load_lab_criteria

    tests = load_lab_tests()
    settings = CriteriaSettings()
    bands: list[GradeBand] = []
    missing: list[str] = []
    bases = {"lln": lln, "uln": uln, "baseline": baseline}
    for term in load_lab_criteria().terms_for_test(test):
        limits: list[tuple[int, float, str, str]] = []
        for c in term.in_force(settings):
            th = c.threshold
            if th.value is None or th.is_flag:
                continue
            if th.basis == "absolute":
                limit = th.value * tests[test].factor(th.unit) if th.unit else th.value
            elif th.basis in bases:
                ref = bases[th.basis]
                if ref is None:
                    missing.append(f"{term.term} grade {c.grade} needs the {th.basis.upper()}")
                    continue
                limit = th.value * ref
            else:
                continue
            limits.append((c.grade, limit, c.rule_id, c.published))
        # one band per grade: from its threshold to the next grade's (direction L: below)
        best: dict[int, tuple[float, str, str]] = {}
        for grade, limit, rid, pub in limits:
            if grade not in best:
                best[grade] = (limit, rid, pub)
        grades = sorted(best)
        for i, g in enumerate(grades):
            limit, rid, pub = best[g]
            nxt = best[grades[i + 1]][0] if i + 1 < len(grades) else None
            if term.direction == "L":
                bands.append(GradeBand(test, g, nxt, limit, rid, pub))
            else:
                bands.append(GradeBand(test, g, limit, nxt, rid, pub))
    return bands, missing


def lab_grade_bands(patient_id: str, d: Derivations | None = None) -> Panel:
    """CTCAE grade bands behind the patient's lab charts (rows: test, grade, low, high, rule)."""
    from bvall.criteria.lab_criteria import load_lab_criteria

    if d is None:
        d = derivations([patient_id])
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    version = load_lab_criteria().rule_version
    for test in CHARTED_TESTS:
        graded = [g for g in d.grades if g["test"] == test]
        if not graded:
            continue
        last = sorted(graded, key=_sort_key)[-1]
        bands, missing = compute_grade_bands(
            test, last["lln_si"], last["uln_si"], last["baseline_si"]
        )
        notes += [f"{m} (not recorded); that band is not drawn." for m in missing]
        for b in bands:
            rows.append(
                {
                    "test": b.test,
                    "grade": b.grade,
                    "low": b.low,
                    "high": b.high,
                    "label": f"{test} grade {b.grade}",
                    "value": _band_text(b),
                    "explanation": f"CTCAE v5.0: {b.published}",
                    "rule_id": b.rule_id,
                    "rule_version": version,
                }
            )
    return _available("lab_grade_bands", rows, " ".join(dict.fromkeys(notes)))


def _band_text(b: GradeBand) -> str:
    if b.low is None:
        return f"< {b.high:g}"
    if b.high is None:
        return f"≥ {b.low:g}"
    return f"{b.low:g} – < {b.high:g}"


#: Tests charted on the patient page (the web's lab charts), which get grade bands.
CHARTED_TESTS = ("anc", "platelets", "hemoglobin", "wbc")


def cohort_alerts(patient_ids: list[str], d: Derivations | None = None) -> Panel:
    """Current alerts of the patients on the cohort list: grade ≥ 3 labs of each patient's latest
    graded day, and CRS/ICANS episodes without an end. Rows: ``patient_id`` with ``alerts``."""
    if not patient_ids:
        return _available("cohort_alerts", [])
    if d is None:
        d = derivations(patient_ids, ("alerts",))
    rows: list[dict[str, Any]] = []
    rule = ALERT_RULES["grade_3_or_more"]
    for pid in patient_ids:
        mine = [g for g in d.grades if g["patient_id"] == pid and g["day"] is not None]
        alerts: list[dict[str, Any]] = []
        if mine:
            last_day = max(g["day"] for g in mine)
            for g in sorted(mine, key=_sort_key):
                if g["day"] == last_day and g["grade"] is not None and g["grade"] >= 3:
                    alerts.append(
                        {
                            "text": f"{g['term']} grade {g['grade']} ({_day(g['day'], g['time'])})",
                            "explanation": g["explanation"],
                            "rule_id": g["rule_id"],
                            "rule_version": g["rule_version"],
                            "alert_rule": rule.rule_id,
                        }
                    )
        for name, eps in (("CRS", d.crs), ("ICANS", d.icans)):
            for e in eps:
                if e["patient_id"] == pid and e["end_day"] is None:
                    alerts.append(
                        {
                            "text": f"open {name} episode, grade {e['max_grade']} "
                            f"(since {_day(e['onset_day'], e['onset_time'])})",
                            "explanation": e["explanation"],
                            "rule_id": e["rule_id"],
                            "rule_version": e["rule_version"],
                            "alert_rule": "alert.open_episode",
                        }
                    )
        rows.append({"patient_id": pid, "alerts": alerts})
    return _available(
        "cohort_alerts",
        rows,
        "A lab value of CTCAE grade 3 or more on the patient's latest graded day, and CRS or "
        "ICANS episodes without a recorded end.",
    )


#: Binomial interval methods offered on the analysis page (bvall.stats.BINOMIAL_METHODS order).
CI_LEVELS = (0.90, 0.95, 0.99)


@dataclass(frozen=True)
class LiveAnalysis:
    """The study tables and figures of a set of patients, as the report builds them."""

    analysis: Any  # bvall.analysis.Analysis
    figures: tuple[Any, ...]  # bvall.analysis.StudyFigure
    omitted: tuple[str, ...]
    svgs: dict[str, str]  # figure id -> SVG text
    patient_ids: tuple[str, ...]
    ci_method: str
    level: float


_ANALYSES: OrderedDict[tuple[Any, ...], LiveAnalysis] = OrderedDict()


def check_analysis_settings(ci_method: str, level: Any) -> tuple[str, float]:
    """The interval method and level, checked as the report checks them."""
    from bvall.errors import InputError
    from bvall.stats import check_binomial_method

    check_binomial_method(ci_method)
    try:
        lvl = float(level)
    except (TypeError, ValueError):
        raise InputError(
            f"Confidence level {level!r} is not a number; expected e.g. 0.95."
        ) from None
    if not 0 < lvl < 1:
        raise InputError(f"Confidence level {level!r} must lie between 0 and 1 (e.g. 0.95).")
    return ci_method, lvl


def _svg(fig: Any) -> str:
    import io
    from typing import cast

    import matplotlib

    from bvall.figures.style import RC

    buf = io.StringIO()
    with matplotlib.rc_context(cast(Any, {**RC, "svg.hashsalt": fig.id})):
        fig.figure.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def live_analysis(
    patient_ids: list[str], ci_method: str = "clopper-pearson", level: float = 0.95
) -> LiveAnalysis:
    """``build_analysis`` and ``build_figures`` on the cohort of ``patient_ids`` (the patients
    the user may see), cached by the data version, the patients and the settings."""
    from bvall.analysis import build_analysis
    from bvall.figures import build_figures

    ci_method, level = check_analysis_settings(ci_method, level)
    snap = database_snapshot()
    ids = tuple(sorted(set(patient_ids)))
    key = (snap.fingerprint, ids, ci_method, level)
    with _ANALYSIS_LOCK:
        hit = _ANALYSES.get(key)
        if hit is not None:
            _ANALYSES.move_to_end(key)
            return hit
        cohort = snap.cohort if set(ids) == set(snap.patient_ids) else cohort_of(list(ids))
        analysis = build_analysis(cohort, ci_method=ci_method, level=level)
        if cohort.metadata.synthetic:  # as the report writer does (bvall.report.write_report)
            banner = (
                f"SYNTHETIC DEMO DATA: cohort {cohort.metadata.name!r} is generated, not real "
                "patients; no clinical conclusion may be drawn from this report."
            )
            analysis = replace(analysis, warnings=(banner, *analysis.warnings))
        figures, omitted = build_figures(cohort)
        hit = LiveAnalysis(
            analysis,
            tuple(figures),
            tuple(omitted),
            {f.id: _svg(f) for f in figures},
            ids,
            ci_method,
            level,
        )
        _ANALYSES[key] = hit
        while len(_ANALYSES) > _CACHE_SIZE:
            _, old = _ANALYSES.popitem(last=False)
            _close_figures(old)
        return hit


def _close_figures(la: LiveAnalysis) -> None:
    import matplotlib.pyplot as plt

    for f in la.figures:
        plt.close(f.figure)


def analysis_panel(
    patient_ids: list[str] | None = None,
    ci_method: str = "clopper-pearson",
    level: float = 0.95,
) -> Panel:
    """The live analysis of the visible patients: ``details`` holds one :class:`LiveAnalysis`
    (tables with each cell's provenance, figures as SVG, omitted figures with reasons)."""
    if not engine_installed("bvall.stats") or patient_ids is None:
        return panel("analysis")
    if not patient_ids:
        return _available("analysis", [], "No patient is visible to you; nothing to analyse.")
    la = live_analysis(patient_ids, ci_method, level)
    a = la.analysis
    msg = (
        f"{len(la.patient_ids)} patient{'' if len(la.patient_ids) == 1 else 's'}; data SHA-256 {a.data_hash[:12]}…; "
        f"{ci_method} {level:.0%} intervals; bvall {a.bvall_version}."
    )
    return _available("analysis", [], msg, details=[{"live": la}])


#: Formats of the report download: (extension, MIME type).
REPORT_FORMATS: dict[str, tuple[str, str]] = {
    "html": ("html", "text/html; charset=utf-8"),
    "pdf": ("pdf", "application/pdf"),
    "docx": (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "csv": ("zip", "application/zip"),
}


def report_panel(patient_ids: list[str] | None = None) -> Panel:
    """The report download (HTML, PDF, DOCX, CSV tables as ZIP) of the visible patients."""
    if not engine_installed("bvall.report") or patient_ids is None:
        return panel("report")
    if not patient_ids:
        return _available("report", [], "No patient is visible to you; there is no report.")
    rows = [
        {"format": f, "label": f.upper() if f != "csv" else "CSV tables (ZIP)"}
        for f in REPORT_FORMATS
    ]
    return _available(
        "report",
        rows,
        f"The report of the current data of the {len(patient_ids)} "
        f"patient{'' if len(patient_ids) == 1 else 's'} you may see, "
        "stamped with the time it is generated.",
    )


def report_file_name(cohort_name: str, fmt: str, when: Any) -> str:
    """``bvall-report-<cohort>-<YYYYMMDD-HHMM>.<ext>`` (cohort name made safe for files)."""
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", cohort_name).strip("-") or "cohort"
    return f"bvall-report-{safe}-{when:%Y%m%d-%H%M}.{REPORT_FORMATS[fmt][0]}"


def render_report(
    patient_ids: list[str],
    fmt: str,
    *,
    generated_at: Any,
    ci_method: str = "clopper-pearson",
    level: float = 0.95,
) -> tuple[bytes, str, str]:
    """The report of ``patient_ids`` in ``fmt`` with bvall.report's renderers:
    (content, MIME type, file name)."""
    import io
    import zipfile

    from bvall.errors import UnknownNameError
    from bvall.report import (
        render_report_html,
        render_report_pdf,
        render_tables_csv,
        render_tables_docx,
    )

    if fmt not in REPORT_FORMATS:
        raise UnknownNameError(
            f"Report format {fmt!r} is not offered; formats: {', '.join(REPORT_FORMATS)}."
        )
    la = live_analysis(patient_ids, ci_method, level)
    a = la.analysis
    if fmt in ("html", "pdf"):
        with _ANALYSIS_LOCK:  # the figures are drawn again (PNG); one thread per figure
            html = render_report_html(
                a, list(la.figures), list(la.omitted), generated_at=generated_at
            )
        data = html.encode("utf-8") if fmt == "html" else render_report_pdf(html)
    elif fmt == "docx":
        data = render_tables_docx(a, generated_at=generated_at)
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in render_tables_csv(a).items():
                z.writestr(name, text.encode("utf-8"))
        data = buf.getvalue()
    return data, REPORT_FORMATS[fmt][1], report_file_name(a.cohort_name, fmt, generated_at)


_EVALUATIONS: OrderedDict[tuple[str, int, str, dt.date], Any] = OrderedDict()


def monitoring_evaluations() -> list[tuple[Any, Any]]:
    """Each active monitoring plan with its evaluation on the whole database, cached by the
    data's fingerprint (the engine's derivation of a whole cohort takes seconds)."""
    from bvall.store.models import MonitoringPlan
    from bvall.store.monitoring import evaluate_plan

    plans = list(MonitoringPlan.objects.filter(active=True))
    if not plans:
        return []
    snap = database_snapshot()
    out = []
    for plan in plans:
        # a toxicity window completes with the calendar: the day is part of the key
        key = (snap.fingerprint, plan.pk, plan.registered.isoformat(), dt.date.today())
        with _DERIVE_LOCK:
            hit = _EVALUATIONS.get(key)
            if hit is None:
                hit = evaluate_plan(plan, snap.cohort, key[3])
                _EVALUATIONS[key] = hit
                while len(_EVALUATIONS) > 16:
                    _EVALUATIONS.popitem(last=False)
        out.append((plan, hit))
    return out


def warm() -> None:
    """Derive what the first pages need (the database's derivations, the monitoring plans,
    the default analysis) so that the first visitor does not wait; for a background thread."""
    import gc
    import logging
    import time

    from django.db import connections

    from bvall.web import deriver

    log = logging.getLogger("bvall.web.warm")
    t0 = time.perf_counter()
    try:
        where = deriver.folder()
        if where is not None:  # the server's deriver derives the patients; wait for it
            while (
                deriver.read_index(where) is None
                and deriver.alive(where)
                and time.perf_counter() - t0 < 300
            ):
                time.sleep(0.2)
            snap = database_snapshot()
        else:
            snap, _ = database_derivations()
        log.info("derived %d patient(s) in %.1f s", len(snap.patient_ids), time.perf_counter() - t0)
        if where is None and snap.patient_ids and not _COMPILED:
            # another worker derived the data; derive one patient here too, so that the first
            # save served by this worker does not also pay the engine's one-time compilation
            with _DERIVE_LOCK:
                _derive_all(snap.cohort.subset(snap.patient_ids[:1]))
                _COMPILED.append(True)
        monitoring_evaluations()
        if snap.patient_ids and _first_to_warm_the_analysis():
            live_analysis(list(snap.patient_ids))
        log.info("warm-up done in %.1f s", time.perf_counter() - t0)
        # What the warm-up built (the data read, the analysis with its figures, the engines'
        # compiled rules) lives as long as the worker. Left to the cyclic garbage collector,
        # each full collection walks those hundreds of thousands of objects and stalls every
        # page of the worker for about 0.2 s, several times a minute (measured with the load
        # script: patient page p95 253 ms before, 118 ms after). Frozen, the collector skips
        # them; what they hold is still freed by reference counting when a cache lets it go.
        gc.freeze()
    except Exception:  # a failed warm-up only means the first page derives itself
        log.exception("warm-up failed; pages derive on first view")
    finally:
        connections.close_all()


_WARM_CLAIM: list[Any] = []


def _first_to_warm_the_analysis() -> bool:
    """Only one worker of a server builds the default analysis at start-up (it is not shared
    between workers; building it in every worker at once would slow every first page)."""
    import fcntl
    import os

    folder = os.environ.get(SHARED_CACHE_ENV)
    if not folder or not Path(folder).is_dir():
        return True
    fh = open(Path(folder) / "warm-analysis.lock", "a+b")  # noqa: SIM115  held for the process
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return False
    _WARM_CLAIM.append(fh)
    return True


def start_warming() -> threading.Thread:
    """Start :func:`warm` in a daemon thread (never blocks start-up)."""
    t = threading.Thread(target=warm, name="bvall-warm", daemon=True)
    t.start()
    return t


def trial_monitoring_panel() -> Panel:
    """The trial design's stopping rules against the data: one row per active plan, with its
    decision, the looks reached and the endpoint mapping (``evaluation``)."""
    rows = []
    for plan, ev in monitoring_evaluations():
        d = ev.decision
        rows.append(
            {
                "label": plan.name,
                "value": d.action.replace("_", " "),
                "explanation": d.message,
                "rule_id": f"design.{ev.design_type}",
                "rule_version": str(plan.document.get("created_by", "")),
                "alert": bool(ev.crossings) or bool(d.alerts),
                "plan": plan,
                "evaluation": ev,
            }
        )
    msg = (
        ""
        if rows
        else "No monitoring plan is registered. Save a design (bvall design bop2|monitor|simon "
        "--save FILE) and upload it here."
    )
    return _available("trial_monitoring", rows, msg)


def engines_status() -> list[dict[str, Any]]:
    """Each engine with whether it is installed (for the analysis page and ``/api/engines``)."""
    return [{"package": p, "name": n, "installed": engine_installed(p)} for p, n in ENGINES.items()]
