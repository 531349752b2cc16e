"""The criteria engine's results for one patient, shared by the web app's workers through the
database.

A save grades the patient's labs to raise its alerts (:func:`bvall.store.alerts.raise_alerts`);
the page that follows may be served by another worker, which would grade the same data again.
:func:`bvall.criteria.plans.share_results` lets the engine keep each plan's final result for a
small cohort under its content key in :class:`DatabaseResults` too, and look there before it
runs a plan. The tables are stored as Arrow IPC streams (data, never code: nothing is unpickled)
in :class:`bvall.store.models.DerivedResult`. A result the database cannot give or keep is
computed, never wrong: the key names the plan's SQL and the exact content of what it reads.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
from typing import Any

import pyarrow as pa
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

_log = logging.getLogger("bvall.web.results")

#: Results older than this are removed (a patient's data have moved on by then).
KEEP = dt.timedelta(days=1)
#: Every this many results kept, the old ones are removed.
PRUNE_EVERY = 200


class DatabaseResults:
    """Plan results in the study database (table ``derived_results``): a
    :class:`~bvall.criteria.plans.SharedResults`."""

    def __init__(self) -> None:
        self._kept = itertools.count(1)

    def get(self, key: str) -> pa.Table | None:
        from bvall.store.models import DerivedResult

        try:
            data = DerivedResult.objects.filter(key=key).values_list("data", flat=True).first()
        except DatabaseError as exc:
            _log.warning("a shared result could not be read: %s", exc)
            return None
        if data is None:
            return None
        try:
            return pa.ipc.open_stream(pa.py_buffer(bytes(data))).read_all()
        except (pa.ArrowException, OSError) as exc:
            _log.warning("the shared result %s is not an Arrow stream: %s", key[:12], exc)
            return None

    def put(self, key: str, table: pa.Table) -> None:
        """Keep ``table`` under ``key``: during a request, once its answer is sent
        (:func:`share_after_answer`), so that neither the save's answer nor its locks wait for
        the write; otherwise at once. A result is a function of the content it is keyed by, so
        it is kept whether or not the transaction it was computed in commits."""
        queue = getattr(_local, "queue", None)
        if queue is not None:
            queue.append((self, key, table))
        else:
            self._write(key, table)

    def _write(self, key: str, table: pa.Table) -> None:
        from bvall.store.models import DerivedResult

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=_IPC) as writer:
            writer.write_table(table)
        data = sink.getvalue().to_pybytes()
        now = timezone.now()
        outer = connection.in_atomic_block
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql" and not outer:
                    # derived data: a crash may lose the row (it is computed again), so the
                    # request does not wait for the write-ahead log to reach the disk
                    with connection.cursor() as cur:
                        cur.execute("SET LOCAL synchronous_commit TO OFF")
                DerivedResult.objects.bulk_create(
                    [DerivedResult(key=key, data=data, made=now)], ignore_conflicts=True
                )
                if next(self._kept) % PRUNE_EVERY == 0:
                    DerivedResult.objects.filter(made__lt=now - KEEP).delete()
        except DatabaseError as exc:
            _log.warning("a result was not shared with the other workers: %s", exc)


#: Arrow IPC compressed with Zstandard: a patient's grades, 284 KB as they are, take 31 KB.
_IPC = pa.ipc.IpcWriteOptions(compression="zstd")


_local = threading.local()


def share_after_answer(get_response: Any) -> Any:
    """Middleware: the results a request shares are written once Django has delivered its
    answer (``request_finished``), in the same worker thread (no background process)."""
    from django.core.signals import request_finished

    request_finished.connect(_write_queued, dispatch_uid="bvall.web.results")

    def middleware(request: Any) -> Any:
        _local.queue = []
        try:
            return get_response(request)
        finally:
            _local.written, _local.queue = _local.queue, None

    return middleware


def _write_queued(**_: Any) -> None:
    queued = getattr(_local, "written", None)
    _local.written = None
    if not queued:
        return
    for store, key, table in queued:
        store._write(key, table)
    # the connection is closed or kept as after any request (Django's own receiver of
    # request_finished ran before this one); not inside a test's transaction
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def share_through_the_database() -> None:
    """Share the engine's results for small cohorts between this server's workers."""
    from bvall.criteria.plans import share_results

    share_results(DatabaseResults())
