"""Episodes from dated records: gaps-and-islands over a patient's time axis, in Ibis."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from bvall.criteria.expressions import Workspace, clock, minutes_of, study_day


def timed_records(ws: Workspace, name: str, columns: Sequence[str]) -> ir.Table:
    """``patient_id, day, time, clock`` and ``columns`` of the records of cohort table ``name``
    that have a study day (recorded, or from the date and the patient's D1).

    Only the columns a derivation reads are carried, which keeps its SQL short.
    """
    t = ws.table(name)
    t = t.select("patient_id", "date", "study_day", "time", *columns)
    joined = t.left_join(ws.d1(), "patient_id")
    dated = joined.select("patient_id", "time", *columns, day=study_day(joined))
    dated = dated.filter(dated.day.notnull())
    return dated.mutate(clock=clock(dated.day, minutes_of(dated.time)))


def islands(t: ir.Table, time: str, gap_minutes: float) -> ir.Table:
    """Number runs of records (per patient, in time order) whose consecutive gaps are at most
    ``gap_minutes``: adds ``island`` (1, 2, ...)."""
    w = ibis.window(group_by=t.patient_id, order_by=t[time])
    prev = t[time].lag().over(w)
    flagged = t.mutate(_new=(prev.isnull() | ((t[time] - prev) > gap_minutes)).cast("int64"))
    running = ibis.window(group_by=flagged.patient_id, order_by=flagged[time], rows=(None, 0))
    return flagged.mutate(island=flagged._new.sum().over(running)).drop("_new")


def hhmm(minute: ir.IntegerValue) -> ir.StringValue:
    """``HH:MM`` from minutes after midnight."""
    return (
        (minute // 60).cast("string").lpad(2, "0") + ":" + (minute % 60).cast("string").lpad(2, "0")
    )


def day_time_text(day: ir.IntegerValue, minute: ir.IntegerValue) -> ir.StringValue:
    """``D1 16:00`` (or ``D1`` with no time)."""
    hh = (minute // 60).cast("string").lpad(2, "0")
    mm = (minute % 60).cast("string").lpad(2, "0")
    head = ibis.literal("D") + day.cast("string")
    return ibis.ifelse(minute.isnull(), head, head + " " + hh + ":" + mm)


def day_time_label(day: ir.IntegerValue, time: ir.StringValue) -> ir.StringValue:
    """``D1 16:00`` (or ``D1`` with no time) from a study day and an ``HH:MM`` time.

    The same text as :func:`day_time_text` for a validated time (``hhmm`` of its minutes gives
    the time back), in a shorter expression.
    """
    return ibis.literal("D") + day.cast("string") + (ibis.literal(" ") + time).fill_null("")


def number_episodes(t: ir.Table, start: str) -> ir.Table:
    """Add ``episode`` (1, 2, ... per patient in order of ``start``)."""
    w = ibis.window(group_by=t.patient_id, order_by=t[start])
    return t.mutate(episode=(ibis.row_number().over(w) + 1).cast("int64"))
