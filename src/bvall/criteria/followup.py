"""Time-to-event endpoints per patient: CR, relapse, death, last contact, OS and RFS
(definitions in ``data/endpoints.toml``).

Times are study days (D1 = 1); durations are days since D1 (``os_days = day - 1``) or since the
first CR (``rfs_days = day - cr_day``). A patient with no follow-up information at all has every
follow-up column missing: nothing is assumed.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

#: Cohort tables whose dated records show the patient was seen (last contact), besides doses.
SEEN_IN = ("follow_up_events", "marrow_assessments", "labs", "vitals", "neuro_assessments")


def follow_up_columns(
    *,
    cr_day: ir.IntegerValue,
    relapse_day: ir.IntegerValue,
    death_day: ir.IntegerValue,
    followed: ir.BooleanValue,
    last_day: ir.IntegerValue,
) -> dict[str, ir.Value]:
    """``cr_day, relapse, relapse_day, relapse_days_after_cr, death, death_day,
    last_contact_day, os_days, os_event, rfs_days, rfs_event`` of a patient from: the first
    derived CR day, the first relapse day (a derived marrow relapse or a relapse event of
    follow-up, whichever is earlier), the first death event day, whether the patient has any
    follow-up record (``followed``, never NULL) and the latest day of any dated record
    (:data:`SEEN_IN`, dose ends)."""
    last = ibis.ifelse(death_day.notnull(), death_day, last_day)
    relapse = ibis.cases(
        (relapse_day.notnull(), ibis.literal(True)),
        (followed, ibis.literal(False)),
        else_=ibis.null("boolean"),
    )
    dead = ibis.cases(
        (death_day.notnull(), ibis.literal(True)),
        (followed, ibis.literal(False)),
        else_=ibis.null("boolean"),
    )
    rfs_end = ibis.cases(
        (relapse_day.notnull(), relapse_day),
        (death_day.notnull(), death_day),
        else_=last_day,
    )
    rfs_event = ibis.ifelse(relapse_day.notnull() | death_day.notnull(), True, False)
    return {
        "cr_day": cr_day,
        "relapse": relapse,
        "relapse_day": relapse_day,
        "relapse_days_after_cr": (relapse_day - cr_day).cast("int64"),
        "death": dead,
        "death_day": death_day,
        "last_contact_day": ibis.ifelse(followed, last, ibis.null("int64")),
        "os_days": ibis.ifelse(followed, last - 1, ibis.null("int64")).cast("int64"),
        "os_event": dead,
        "rfs_days": ibis.ifelse(
            followed & cr_day.notnull(), rfs_end - cr_day, ibis.null("int64")
        ).cast("int64"),
        "rfs_event": ibis.ifelse(followed & cr_day.notnull(), rfs_event, ibis.null("boolean")),
    }
