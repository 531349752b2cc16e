"""Time-to-event endpoints per patient: CR, relapse, death, last contact, OS and RFS
(definitions in ``data/endpoints.toml``).

Times are study days (D1 = 1); durations are days since D1 (``os_days = day - 1``) or since the
first CR (``rfs_days = day - cr_day``). A patient with no follow-up information at all has every
follow-up column missing: nothing is assumed.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bvall.criteria.expressions import Workspace


def _event_days(ws: Workspace) -> ir.Table:
    f = ws.with_day("follow_up_events")
    return f.filter(f.day.notnull())


def last_seen(ws: Workspace, doses: ir.Table) -> ir.Table:
    """``l_patient, last_day``: the latest study day of any dated record of the patient."""
    parts = []
    for name in ("follow_up_events", "marrow_assessments", "labs", "vitals", "neuro_assessments"):
        t = ws.with_day(name)
        t = t.filter(t.day.notnull())
        parts.append(t.select(l_patient=t.patient_id, l_day=t.day.cast("int64")))
    parts.append(doses.select(l_patient=doses.patient_id, l_day=doses.end_day.cast("int64")))
    allp = ibis.union(*parts)
    return allp.group_by("l_patient").aggregate(last_day=allp.l_day.max())


def follow_up(ws: Workspace, responses: ir.Table, doses: ir.Table) -> ir.Table:
    """Per patient: ``cr_day, relapse, relapse_day, relapse_days_after_cr, death, death_day,
    last_contact_day, os_days, os_event, rfs_days, rfs_event`` (key ``f_patient``)."""
    cr = responses.filter(responses.response_derived == "CR")
    cr = cr.group_by("patient_id").aggregate(cr_day=cr.day.min()).rename(c_patient="patient_id")
    marrow_relapse = responses.filter(responses.response_derived == "relapse")
    marrow_relapse = (
        marrow_relapse.group_by("patient_id")
        .aggregate(mr_day=marrow_relapse.day.min())
        .rename(r_patient="patient_id")
    )
    ev = _event_days(ws)
    rel = ev.filter(ev.event == "relapse")
    rel = rel.group_by("patient_id").aggregate(er_day=rel.day.min()).rename(e_patient="patient_id")
    death = ev.filter(ev.event == "death")
    death = (
        death.group_by("patient_id")
        .aggregate(death_day=death.day.min())
        .rename(d_patient="patient_id")
    )
    has_fu = ws.table("follow_up_events").select(h_patient="patient_id").distinct()
    seen = last_seen(ws, doses)
    p = ws.table("patients").select(f_patient="patient_id")
    p = p.left_join(cr, p.f_patient == cr.c_patient).drop("c_patient")
    p = p.left_join(marrow_relapse, p.f_patient == marrow_relapse.r_patient).drop("r_patient")
    p = p.left_join(rel, p.f_patient == rel.e_patient).drop("e_patient")
    p = p.left_join(death, p.f_patient == death.d_patient).drop("d_patient")
    p = p.left_join(has_fu, p.f_patient == has_fu.h_patient)
    p = p.left_join(seen, p.f_patient == seen.l_patient).drop("l_patient")
    followed = p.h_patient.notnull()
    relapse_day = ibis.least(p.mr_day, p.er_day)
    relapse_day = ibis.cases(
        (p.mr_day.isnull(), p.er_day), (p.er_day.isnull(), p.mr_day), else_=relapse_day
    )
    last = ibis.ifelse(p.death_day.notnull(), p.death_day, p.last_day)
    relapse = ibis.cases(
        (relapse_day.notnull(), ibis.literal(True)),
        (followed, ibis.literal(False)),
        else_=ibis.null("boolean"),
    )
    dead = ibis.cases(
        (p.death_day.notnull(), ibis.literal(True)),
        (followed, ibis.literal(False)),
        else_=ibis.null("boolean"),
    )
    rfs_end = ibis.cases(
        (relapse_day.notnull(), relapse_day),
        (p.death_day.notnull(), p.death_day),
        else_=p.last_day,
    )
    rfs_event = ibis.ifelse(relapse_day.notnull() | p.death_day.notnull(), True, False)
    return p.select(
        "f_patient",
        cr_day=p.cr_day,
        relapse=relapse,
        relapse_day=relapse_day,
        relapse_days_after_cr=(relapse_day - p.cr_day).cast("int64"),
        death=dead,
        death_day=p.death_day,
        last_contact_day=ibis.ifelse(followed, last, ibis.null("int64")),
        os_days=ibis.ifelse(followed, last - 1, ibis.null("int64")).cast("int64"),
        os_event=dead,
        rfs_days=ibis.ifelse(
            followed & p.cr_day.notnull(), rfs_end - p.cr_day, ibis.null("int64")
        ).cast("int64"),
        rfs_event=ibis.ifelse(followed & p.cr_day.notnull(), rfs_event, ibis.null("boolean")),
    )
