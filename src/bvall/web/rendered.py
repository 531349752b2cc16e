"""The patient page's body kept as rendered, under a digest of everything it was rendered from.

Most requests for a patient page find the patient as the last request left it; rendering it again
(reading its records, shaping the panels, drawing the charts, the template) costs more CPU than
everything else the request does. So the body is kept under a key that changes whenever anything it
shows could change:

- the patient's *data token* (:func:`bvall.web.derivations.patient_tokens`: every insert,
  change or deletion of any of the patient's records, or of a study-level record, writes an
  append-only history row);
- the state of the patient's alerts (:func:`bvall.store.alerts.alert_token`: raised, met or not
  met, acknowledged);
- the day (the study day, what is due, planned days that fall due);
- the viewer's permissions (the links and forms the page offers);
- the code that renders it (a digest of bvall's installed files and its version) and the URL
  prefix the app is served under.

A key is only ever looked up with tokens read *before* the page's own reads, and a body is only
kept under the tokens its data were read at (:func:`bvall.web.derivations.read_consistent`), so a
kept body is never older than the data at its key. The tokens only grow, so a key of older data
is never asked for again.

Bodies are kept in the worker (the last :data:`MAX_CHARS` characters of them) and in the database
(:class:`bvall.store.models.RenderedPage`), so that after a save the first worker to show the
patient renders the body once for every worker. The table holds derived HTML, not study data: it
has no history and may be emptied at any time. The CSRF token of the viewer's session is not in
the body kept: it is rendered as :data:`CSRF_MARK` and put in place when served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections import OrderedDict
from functools import cache
from pathlib import Path
from typing import Any

_log = logging.getLogger("bvall.web.rendered")

#: What the body holds where the viewer's CSRF token goes. Escaped text never contains ``<``, so
#: no value entered can produce it.
CSRF_MARK = "<bvall-csrf-token/>"
#: Characters of rendered bodies a worker keeps in memory (the least recently used go first).
MAX_CHARS = 64 * 1024 * 1024

_KEPT: OrderedDict[str, str] = OrderedDict()
_KEPT_CHARS = [0]
_LOCK = threading.Lock()


@cache
def code_digest() -> str:
    """A digest of the code that renders a page: bvall's version and every installed file of the
    package (modules, templates, rule files), read once per process."""
    import bvall

    root = Path(bvall.__file__).resolve().parent
    h = hashlib.sha256(bvall.__version__.encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def page_key(
    patient_id: str,
    data_token: tuple[Any, ...],
    alert_token: tuple[Any, ...],
    permissions: dict[str, bool],
    today: dt.date,
) -> tuple[str, str]:
    """The key of a patient's body, and the part of it without the viewer's permissions."""
    from django.urls import get_script_prefix

    made_of = (patient_id, data_token, alert_token, today.isoformat())
    data = hashlib.sha256(repr((made_of, get_script_prefix(), code_digest())).encode()).hexdigest()
    full = hashlib.sha256(f"{data}|{sorted(permissions.items())!r}".encode()).hexdigest()
    return full, data


def kept_body(key: str) -> str | None:
    """The body kept under ``key``: in this worker, else in the database; ``None`` if neither
    has it."""
    with _LOCK:
        html = _KEPT.get(key)
        if html is not None:
            _KEPT.move_to_end(key)
            return html
    from bvall.store.models import RenderedPage

    html = RenderedPage.objects.filter(key=key).values_list("html", flat=True).first()
    if html is not None:
        _keep_here(key, html)
    return html


def keep_body(key: str, data_key: str, patient_id: str, html: str) -> None:
    """Keep ``html`` under ``key`` in this worker and in the database, where it replaces the
    patient's bodies of other data. A database that refuses the write (busy, read-only) costs
    the next worker a render; it never fails the page."""
    from django.db import DatabaseError, connection, transaction
    from django.utils import timezone

    from bvall.store.models import RenderedPage

    _keep_here(key, html)
    try:
        alone = not connection.in_atomic_block
        with transaction.atomic():
            if alone and connection.vendor == "postgresql":
                # derived HTML, not study data: a crash may lose the row (the next page renders
                # it again), so the page does not wait for the write-ahead log to reach the
                # disk (on its own transaction only; a save's commit is not touched)
                with connection.cursor() as cur:
                    cur.execute("SET LOCAL synchronous_commit TO OFF")
            RenderedPage.objects.filter(patient_id=patient_id).exclude(data_key=data_key).delete()
            RenderedPage.objects.bulk_create(
                [
                    RenderedPage(
                        key=key,
                        patient_id=patient_id,
                        data_key=data_key,
                        html=html,
                        made=timezone.now(),
                    )
                ],
                ignore_conflicts=True,
            )
    except DatabaseError as exc:
        _log.warning("the page of %s was not kept in the database: %s", patient_id, exc)


def _keep_here(key: str, html: str) -> None:
    with _LOCK:
        old = _KEPT.pop(key, None)
        if old is not None:
            _KEPT_CHARS[0] -= len(old)
        _KEPT[key] = html
        _KEPT_CHARS[0] += len(html)
        while _KEPT_CHARS[0] > MAX_CHARS and len(_KEPT) > 1:
            _, dropped = _KEPT.popitem(last=False)
            _KEPT_CHARS[0] -= len(dropped)


def with_csrf(html: str, token: str) -> str:
    """A kept body with the viewer's CSRF token in place."""
    from django.utils.html import escape

    return html.replace(CSRF_MARK, escape(token))


def clear() -> None:
    """Forget the bodies this worker keeps (tests; the database's rows are keyed by content)."""
    with _LOCK:
        _KEPT.clear()
        _KEPT_CHARS[0] = 0
