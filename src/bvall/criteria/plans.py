"""Derivation plans: the SQL of a derivation, built once from the rules, run on any cohort.

A derivation's Ibis expressions depend on the rule files, the settings and the tables' schemas,
never on the cohort's rows. So :func:`plan_derivation` builds them once, on empty tables, and
records what a run needs: the SQL of each step for one backend, the tables each step reads
(``bv_cohort_<table>`` from the cohort, ``bv_step_<key>`` materialised by an earlier step,
``bv_const_<hash>`` constant tables carried in the plan), the name it materialises and the Arrow
schema of its result. :func:`run_plan` then only registers Arrow tables and executes SQL: nothing
on the run path imports or builds Ibis expressions.

Plans are kept in memory and in a cache folder (:func:`bvall.settings.plan_cache_dir`), keyed by a
hash of the rule files and criteria code, the settings, the bvall version, the backend and the
:func:`plan_features` of the cohort. Those features are the only facts about a cohort that change
its SQL (whether any lab value carries a ``<``/``>`` qualifier; what the cohort declares completely
reported); a plan records them, so a cohort with other features gets its own plan.

>>> from bvall.cohort import load_cohort
>>> plan = load_plan("crs", plan_features(load_cohort("example")))   # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import shutil
import tempfile
import threading
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

import bvall
from bvall.cohort.model import Cohort, table_digest
from bvall.cohort.schema import TABLES
from bvall.criteria.settings import CriteriaSettings
from bvall.errors import BvallError

#: DuckDB (2.0) warns at every Arrow fetch of a connection's result that the rows are copied
#: once more; a step's result is a few hundred rows, where the copy costs nothing next to the
#: relation layer it would take instead (:func:`_execute`). Only that message is silenced.
_ARROW_COPY = "Arrow output on a DB-API result makes an extra copy of the rows"
warnings.filterwarnings("ignore", message=_ARROW_COPY, category=UserWarning)

#: Backends a plan can be built for (the backend is part of a plan's key): in-process DuckDB,
#: and Apache Spark (:mod:`bvall.criteria.spark`, the same queries compiled by Ibis's PySpark
#: backend).
BACKENDS = ("duckdb", "spark")

#: The query of each derivation: ``module:function`` taking ``(workspace, settings)`` and returning
#: the final Ibis table. Named as text so that running a plan never imports Ibis.
QUERIES: dict[str, str] = {
    "grades": "bvall.criteria.grades:grades_query",
    "worst_grades": "bvall.criteria.grades:worst_grades_query",
    "crs": "bvall.criteria.crs:crs_query",
    "icans": "bvall.criteria.icans:icans_query",
    "tls": "bvall.criteria.tls:tls_query",
    "response": "bvall.criteria.response:response_query",
    "risk": "bvall.criteria.risk:risk_query",
    "endpoints": "bvall.criteria.endpoints:endpoints_query",
    "eligibility": "bvall.criteria.eligibility:eligibility_query",
}

#: Bumped when the plan file layout changes.
_FORMAT = 2


class PlanError(BvallError):
    """A derivation that cannot be planned for a backend (names the derivation and the query)."""


# --- what of a cohort changes its SQL ---------------------------------------------------------


def complete_terms(cohort: Cohort) -> set[str]:
    """What the cohort declares completely reported (absence = none): AE terms of
    ``adverse_events``, and ``"transfusions"`` when the transfusion records are complete."""
    out: set[str] = set()
    for entry in cohort.metadata.extra.get("complete_reporting", []) or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("table") == "adverse_events":
            out.update(str(t) for t in entry.get("terms", []))
        elif entry.get("table") == "transfusions":
            out.add("transfusions")
    return out


def plan_features(cohort: Cohort) -> dict[str, Any]:
    """The facts about ``cohort`` its plans depend on (cheap: no row is read).

    * ``labs_qualified``: some lab value carries a qualifier (``<0.1``); without one the grading
      leaves out the censored-bound logic, which keeps registry-scale grading fast.
    * ``complete``: the terms the cohort declares completely reported (see :func:`complete_terms`).
    * ``lab_form``: how DuckDB evaluates the CTCAE lab criteria (both give the same grades, rule
      ids and words; a test compares them): ``"rows"`` (values joined to their criteria rows, a
      short statement, faster for a few patients) up to :data:`COMPILED_FORM_ABOVE_ROWS` lab
      values, ``"compiled"`` (one ``CASE`` per term and grade, about four times faster at 10^6
      values) above. Spark plans always use the compiled form.
    """
    labs = cohort["labs"]
    return {
        "labs_qualified": bool(labs.column("qualifier").null_count < labs.num_rows),
        "complete": sorted(complete_terms(cohort)),
        "lab_form": "compiled" if labs.num_rows > COMPILED_FORM_ABOVE_ROWS else "rows",
    }


#: Lab values above which DuckDB plans grade in the compiled form (:func:`plan_features`).
#: Measured with ``grades`` on the registry sample (median ms, rows form / compiled form):
#: 60,000 values 465 / 557, 240,000 values 1,673 / 1,349, 900,000 values 7,485 / 4,343; at
#: 6 x 10^6 values 39 s / 9 s.
COMPILED_FORM_ABOVE_ROWS = 100_000


def _backend_features(features: Mapping[str, Any], backend: str) -> Mapping[str, Any]:
    """``features`` as the backend's plan depends on them: Spark grades in the compiled form
    whatever the size, so its plans do not differ by ``lab_form``."""
    if backend == "spark" and features.get("lab_form", "compiled") != "compiled":
        return {**features, "lab_form": "compiled"}
    return features


# --- plans ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One SQL statement of a plan: it reads ``inputs`` and gives a table named ``name`` (a
    ``bv_step_*`` table later steps read), or the derivation's result when ``name`` is None."""

    name: str | None
    sql: str
    inputs: tuple[str, ...]
    schema: pa.Schema
    #: Columns whose Ibis type is NULL: DuckDB gives them a type, the result has none (as Ibis).
    null_columns: tuple[str, ...] = ()
    #: When the step only sorts its one input: the columns and whether each is ascending
    #: (:func:`~bvall.criteria.expressions.arrow_sort_keys`); a run sorts that input with Arrow
    #: rather than asking DuckDB (1 to 2 ms a statement, whatever the rows).
    sort_keys: tuple[tuple[str, bool], ...] = ()

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class Plan:
    """The steps of one derivation for one backend, settings and set of cohort features."""

    what: str
    backend: str
    key: str
    features: Mapping[str, Any]
    steps: tuple[Step, ...]
    #: ``bv_const_*`` tables the steps read, with their data.
    constants: Mapping[str, pa.Table]
    #: Cohort tables read (``labs`` for ``bv_cohort_labs``) and the schema the plan was built on.
    cohort_tables: Mapping[str, pa.Schema]

    @property
    def lineages(self) -> tuple[str, ...]:
        """Per step, a hash of its SQL and of the steps it reads, recursively: two plans' steps
        with one lineage compute one table from one cohort (a step's SQL alone names the tables
        it reads, not what they hold)."""
        cached: tuple[str, ...] | None = self.__dict__.get("_lineages")
        if cached is None:
            of: dict[str, str] = {}
            out = []
            for step in self.steps:
                digest = hashlib.sha256(step.sql.encode())
                for name in step.inputs:
                    digest.update(f"|{name}={of.get(name, '')}".encode())
                lineage = digest.hexdigest()
                if step.name is not None:
                    of[step.name] = lineage
                out.append(lineage)
            cached = tuple(out)
            object.__setattr__(self, "_lineages", cached)
        return cached

    @property
    def reads(self) -> tuple[tuple[str, ...], ...]:
        """Per step, the cohort tables it reads, directly or through the steps it reads."""
        cached: tuple[tuple[str, ...], ...] | None = self.__dict__.get("_reads")
        if cached is None:
            of: dict[str, set[str]] = {}
            out = []
            for step in self.steps:
                read: set[str] = set()
                for name in step.inputs:
                    if name.startswith("bv_cohort_"):
                        read.add(name.removeprefix("bv_cohort_"))
                    read |= of.get(name, set())
                if step.name is not None:
                    of[step.name] = read
                out.append(tuple(sorted(read)))
            cached = tuple(out)
            object.__setattr__(self, "_reads", cached)
        return cached

    def describe(self) -> str:
        """The plan as text: each step's name, inputs and SQL."""
        lines = [f"-- plan {self.what} ({self.backend}) {self.key}"]
        for step in self.steps:
            lines.append(f"-- {step.name or 'result'} <- {', '.join(step.inputs)}")
            lines.append(step.sql.rstrip(";") + ";")
        return "\n".join(lines)


def plan_key(
    what: str, settings: CriteriaSettings, features: Mapping[str, Any], backend: str
) -> str:
    """Hash of everything a plan is built from: rule files and criteria code, settings, cohort
    features, bvall version, backend."""
    text = json.dumps(
        {
            "format": _FORMAT,
            "what": what,
            "backend": backend,
            "version": bvall.__version__,
            "sources": _sources_digest(),
            "settings": dataclasses.asdict(settings),
            "features": dict(features),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


_SOURCES: list[str] = []


def _sources_digest() -> str:
    """Hash of what the SQL is made of: the rule files and criteria code, the cohort code and
    its data (schema, vocabularies, the lab tests' units and conversion factors that become
    constant tables), and the versions of the libraries that write and run the SQL. A plan
    cached by an older build of any of them is never taken for a current one."""
    if not _SOURCES:
        from importlib.metadata import PackageNotFoundError, version

        root = Path(__file__).parent
        cohort = root.parent / "cohort"
        digest = hashlib.sha256()
        files = sorted(root.glob("*.py")) + sorted((root / "data").rglob("*"))
        files += sorted(cohort.glob("*.py")) + sorted((cohort / "data").rglob("*.toml"))
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(root.parent)).encode())
                digest.update(path.read_bytes())
        for package in ("ibis-framework", "sqlglot", "duckdb", "pyarrow"):
            try:
                digest.update(f"{package}=={version(package)}".encode())
            except PackageNotFoundError:
                digest.update(f"{package} absent".encode())
        _SOURCES.append(digest.hexdigest())
    return _SOURCES[0]


def query_for(what: str) -> Callable[..., Any]:
    """The query function of a derivation (imports its module, and with it Ibis)."""
    module, _, name = QUERIES[what].partition(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return fn


_BUILD_LOCK = threading.RLock()


def plan_derivation(
    what: str,
    settings: CriteriaSettings,
    features: Mapping[str, Any],
    backend: str = "duckdb",
) -> Plan:
    """Build the plan of ``what`` with Ibis (seconds): the derivation's query run on a
    :class:`~bvall.criteria.expressions.PlanningWorkspace`, which compiles each step instead of
    executing it."""
    if backend not in BACKENDS:
        raise PlanError(f"No backend {backend!r} for plans; choose one of: {', '.join(BACKENDS)}.")
    from bvall.criteria.expressions import PlanningWorkspace

    query = query_for(what)
    with _BUILD_LOCK:
        ws = PlanningWorkspace(features, backend)
        try:
            ws.execute(query(ws, settings))
        except Exception as exc:
            raise PlanError(
                f"Cannot plan derivation {what!r} for backend {backend!r}: "
                f"{query.__module__}.{query.__qualname__} failed"
                f"{f' at step {ws.failed_step!r}' if ws.failed_step else ''}"
                f"{_where(exc)}: {exc}"
            ) from exc
    return Plan(
        what=what,
        backend=backend,
        key=plan_key(what, settings, features, backend),
        features=dict(features),
        steps=tuple(ws.steps),
        constants=dict(ws.constants),
        cohort_tables={n: TABLES[n].arrow_schema for n in ws.cohort_tables},
    )


#: Frames of the planning workspace itself: the rule that failed is the caller of these.
_PLANNING_FRAMES = ("_record", "_compile", "_materialise", "execute", "cached")


def _where(exc: BaseException) -> str:
    """`` in <function> (<file>:<line>)``: the innermost frame of the criteria engine."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f"{os.sep}criteria{os.sep}" in f.filename
        and not f.filename.endswith(("plans.py", "spark.py"))
        and not (f.filename.endswith("expressions.py") and f.name in _PLANNING_FRAMES)
    ]
    if not frames:
        return ""
    f = frames[-1]
    return f" in {f.name} ({Path(f.filename).name}:{f.lineno})"


# --- the cache: memory, then the cache folder -------------------------------------------------

_PLANS: dict[str, Plan] = {}
_PLANS_LOCK = threading.Lock()
#: Plan keys by (derivation, settings, backend, features): a key hashes the sources once.
_KEYS: dict[tuple[str, CriteriaSettings, str, str], str] = {}


def load_plan(
    what: str,
    features: Mapping[str, Any],
    settings: CriteriaSettings | None = None,
    backend: str = "duckdb",
    cache_dir: Path | bool | None = True,
) -> Plan:
    """The plan of ``what``: from memory, else the cache folder, else built (and saved).

    ``cache_dir`` is the folder (``True``: :func:`bvall.settings.plan_cache_dir`; ``None`` or
    ``False``: no folder).
    """
    settings = settings or CriteriaSettings()
    features = _backend_features(features, backend)
    lookup = (what, settings, backend, json.dumps(features, sort_keys=True, default=str))
    key = _KEYS.get(lookup)
    if key is None:
        key = _KEYS[lookup] = plan_key(what, settings, features, backend)
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    with _BUILD_LOCK:  # one build per key, even when threads ask at once
        plan = _PLANS.get(key)
        if plan is not None:
            return plan
        folder = _cache_folder(cache_dir)
        path = folder / f"{what}-{backend}-{key}.plan" if folder is not None else None
        if path is not None:
            plan = _read_plan(path, key)
        if plan is None:
            plan = plan_derivation(what, settings, features, backend)
            if path is not None:
                _write_plan(path, plan)
        with _PLANS_LOCK:
            _PLANS[key] = plan
        return plan


def load_plans(
    cohort: Cohort | None = None,
    *,
    settings: CriteriaSettings | None = None,
    what: Iterable[str] | None = None,
    backend: str = "duckdb",
) -> list[Plan]:
    """Load (or build and save) the plans of every derivation, so that the first derivation of a
    process runs at once: for ``cohort``'s features, or else for a cohort declaring nothing
    complete, with and without qualified lab values, of up to
    :data:`COMPILED_FORM_ABOVE_ROWS` lab values."""
    names = list(what) if what is not None else list(QUERIES)
    unknown = [n for n in names if n not in QUERIES]
    if unknown:
        raise PlanError(f"No derivation {unknown[0]!r}; choose from: {', '.join(QUERIES)}.")
    variants: Sequence[Mapping[str, Any]]
    if cohort is not None:
        variants = [plan_features(cohort)]
    else:
        variants = [
            {"labs_qualified": q, "complete": [], "lab_form": "rows"} for q in (False, True)
        ]
    return [load_plan(n, f, settings, backend) for f in variants for n in names]


def _cache_folder(cache_dir: Path | bool | None) -> Path | None:
    if cache_dir is True:
        from bvall.settings import plan_cache_dir

        return plan_cache_dir()
    if cache_dir is None or cache_dir is False:
        return None
    return Path(cache_dir)


def _arrow_bytes(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode()


def _arrow_table(text: str) -> pa.Table:
    return pa.ipc.open_stream(base64.b64decode(text)).read_all()


def _schema_bytes(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def _schema(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def plan_to_json(plan: Plan) -> str:
    """The plan as JSON text (Arrow schemas and constant tables as base64 Arrow IPC)."""
    return json.dumps(
        {
            "format": _FORMAT,
            "what": plan.what,
            "backend": plan.backend,
            "key": plan.key,
            "features": plan.features,
            "steps": [
                {
                    "name": s.name,
                    "sql": s.sql,
                    "inputs": list(s.inputs),
                    "schema": _schema_bytes(s.schema),
                    "null_columns": list(s.null_columns),
                    "sort_keys": [list(k) for k in s.sort_keys],
                }
                for s in plan.steps
            ],
            "constants": {n: _arrow_bytes(t) for n, t in plan.constants.items()},
            "cohort_tables": {n: _schema_bytes(s) for n, s in plan.cohort_tables.items()},
        },
        indent=1,
    )


def plan_from_json(text: str) -> Plan:
    raw = json.loads(text)
    if raw.get("format") != _FORMAT:
        raise ValueError(f"plan format {raw.get('format')!r}, expected {_FORMAT}")
    return Plan(
        what=raw["what"],
        backend=raw["backend"],
        key=raw["key"],
        features=raw["features"],
        steps=tuple(
            Step(
                name=s["name"],
                sql=s["sql"],
                inputs=tuple(s["inputs"]),
                schema=_schema(s["schema"]),
                null_columns=tuple(s["null_columns"]),
                sort_keys=tuple((str(c), bool(a)) for c, a in s["sort_keys"]),
            )
            for s in raw["steps"]
        ),
        constants={n: _arrow_table(t) for n, t in raw["constants"].items()},
        cohort_tables={n: _schema(s) for n, s in raw["cohort_tables"].items()},
    )


#: A saved plan not read for this long is deleted when another plan is saved: plans of an
#: older bvall, rule file or setting are never read again (their key differs), and each
#: derivation of each set of settings ever used leaves one file behind.
PLAN_UNUSED_DAYS = 30


def _read_plan(path: Path, key: str) -> Plan | None:
    """A saved plan, or None when absent or unreadable (then it is rebuilt and saved again).
    A plan read is marked as used (its modification time), so pruning keeps it."""
    try:
        plan = plan_from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None
    if plan.key != key:
        return None
    with contextlib.suppress(OSError):  # a read-only cache folder still serves its plans
        os.utime(path)
    return plan


def prune_plan_cache(folder: Path, unused_days: float = PLAN_UNUSED_DAYS) -> list[Path]:
    """Delete the saved plans of ``folder`` not read or written for ``unused_days``; the paths
    deleted. A file that cannot be deleted is left (another process may have just used it)."""
    import time

    limit = time.time() - unused_days * 86400
    deleted = []
    for path in folder.glob("*.plan"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                deleted.append(path)
        except OSError:
            continue
    return deleted


def _write_plan(path: Path, plan: Plan) -> None:
    """Save a plan atomically (a temporary file renamed into place), so that concurrent writers
    and readers only ever see whole files. A folder that cannot be written is not an error: the
    plan is then kept in memory only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(plan_to_json(plan))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return
    prune_plan_cache(path.parent)


# --- running a plan ---------------------------------------------------------------------------

_LOCAL = threading.local()

#: Cohorts whose tables read by a plan hold at most this many rows in all run on a connection
#: with DuckDB's query optimiser off, whose prepared statements are never bound again. On a few
#: patients most of a step's time is planning it (lab grading of one patient: binding 14 ms,
#: optimising 22 ms, executing 7 ms, from DuckDB's own profile); from about 20,000 rows on,
#: the optimiser's join ordering and filter push-down pay for themselves
#: (``benchmarks/bench_plans.py`` prints the ratio by size). The optimiser only chooses how a
#: statement runs, never what it returns: tests derive everything both ways and compare.
OPTIMISE_ABOVE_ROWS = 20_000

#: Prepared statements kept per connection.
_PREPARED_KEPT = 256


class _Holder:
    """A table DuckDB reads through the Arrow stream interface: registered once under its name,
    it gives DuckDB whatever table it holds when a statement scans it. Putting another table in
    it changes no catalog entry, so the prepared statements reading it are not bound again."""

    def __init__(self, table: pa.Table) -> None:
        self.schema = table.schema
        self.table = table

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.table.__arrow_c_stream__(requested_schema)


@dataclass
class _Connection:
    """One of this thread's DuckDB connections.

    * ``optimise=False`` (small cohorts): the optimiser is off, input and step tables are
      :class:`_Holder` objects registered once, and every step runs as a prepared statement.
      DuckDB binds a prepared statement again whenever its catalog changes (a table registered
      anew); with holders it does not, so a step is parsed, bound and planned once per process.
      Without the optimiser and without statistics (an Arrow stream has none) the plan does not
      depend on the data it was prepared on, so it is right for any table of the same schema;
      a holder given a table of another schema is registered anew, and DuckDB binds again.
    * ``optimise=True`` (larger cohorts): the optimiser is on and the tables are registered for
      each run, so DuckDB binds and optimises each statement for the data at hand.
    """

    con: duckdb.DuckDBPyConnection
    optimise: bool
    constants: set[str] = dataclasses.field(default_factory=set)
    prepared: OrderedDict[str, str | None] = dataclasses.field(default_factory=OrderedDict)
    holders: dict[str, _Holder] = dataclasses.field(default_factory=dict)
    #: held for a whole run: statements, holders and registrations are the connection's
    lock: threading.RLock = dataclasses.field(default_factory=threading.RLock)

    def put(self, name: str, table: pa.Table) -> None:
        """Make ``table`` readable as ``name`` (optimise=False only)."""
        holder = self.holders.get(name)
        if holder is not None and holder.schema == table.schema:
            holder.table = table
        else:
            self.holders[name] = holder = _Holder(table)
            self.register(name, holder)

    def register(self, name: str, data: Any) -> None:
        """Register a table under ``name``: a change of the catalog. DuckDB then binds every
        statement prepared before it again at each execution (it keeps the catalog version of
        the PREPARE), so without the optimiser they are prepared again, once."""
        self.con.register(name, data)
        if not self.optimise:
            for prepared in self.prepared.values():
                if prepared is not None:
                    self.con.execute(f"DEALLOCATE {prepared}")
            self.prepared.clear()


_SPILL: dict[int, str] = {}


def _spill_folder() -> str:
    """A folder of this process for DuckDB's spilled data, removed when the process exits
    (by process id: a forked web worker makes its own, and never removes its parent's)."""
    pid = os.getpid()
    with _SPILL_LOCK:
        if pid not in _SPILL:
            _SPILL[pid] = folder = tempfile.mkdtemp(prefix="bvall-duckdb-")
            atexit.register(_remove_spill_folder, pid, folder)
        return _SPILL[pid]


def _remove_spill_folder(pid: int, folder: str) -> None:
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


_SPILL_LOCK = threading.Lock()


#: The process's connection for small cohorts (by process id: a forked child never uses its
#: parent's), shared by its threads one run at a time (:attr:`_Connection.lock`).
_SHARED: dict[int, _Connection] = {}
_SHARED_LOCK = threading.Lock()


def _connection(optimise: bool) -> _Connection:
    """The in-process DuckDB connection for small (``optimise=False``) or larger cohorts, set
    up as Ibis sets up its own.

    Small cohorts share one connection per process: its statements are prepared once for every
    thread (a web worker's 8 threads each prepared every statement again, 0.3 to 0.5 s of CPU
    apiece), and a run takes milliseconds, so runs one after another cost less than the
    preparing. Larger cohorts, whose runs take seconds, have a connection per thread."""
    if not optimise:
        pid = os.getpid()
        with _SHARED_LOCK:
            shared = _SHARED.get(pid)
            if shared is None:
                shared = _SHARED[pid] = _new_connection(False)
            return shared
    conns: dict[bool, _Connection] | None = getattr(_LOCAL, "conns", None)
    if conns is None or getattr(_LOCAL, "pid", None) != os.getpid():
        conns = _LOCAL.conns = {}
        _LOCAL.pid = os.getpid()
    found = conns.get(optimise)
    if found is None:
        found = conns[optimise] = _new_connection(True)
    return found


def close_connections() -> None:
    """Close this process's small-cohort connection and this thread's others (a server calls
    it before forking its workers: a DuckDB database copied by ``fork`` crashes the child when
    the child ends, its threads being the parent's)."""
    with _SHARED_LOCK:
        shared = _SHARED.pop(os.getpid(), None)
    if shared is not None:
        with shared.lock:
            shared.con.close()
    conns: dict[bool, _Connection] | None = getattr(_LOCAL, "conns", None)
    if conns and getattr(_LOCAL, "pid", None) == os.getpid():
        for conn in conns.values():
            conn.con.close()
    _LOCAL.conns = {}


def _new_connection(optimise: bool) -> _Connection:
    con = duckdb.connect(":memory:")
    con.execute("SET timezone = 'UTC'")
    con.execute("SET python_enable_replacements = false")
    con.execute("SET enable_progress_bar = false")  # never draw on the user's terminal
    if optimise:
        # A streamed run spills what it must hold to this process's own folder, not to
        # DuckDB's default ``.tmp`` in the user's working directory.
        spill = _spill_folder().replace("'", "''")
        con.execute(f"SET temp_directory = '{spill}'")
    else:
        con.execute("PRAGMA disable_optimizer")
        # a few patients' rows are one morsel: more threads only add scheduling, and a web
        # worker runs several requests at once
        con.execute("SET threads = 1")
    return _Connection(con, optimise)


def _execute(conn: _Connection, step: Step) -> pa.Table:
    """Run a step's SQL on ``conn``. Without the optimiser, always as a prepared statement;
    with it, as it is the first time (a one-off process pays no preparing) and as a prepared
    statement from the second (DuckDB then skips parsing it again; it binds it again itself,
    since the tables it reads have been registered anew)."""
    con, prepared = conn.con, conn.prepared
    if step.digest not in prepared and conn.optimise:
        prepared[step.digest] = None
        sql = step.sql
    else:
        name = prepared.get(step.digest)
        if name is None:
            name = f"bv_plan_{step.digest[:24]}"
            con.execute(f"PREPARE {name} AS {step.sql}")
            prepared[step.digest] = name
        prepared.move_to_end(step.digest)
        sql = f"EXECUTE {name}"
    while len(prepared) > _PREPARED_KEPT:
        dropped = prepared.popitem(last=False)[1]
        if dropped is not None:
            con.execute(f"DEALLOCATE {dropped}")
    if conn.optimise:  # large results: fetched without a copy
        return _typed(con.sql(sql).to_arrow_table(), step)
    # A small cohort's step runs on the connection and its result is read as Arrow from there:
    # ``con.sql`` would run the statement, keep its result as a relation, bind that relation and
    # fetch it through it (9-10 ms of CPU a patient, about 8 %). DuckDB warns that this path
    # copies the rows (see _ARROW_COPY); a small cohort's rows are few.
    return _typed(con.execute(sql).to_arrow_table(), step)


def _sorted(table: pa.Table, step: Step) -> pa.Table:
    """What a step that only sorts ``table`` gives, sorted by Arrow (nulls last, as DuckDB)."""
    order = [(c, "ascending" if up else "descending") for c, up in step.sort_keys]
    return _typed(table.sort_by(order), step)


def _typed(table: pa.Table, step: Step) -> pa.Table:
    """DuckDB's result with the types Ibis gives it (as ``PyArrowData.convert_table``)."""
    if table.schema == step.schema:
        return table
    arrays = []
    for field in step.schema:
        column = table[field.name]
        if field.name in step.null_columns:
            arrays.append(pa.nulls(len(column)))
        elif column.type != field.type:
            arrays.append(column.cast(field.type))
        else:
            arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=step.schema)


def _cohort_table(cohort: Cohort, name: str, schema: pa.Schema) -> pa.Table:
    """The cohort's table as the plan expects it (an empty one with the schema's types)."""
    table = cohort[name]
    if table.num_rows == 0:
        return schema.empty_table()
    if table.schema != schema:
        # A validated cohort's tables have the schema types already; cast any other.
        table = table.select(schema.names).cast(schema)
    return table


#: Intermediate tables of recent cohorts (step name and lineage -> Arrow), so the derivations
#: of one cohort share them as they did in one workspace; only the last few cohorts are kept,
#: with the digests of their tables (:func:`~bvall.cohort.model.table_digest`).
_STEPS: OrderedDict[int, tuple[Cohort, dict[tuple[str, str], pa.Table], dict[str, str]]] = (
    OrderedDict()
)
_STEPS_KEPT = 4
_STEPS_LOCK = threading.Lock()


def _steps_of(cohort: Cohort) -> tuple[dict[tuple[str, str], pa.Table], dict[str, str]]:
    with _STEPS_LOCK:
        hit = _STEPS.get(id(cohort))
        if hit is not None and hit[0] is cohort:
            _STEPS.move_to_end(id(cohort))
            return hit[1], hit[2]
        steps: dict[tuple[str, str], pa.Table] = {}
        digests: dict[str, str] = {}
        _STEPS[id(cohort)] = (cohort, steps, digests)
        while len(_STEPS) > _STEPS_KEPT:
            _STEPS.popitem(last=False)
        return steps, digests


#: Cohorts whose tables read by a plan hold at most this many rows in all have the results of
#: its steps kept by content (:data:`_BY_CONTENT`): a step whose cohort tables, read directly
#: or through earlier steps, are the same as in an earlier run is not run again, whatever
#: cohort object they come in. When one patient's labs are saved, that patient's CRS, ICANS and
#: dose steps are taken as they were; only what reads the labs runs again.
REUSE_BELOW_ROWS = 50_000
#: Step results kept by content, and the largest result kept (rows).
_BY_CONTENT_KEPT = 4096
_BY_CONTENT_MAX_ROWS = 20_000
_BY_CONTENT: OrderedDict[tuple[str, tuple[str, ...]], pa.Table] = OrderedDict()
_BY_CONTENT_LOCK = threading.Lock()


def _content_key(
    lineage: str, tables: tuple[str, ...], digest: Callable[[str], str]
) -> tuple[str, tuple[str, ...]]:
    return lineage, tuple(f"{t}={digest(t)}" for t in tables)


#: Cohorts whose tables read by a plan hold more than this many rows run it as a stream: a
#: step read by only one later step is not materialised but handed to DuckDB as a view, so
#: DuckDB runs the steps as one query that streams the rows; a step read by several is a
#: DuckDB temporary table, held by DuckDB's buffer manager (which spills to disk), not as
#: Arrow. Below it every step is materialised as Arrow and kept for the cohort's other
#: derivations. At 6 x 10^7 lab values the ``worst_grades`` plan's graded values alone took
#: about 40 GB as Arrow; streamed, the run peaks at 10.5 GB.
STREAM_ABOVE_ROWS = 5_000_000


class SharedResults(Protocol):
    """Where a plan's results are kept by content for other processes (the web app's workers:
    :mod:`bvall.web.results`). ``get`` gives the table kept under ``key`` or ``None``; ``put``
    keeps one. Either may fail quietly: a result not found is computed."""

    def get(self, key: str) -> pa.Table | None: ...

    def put(self, key: str, table: pa.Table) -> None: ...


#: The results other processes share with this one (``None``: none), set by :func:`share_results`.
_SHARED_RESULTS: list[SharedResults] = []


def share_results(store: SharedResults | None) -> None:
    """Keep every plan's final result for small cohorts (at most :data:`REUSE_BELOW_ROWS` rows)
    in ``store`` too, by the same content key as in this process (its SQL, and the digests of the
    cohort tables it reads) with bvall's and DuckDB's versions, and look there before running a
    plan. A web worker's save grades the patient; the page that follows in another worker then
    takes those grades instead of grading again."""
    _SHARED_RESULTS[:] = [store] if store is not None else []


def _shared_key(key: tuple[str, tuple[str, ...]]) -> str:
    text = f"{bvall.__version__}|duckdb {duckdb.__version__}|{key[0]}|{','.join(key[1])}"
    return hashlib.sha256(text.encode()).hexdigest()


def _digester(tables: Mapping[str, pa.Table], digests: dict[str, str]) -> Callable[[str], str]:
    """The digest of a cohort table of this run, computed once per cohort object."""

    def digest(name: str) -> str:
        found = digests.get(name)
        if found is None:
            found = digests[name] = table_digest(tables[name])
        return found

    return digest


def _keep_by_content(key: tuple[str, tuple[str, ...]] | None, result: pa.Table) -> None:
    if key is not None and result.num_rows <= _BY_CONTENT_MAX_ROWS:
        with _BY_CONTENT_LOCK:
            _BY_CONTENT[key] = result
            while len(_BY_CONTENT) > _BY_CONTENT_KEPT:
                _BY_CONTENT.popitem(last=False)


def read_once(plan: Plan) -> set[str]:
    """Steps of ``plan`` read by exactly one later step."""
    count: dict[str, int] = {}
    for step in plan.steps:
        for name in step.inputs:
            count[name] = count.get(name, 0) + 1
    return {s.name for s in plan.steps if s.name is not None and count.get(s.name) == 1}


def run_plan(
    plan: Plan, cohort: Cohort, *, optimise: bool | None = None, stream: bool | None = None
) -> pa.Table:
    """Run ``plan`` on ``cohort``: register its tables, execute each step's SQL, return the
    result (no Ibis). A ``spark`` plan runs in the current Spark session
    (:func:`bvall.criteria.spark.run_plan`).

    ``optimise``: run with DuckDB's query optimiser on or off; by default it is on for cohorts
    larger than :data:`OPTIMISE_ABOVE_ROWS` rows (the tables the plan reads) and off below.
    Steps already run on this cohort object, or (up to :data:`REUSE_BELOW_ROWS` rows) on the
    same content, are not run again.

    ``stream``: steps are held by DuckDB, not as Arrow: those read once as views, the others
    as temporary tables (on by default above :data:`STREAM_ABOVE_ROWS` rows; it implies the
    optimiser, which fuses the views into their readers)."""
    if plan.backend == "spark":
        from bvall.criteria import spark

        return spark.run_plan(plan, cohort)
    if plan.backend != "duckdb":
        raise PlanError(
            f"Cannot run a {plan.backend!r} plan; choose one of: {', '.join(BACKENDS)}."
        )
    done, digests = _steps_of(cohort)
    tables = {n: _cohort_table(cohort, n, s) for n, s in plan.cohort_tables.items()}
    rows = sum(t.num_rows for t in tables.values())
    stream = stream if stream is not None else rows > STREAM_ABOVE_ROWS
    if stream:
        optimise = True
    # results shared with other processes are looked up and kept without holding the connection
    shared = _SHARED_RESULTS[0] if _SHARED_RESULTS and rows <= REUSE_BELOW_ROWS else None
    final = None
    if shared is not None and not stream:
        content = _content_key(plan.lineages[-1], plan.reads[-1], _digester(tables, digests))
        final = _shared_key(content)
        with _BY_CONTENT_LOCK:
            kept = _BY_CONTENT.get(content)
        if kept is None:
            kept = shared.get(final)
            if kept is not None:
                _keep_by_content(content, kept)
        if kept is not None:
            return kept
    conn = _connection(optimise if optimise is not None else rows > OPTIMISE_ABOVE_ROWS)
    _LOCAL.optimised = conn.optimise
    with conn.lock:  # the small-cohort connection is the process's, shared by its threads
        result = _run_steps(plan, conn, tables, rows, stream, done, digests)
    if shared is not None and final is not None:
        shared.put(final, result)
    return result


def _run_steps(
    plan: Plan,
    conn: _Connection,
    tables: dict[str, pa.Table],
    rows: int,
    stream: bool,
    done: dict[tuple[str, str], pa.Table],
    digests: dict[str, str],
) -> pa.Table:
    """The body of :func:`run_plan`, holding ``conn``."""
    views = read_once(plan) if stream else set()
    if stream:
        # Streamed steps are not kept: holding their results is what streaming avoids.
        done = {}
    for name, data in plan.constants.items():
        if name not in conn.constants:  # named by content: registered once per connection
            conn.register(name, data)
            conn.constants.add(name)

    digest = _digester(tables, digests)
    reuse = rows <= REUSE_BELOW_ROWS
    # this run's tables as Arrow, for the steps that only sort one of them (not when streamed:
    # the steps are then held by DuckDB)
    arrow_of: dict[str, pa.Table] = (
        {} if stream else {f"bv_cohort_{name}": table for name, table in tables.items()}
    )
    # Tables are handed to DuckDB only when a step runs: when every step is taken from an
    # earlier run, DuckDB is not asked anything.
    pending = {f"bv_cohort_{name}": table for name, table in tables.items()}
    given: set[str] = set()
    registered: list[str] = []
    created: list[tuple[str, str]] = []
    try:
        result = None
        for step, lineage, read in zip(plan.steps, plan.lineages, plan.reads, strict=True):
            memo = (step.name, lineage) if step.name is not None else None
            result = done.get(memo) if memo is not None else None
            key = _content_key(lineage, read, digest) if reuse else None
            if result is None and key is not None:
                with _BY_CONTENT_LOCK:
                    result = _BY_CONTENT.get(key)
                    if result is not None:
                        _BY_CONTENT.move_to_end(key)
            source = arrow_of.get(step.inputs[0]) if step.sort_keys and result is None else None
            if source is not None:
                result = _sorted(source, step)
                _keep_by_content(key, result)
            if result is None:
                for name, table in pending.items():
                    if conn.optimise:
                        conn.con.register(name, table)
                        registered.append(name)
                    else:
                        conn.put(name, table)
                    given.add(name)
                pending.clear()
                missing = [n for n in step.inputs if n not in given and n not in plan.constants]
                if missing:  # a holder must never serve a table of an earlier run
                    raise PlanError(
                        f"plan {plan.what!r}: step {step.name or 'result'} reads "
                        f"{', '.join(missing)}, which this run has not made"
                    )
                if stream and step.name is not None:
                    kind = "VIEW" if step.name in views else "TABLE"
                    conn.con.execute(f"CREATE OR REPLACE TEMP {kind} {step.name} AS {step.sql}")
                    created.append((kind, step.name))
                    given.add(step.name)
                    continue
                result = _execute(conn, step)
                _keep_by_content(key, result)
            if memo is not None:
                done[memo] = result
            if step.name is not None:
                pending[step.name] = result
                if not stream:
                    arrow_of[step.name] = result
        if result is None:
            raise PlanError(f"plan {plan.what!r} has no steps")
        return result
    finally:
        for kind, name in reversed(created):
            conn.con.execute(f"DROP {kind} IF EXISTS {name}")
        for name in registered:
            conn.con.unregister(name)


def derive_planned(
    cohort: Cohort, what: str, settings: CriteriaSettings | None = None, backend: str = "duckdb"
) -> pa.Table:
    """``what`` derived for ``cohort`` through its plan (loaded or built once) on ``backend``
    (``"spark"``: in the active Spark session, else a local one; see :mod:`bvall.criteria.spark`)."""
    if backend not in BACKENDS:
        raise PlanError(f"No engine {backend!r}; choose one of: {', '.join(BACKENDS)}.")
    if what not in QUERIES:
        raise PlanError(f"No derivation {what!r}; choose from: {', '.join(QUERIES)}.")
    plan = load_plan(what, plan_features(cohort), settings, backend)
    return run_plan(plan, cohort)


def derive_unplanned(
    cohort: Cohort, what: str, settings: CriteriaSettings | None = None, ws: Any | None = None
) -> pa.Table:
    """``what`` derived the direct way: Ibis expressions built and executed on ``cohort`` (the
    reference the plans are checked against; seconds). ``ws`` shares a
    :class:`~bvall.criteria.expressions.Workspace` between derivations of one cohort."""
    from bvall.criteria.expressions import Workspace

    settings = settings or CriteriaSettings()
    ws = ws if ws is not None else Workspace(cohort)
    table: pa.Table = ws.execute(query_for(what)(ws, settings))
    return table
