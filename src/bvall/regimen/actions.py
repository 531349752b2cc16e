"""Hold / resume / discontinue decisions from the labels (``data/rules/dose_actions.toml``).

``classify_dose_action(agent="blinatumomab", event="crs", grade=3)`` returns the action
("hold blinatumomab: CRS grade 3"), what to do next and the label text it rests on. Grades come
from whoever calls (the criteria engine once graded events exist); nothing here grades.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from bvall.errors import InputError, SpecError, UnknownNameError, suggest

ActionKind = Literal[
    "continue", "hold", "discontinue", "consider_discontinuation", "needs_information"
]
_VERBS = {
    "continue": "continue",
    "hold": "hold",
    "discontinue": "discontinue",
    "consider_discontinuation": "consider discontinuing",
    "needs_information": "decide",
}
_WHEN_KEYS = {
    "grades",
    "x_uln_above",
    "analyte",
    "in_remission",
    "occurrence",
    "resolved_within_hours_max",
    "resolved_after_hours_min",
    "at_dose_step",
    "count_min",
    "count_max",
}


@dataclass(frozen=True)
class ActionRule:
    id: str
    agent: str
    event: str
    when: Mapping[str, Any]
    action: ActionKind
    then: str
    source: str
    status: str


@dataclass(frozen=True)
class DoseAction:
    """The decision for one event: ``action`` (continue, hold, discontinue,
    consider_discontinuation, needs_information), a one-line ``summary`` such as
    "hold blinatumomab: CRS grade 3", what to do next (``then``), the rule id and its source."""

    agent: str
    event: str
    grade: int | None
    action: ActionKind
    summary: str
    then: str
    rule_id: str | None
    source: str
    status: str = ""
    missing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "event": self.event,
            "grade": self.grade,
            "action": self.action,
            "summary": self.summary,
            "then": self.then,
            "rule_id": self.rule_id,
            "source": self.source,
            "status": self.status,
            "missing": list(self.missing),
        }


@dataclass(frozen=True)
class _Table:
    events: Mapping[str, tuple[str, tuple[str, ...]]]  # id -> (label, aliases)
    rules: tuple[ActionRule, ...]


@cache
def _load() -> _Table:
    file = "dose_actions.toml"
    path = resources.files("bvall.regimen") / "data" / "rules" / file
    raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    events = {
        e["id"]: (e["label"], tuple(a.lower() for a in e.get("aliases", ()))) for e in raw["event"]
    }
    rules = []
    for r in raw["rule"]:
        where = f"{file}: [[rule]] {r.get('id')!r}"
        if not r.get("source") or not r.get("then"):
            raise SpecError(f"{where}: needs 'then' and a 'source'.")
        if r["event"] not in events:
            raise SpecError(f"{where}: unknown event {r['event']!r}; declare it as [[event]].")
        if r["action"] not in _VERBS:
            raise SpecError(
                f"{where}: action {r['action']!r}; expected one of {', '.join(_VERBS)}."
            )
        bad = set(r.get("when", {})) - _WHEN_KEYS
        if bad:
            raise SpecError(
                f"{where}: unknown 'when' key {sorted(bad)[0]!r}; accepted: {sorted(_WHEN_KEYS)}."
            )
        rules.append(
            ActionRule(
                r["id"],
                r["agent"],
                r["event"],
                r.get("when", {}),
                r["action"],
                r["then"],
                r["source"],
                r.get("status", ""),
            )
        )
    return _Table(events, tuple(rules))


def dose_action_rules() -> tuple[ActionRule, ...]:
    """Every hold/resume rule, as loaded (for listings and documentation)."""
    return _load().rules


def _event_id(event: str) -> str:
    table = _load()
    key = event.strip().lower()
    for eid, (_label, aliases) in table.events.items():
        if key == eid or key in aliases:
            return eid
    names = list(table.events)
    raise UnknownNameError(
        f"event {event!r} is not known{suggest(key, names)} Accepted: {', '.join(names)}."
    )


def classify_dose_action(
    agent: str,
    event: str,
    grade: int | None = None,
    *,
    x_uln: float | None = None,
    analyte: str | None = None,
    in_remission: bool | None = None,
    occurrence: str | None = None,
    resolution_hours: float | None = None,
    dose_step: str | None = None,
    count: int | None = None,
) -> DoseAction:
    """What the label says to do with ``agent`` after ``event`` of ``grade``.

    Context a rule may need: ``x_uln`` and ``analyte`` ("transaminases" or "bilirubin") for liver
    enzymes; ``in_remission`` for venetoclax cytopenias; ``resolution_hours`` for laboratory TLS;
    ``dose_step`` ("low" = 9 µg/day or "full") for blinatumomab neurological toxicity; ``count``
    (events so far, this one included) for seizures. Missing context a rule needs gives
    ``action == "needs_information"`` naming it, never a guess. An event the label gives no
    modification for gives ``continue`` with the source that was consulted.
    """
    table = _load()
    eid = _event_id(event)
    label = table.events[eid][0]
    agents = sorted({r.agent for r in table.rules})
    if agent not in agents:
        raise UnknownNameError(
            f"agent {agent!r} has no dose-action rules{suggest(agent, agents)} Accepted: "
            f"{', '.join(agents)}."
        )
    if grade is not None and (
        not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 5
    ):
        raise InputError(f"grade {grade!r} is not accepted; expected a whole number from 1 to 5.")
    context: dict[str, Any] = {
        "grade": grade,
        "x_uln": x_uln,
        "analyte": analyte,
        "in_remission": in_remission,
        "occurrence": occurrence,
        "resolution_hours": resolution_hours,
        "dose_step": dose_step,
        "count": count,
    }
    matched: list[ActionRule] = []
    missing: set[str] = set()
    candidates = [r for r in table.rules if r.agent == agent and r.event == eid]
    for r in candidates:
        ok, need = _matches(r.when, context)
        if ok:
            matched.append(r)
        elif need:
            missing.update(need)
    what = f"{label}" + (f" grade {grade}" if grade is not None else "")
    if matched:
        # Several matching rules: the most severe action wins (discontinue > hold > continue).
        order = ["discontinue", "consider_discontinuation", "hold", "continue"]
        r = min(matched, key=lambda x: order.index(x.action))
        return DoseAction(
            agent,
            eid,
            grade,
            r.action,
            f"{_VERBS[r.action]} {agent}: {what}",
            r.then,
            r.id,
            r.source,
            r.status,
        )
    if missing:
        needed = tuple(sorted(missing))
        return DoseAction(
            agent,
            eid,
            grade,
            "needs_information",
            f"decide {agent}: {what} (needs {', '.join(needed)})",
            f"The label's rule for {label} depends on {', '.join(needed)}; give it to decide.",
            None,
            "; ".join(sorted({r.source for r in candidates})),
            missing=needed,
        )
    consulted = "; ".join(sorted({r.source for r in table.rules if r.agent == agent}))
    return DoseAction(
        agent,
        eid,
        grade,
        "continue",
        f"continue {agent}: {what} (no label dose modification)",
        f"The label lists no dose modification for {what}; manage per local guidance.",
        None,
        consulted,
    )


def _matches(when: Mapping[str, Any], ctx: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """(rule matches, context it needs but did not get)."""
    need: list[str] = []
    ok = True

    def have(key: str) -> bool:
        if ctx[key] is None:
            need.append(key)
            return False
        return True

    if "grades" in when:
        lo, hi = when["grades"]
        if have("grade"):
            ok &= lo <= ctx["grade"] <= hi
    if "x_uln_above" in when and have("x_uln"):
        ok &= ctx["x_uln"] > when["x_uln_above"]
    if "analyte" in when and have("analyte"):
        ok &= ctx["analyte"] == when["analyte"]
    if "in_remission" in when and have("in_remission"):
        ok &= ctx["in_remission"] is when["in_remission"]
    if "occurrence" in when and have("occurrence"):
        ok &= ctx["occurrence"] == when["occurrence"]
    if "resolved_within_hours_max" in when and have("resolution_hours"):
        ok &= ctx["resolution_hours"] <= when["resolved_within_hours_max"]
    if "resolved_after_hours_min" in when and have("resolution_hours"):
        ok &= ctx["resolution_hours"] > when["resolved_after_hours_min"]
    if "at_dose_step" in when and have("dose_step"):
        ok &= ctx["dose_step"] == when["at_dose_step"]
    if "count_min" in when and have("count"):
        ok &= ctx["count"] >= when["count_min"]
    if "count_max" in when and ctx["count"] is not None:
        ok &= ctx["count"] <= when["count_max"]
    if need and not ok:
        # A condition we could check already fails: the missing context does not matter.
        return False, []
    return (ok and not need), need
