"""Trial monitoring on the web: each registered design evaluated on the current data.

The evaluation is :func:`bvall.store.monitoring.evaluate_plan` (the trial design engine) on the
database read once per data version; this module only caches it and shapes the rows.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import Any

from bvall.web.derivations import database_snapshot
from bvall.web.panels import Panel, available_panel

_LOCK = threading.Lock()
_EVALUATIONS: OrderedDict[tuple[str, int, str, dt.date], Any] = OrderedDict()


def clear_cache() -> None:
    with _LOCK:
        _EVALUATIONS.clear()


def monitoring_evaluations() -> list[tuple[Any, Any]]:
    """Each active monitoring plan with its evaluation on the whole database, cached by the
    data's fingerprint."""
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
        with _LOCK:
            hit = _EVALUATIONS.get(key)
            if hit is None:
                hit = evaluate_plan(plan, snap.cohort, key[3])
                _EVALUATIONS[key] = hit
                while len(_EVALUATIONS) > 16:
                    _EVALUATIONS.popitem(last=False)
        out.append((plan, hit))
    return out


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
    return available_panel("trial_monitoring", rows, msg)
