"""Alerts that stay until seen: raised with the save that produced the value, closed only by a
clinician's acknowledgement.

Every value that meets an alert rule (:mod:`bvall.criteria.alerts`) raises one stored
:class:`~bvall.store.models.Alert`, whatever day it was measured and whenever it was entered: a
value entered late for an earlier day raises its alert like any other. :func:`raise_alerts` runs
inside the transaction of every write (record saves, imports, loads), so an alert exists exactly
when the data that raise it do. An alert is identified by the patient and a key made of the rule,
the CTCAE term, the day and time and the value as entered; saving the same data again raises
nothing new. A correction or deletion after which the value no longer meets the rule marks the
alert ``met = False`` with the reason; the alert itself is never deleted, and it stays open until
acknowledged (:func:`acknowledge_alert`: who, when, an optional note; append-only).

Who may see an alert, and who may acknowledge one, is decided by :mod:`bvall.store.access`: the
users who see the patient; acknowledging needs a role that may enter data (or an administrator).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models.functions import RowNumber
from django.utils import timezone

from bvall.errors import InputError
from bvall.store import access
from bvall.store.models import Alert, AlertAcknowledgement, Lab

#: States the alert list can be asked for.
STATES = ("open", "acknowledged", "all")
MAX_NOTE = 2000


def _when(day: Any, time: Any) -> str:
    return ("day ?" if day is None else f"D{day}") + (f" {time}" if time else "")


def alert_key(a: dict[str, Any]) -> str:
    """The stable identity of an alert of one patient: rule, term, day and time, value as entered
    (the same value saved again is the same alert; a corrected value is a new one)."""
    value = f"{a['qualifier'] or ''}{a['value']!r} {a['unit']}"
    when = f"{a['day']}|{a['time'] or a.get('timepoint') or ''}"
    return f"{a['alert_rule'].rule_id}|{a['term_id']}|{when}|{value}"


def derive_alert_candidates(cohort: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Per patient of ``cohort``, the alerts its data raise now, by :func:`alert_key`."""
    from bvall.criteria import derive
    from bvall.criteria.alerts import classify_lab_alerts

    by_patient: dict[str, list[dict[str, Any]]] = {
        pid: [] for pid in cohort["patients"].column("patient_id").to_pylist()
    }
    for g in derive(cohort, "grades").to_pylist():
        by_patient.setdefault(g["patient_id"], []).append(g)
    return {
        pid: {alert_key(a): a for a in classify_lab_alerts(grades)}
        for pid, grades in by_patient.items()
    }


def _text(a: dict[str, Any]) -> str:
    when = _when(a["day"], a["time"])
    if a["value"] is not None:
        when += f": {a['qualifier'] or ''}{a['value']:g} {a['unit'] or ''}".rstrip()
    text = f"{a['term']} grade {a['grade']} ({when})"
    p = a.get("previous")
    if p is not None:
        text += f", up from grade {p['grade']} ({_when(p['day'], p['time'])})"
    return text


def _lab_index(
    patient_ids: list[str], tests: set[str]
) -> dict[tuple[str, str, Any, Any], list[tuple[int, Any, Any]]]:
    """The lab records of ``patient_ids`` for ``tests``, by (patient, test, value, unit)."""
    out: dict[tuple[str, str, Any, Any], list[tuple[int, Any, Any]]] = {}
    rows = Lab.objects.filter(patient_id__in=patient_ids, test__in=sorted(tests)).values_list(
        "pk", "patient_id", "test", "value", "unit", "study_day", "time"
    )
    for pk, pid, test, value, unit, day, time in rows:
        out.setdefault((pid, test, value, unit), []).append((pk, day, time))
    return out


def _source_record(
    index: dict[tuple[str, str, Any, Any], list[tuple[int, Any, Any]]],
    patient_id: str,
    a: dict[str, Any],
) -> int | None:
    """The lab record that holds the value (the one of that day when several match); ``None``
    for a clinical grade (febrile neutropenia, infection), which several records make."""
    if a.get("kind", "lab") != "lab":
        return None
    rows = index.get((patient_id, a["test"], a["value"], a["unit"]), [])
    same_time = [r for r in rows if (r[2] or None) == (a["time"] or None)] or rows
    same_day = [r for r in same_time if r[1] == a["day"]] or same_time
    return min(r[0] for r in same_day) if same_day else None


#: Patients derived together when alerts are raised for many (an import, ``bvall db load``).
BATCH = 1000


def raise_alerts(patient_ids: Iterable[str], user: Any = None) -> list[Alert]:
    """Bring the stored alerts of ``patient_ids`` in line with their data as they are now in this
    transaction: raise the new ones, mark those whose value no longer meets their rule, and mark
    again those that meet it again. The new alerts are returned. Call inside the transaction of
    the write (every writer in :mod:`bvall.store.records` and :mod:`bvall.store.convert` does)."""
    ids = sorted({p for p in patient_ids if p})
    now = timezone.now()
    who = user if getattr(user, "is_authenticated", False) else None
    new: list[Alert] = []
    for start in range(0, len(ids), BATCH):
        new += _raise_batch(ids[start : start + BATCH], now, who)
    return new


def _raise_batch(ids: list[str], now: Any, who: Any) -> list[Alert]:
    from simple_history.utils import bulk_create_with_history

    from bvall.store.convert import read_database

    candidates = derive_alert_candidates(read_database(ids, validate=False))
    stored: dict[tuple[str, str], Alert] = {
        (a.patient_id, a.key): a for a in Alert.objects.filter(patient_id__in=ids)
    }
    fresh = [
        (pid, key, a)
        for pid in ids
        for key, a in candidates.get(pid, {}).items()
        if (pid, key) not in stored
    ]
    index = _lab_index(ids, {a["test"] for _, _, a in fresh if a["test"]}) if fresh else {}
    new = []
    for pid, key, a in fresh:
        rule = a["alert_rule"]
        lab = a.get("kind", "lab") == "lab"
        new.append(
            Alert(
                patient_id=pid,
                key=key,
                rule_id=rule.rule_id,
                rule_version=rule.rule_version,
                rule_source=rule.source,
                grade_rule_id=a["rule_id"],
                grade_rule_version=a["rule_version"],
                term=a["term"],
                test=a["test"] or "",
                day=a["day"],
                time=a["time"] or "",
                grade=a["grade"],
                text=_text(a),
                explanation=a["explanation"] or "",
                # a clinical grade (febrile neutropenia, infection) combines several records
                source_table="labs" if lab else "clinical",
                source_record=_source_record(index, pid, a),
                raised=now,
                raised_by=who,
            )
        )
    if new:
        new = bulk_create_with_history(
            new,
            Alert,
            batch_size=500,
            default_user=who,
            default_change_reason="raised by the save of the value",
        )
    for (pid, key), old in stored.items():
        found = candidates.get(pid, {})
        if key in found and not old.met:
            _set_met(old, True, now, who, "the value meets the rule again")
        elif key not in found and old.met:
            _set_met(
                old,
                False,
                now,
                who,
                "the value no longer meets the rule (corrected or deleted); "
                "the alert is kept until acknowledged",
            )
    return new


def _set_met(alert: Alert, met: bool, when: Any, who: Any, note: str) -> None:
    alert.met = met
    alert.met_changed = when
    alert.met_note = note
    alert._history_user = who
    alert._change_reason = note
    alert.save(update_fields=["met", "met_changed", "met_note"])


def visible_alerts(
    user: Any, *, patient: str | None = None, state: str = "open"
) -> models.QuerySet[Alert]:
    """The alerts of the patients ``user`` may see, in ``state`` (open, acknowledged, all)."""
    if state not in STATES:
        raise InputError(f"Alert state {state!r} is not known; states: {', '.join(STATES)}.")
    qs = Alert.objects.filter(
        patient_id__in=access.visible_patients(user).values("patient_id")
    ).select_related("acknowledgement__user")
    if patient:
        qs = qs.filter(patient_id=patient)
    if state == "open":
        qs = qs.filter(acknowledgement__isnull=True)
    elif state == "acknowledged":
        qs = qs.filter(acknowledgement__isnull=False)
    return qs.order_by("patient_id", models.F("day").asc(nulls_first=True), "time", "pk")


def newest_open_alerts(
    user: Any, patient_ids: list[str], newest: int
) -> dict[str, tuple[int, list[Alert]]]:
    """Per patient of ``patient_ids`` that has open alerts the user may see: how many, and the
    ``newest`` of them (the last raised first). Read as a count per patient and at most
    ``newest`` rows a patient, not as every open alert: a patient list must not build every
    alert of every patient (1,100 for the example cohort, 47 ms a list) to name three each."""
    if not patient_ids:
        return {}
    qs = visible_alerts(user, state="open").filter(patient_id__in=patient_ids)
    counts = dict(
        qs.order_by()
        .values("patient_id")
        .annotate(n=models.Count("pk"))
        .values_list("patient_id", "n")
    )
    rank = models.Window(
        RowNumber(),
        partition_by=[models.F("patient_id")],
        order_by=[models.F("raised").desc(), models.F("pk").desc()],
    )
    out: dict[str, tuple[int, list[Alert]]] = {pid: (n, []) for pid, n in counts.items()}
    for a in (
        qs.annotate(_newest=rank)
        .filter(_newest__lte=newest)
        .order_by("patient_id", "-raised", "-pk")
    ):
        out[a.patient_id][1].append(a)
    return out


def acknowledge_alert(user: Any, alert_id: int, note: str = "") -> AlertAcknowledgement:
    """Close alert ``alert_id``: the user has seen it. Needs a role that may enter data (or an
    administrator) and a patient the user may see (otherwise answered as an alert that does not
    exist). An alert is acknowledged once; a second acknowledgement is refused, naming the first.
    """
    access.require(user, "edit")
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise InputError(f"The note is {len(text)} characters long; at most {MAX_NOTE}.")
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update()
            .filter(pk=alert_id, patient_id__in=access.visible_patients(user).values("patient_id"))
            .first()
        )
        if alert is None:
            raise InputError(f"No alert {alert_id!r} that you may see.")
        done = AlertAcknowledgement.objects.filter(alert=alert).select_related("user").first()
        if done is not None:
            raise InputError(
                f"Alert {alert_id} was already acknowledged by {done.user} at "
                f"{done.acknowledged:%Y-%m-%d %H:%M:%S %Z}."
            )
        try:
            with transaction.atomic():
                return AlertAcknowledgement.objects.create(alert=alert, user=user, note=text)
        except IntegrityError:  # acknowledged by someone else at the same moment
            raise InputError(
                f"Alert {alert_id} was acknowledged by someone else just now."
            ) from None


def alert_row(a: Alert) -> dict[str, Any]:
    """An alert as the API and the pages show it."""
    # the reverse one-to-one raises an AttributeError subclass when there is none
    ack = getattr(a, "acknowledgement", None)
    return {
        "id": a.pk,
        "patient_id": a.patient_id,
        "state": "acknowledged" if ack is not None else "open",
        "text": a.text,
        "explanation": a.explanation,
        "rule_id": a.rule_id,
        "rule_version": a.rule_version,
        "rule_source": a.rule_source,
        "grade_rule_id": a.grade_rule_id,
        "grade_rule_version": a.grade_rule_version,
        "term": a.term,
        "test": a.test,
        "day": a.day,
        "time": a.time or None,
        "grade": a.grade,
        "source": {"table": a.source_table, "record": a.source_record},
        "raised": a.raised.isoformat(),
        "met": a.met,
        "met_note": a.met_note or None,
        "acknowledged_by": ack.user.username if ack is not None else None,
        "acknowledged": ack.acknowledged.isoformat() if ack is not None else None,
        "note": ack.note if ack is not None else None,
    }


def alert_token(patient_id: str) -> tuple[Any, ...]:
    """A token that changes whenever an alert of ``patient_id`` is raised, marked met or not
    met, or acknowledged: the count and last id of the patient's alert history rows and of their
    acknowledgements (both append-only). One statement of two indexed aggregates."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(_alert_token_statement(connection.vendor), [patient_id, patient_id])
        rows = cur.fetchall()
    return tuple((i, n, last) for i, n, last in sorted(rows))


@lru_cache(maxsize=4)
def _alert_token_statement(vendor: str) -> str:
    """The statement of :func:`alert_token` on a database of ``vendor`` (the models' own table and
    column names, quoted; the patient passed twice as a parameter). The ORM cannot express a
    union of aggregates over two models in one statement."""
    from django.db import connection

    q = connection.ops.quote_name
    hist = Alert.history.model._meta
    ack, alert = AlertAcknowledgement._meta, Alert._meta
    alert_fk = q(ack.get_field("alert").column)
    return (
        f"SELECT 0, COUNT(*), MAX({q(hist.pk.column)}) FROM {q(hist.db_table)} "
        f"WHERE {q('patient_id')} = %s UNION ALL "
        f"SELECT 1, COUNT(*), MAX(k.{q(ack.pk.column)}) FROM {q(ack.db_table)} k "
        f"JOIN {q(alert.db_table)} a ON k.{alert_fk} = a.{q(alert.pk.column)} "
        f"WHERE a.{q('patient_id')} = %s"
    )
